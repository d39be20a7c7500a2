import Foundation

/// URL text handling for requests built from templates: joining, percent-encoding, resolving
/// relative references (RFC 3986 §5) and reading `Link` headers (RFC 8288).
///
/// Kept as plain string work on purpose: Foundation's `URL` re-encodes and normalises in ways
/// that differ between platforms, and a pagination URL must be sent exactly as the API gave it.
package enum URLText {
    /// `base` + `path` with exactly one slash between them.
    package static func join(_ base: String, _ path: String) -> String {
        if path.isEmpty { return base }
        if base.isEmpty { return path }
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        var path = Substring(path)
        // A path that is only a query (`?a=1`) attaches to the base as it is.
        if path.hasPrefix("?") { return String(base) + path }
        while path.hasPrefix("/") { path = path.dropFirst() }
        return String(base) + "/" + path
    }

    /// Encodes everything but RFC 3986 unreserved characters: for query names and values and
    /// form fields, where `&`, `=`, `+` and `/` in a value must not change the meaning.
    package static func encodeComponent(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) { out.unicodeScalars.append(Unicode.Scalar(byte)) } else { appendEscape(byte, to: &out) }
        }
        return out
    }

    /// Makes a rendered URL sendable without changing what it means: bytes a URL may not contain
    /// (spaces, non-ASCII, quotes…) are escaped, while delimiters and valid `%XX` escapes stay, so a
    /// template that already used jq's `@uri` is not encoded twice.
    package static func normalize(_ url: String) -> String {
        let bytes = Array(url.utf8)
        var out = ""
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
               isHex(bytes[index + 1]), isHex(bytes[index + 2]) {
                out.unicodeScalars.append("%")
            } else if isUnreserved(byte) || allowedDelimiters.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                appendEscape(byte, to: &out)
            }
            index += 1
        }
        return out
    }

    /// Appends `name=value` pairs (encoded here) to `url`'s query.
    package static func appendingQuery(_ url: String, _ items: [(name: String, value: String)]) -> String {
        guard !items.isEmpty else { return url }
        var url = url
        let fragment: String
        if let hash = url.firstIndex(of: "#") {
            fragment = String(url[hash...])
            url = String(url[..<hash])
        } else {
            fragment = ""
        }
        let query = items.map { encodeComponent($0.name) + "=" + encodeComponent($0.value) }.joined(separator: "&")
        if let question = url.firstIndex(of: "?") {
            let hasQuery = url.index(after: question) < url.endIndex
            url += (hasQuery && !url.hasSuffix("&") ? "&" : "") + query
        } else {
            url += "?" + query
        }
        return url + fragment
    }

    /// Whether `url`'s query already has a parameter called `name` (compared decoded).
    package static func hasQueryParameter(_ url: String, named name: String) -> Bool {
        guard let parts = Parts(url), let query = parts.query else { return false }
        return query.split(separator: "&").contains { pair in
            let rawName = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return decode(String(rawName)) == name
        }
    }

    /// `scheme://host:port` in lower case with the default port made explicit, or nil.
    package static func origin(_ url: String) -> String? {
        guard let parts = Parts(url), let scheme = parts.scheme?.lowercased(), var authority = parts.authority else { return nil }
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        authority = authority.lowercased()
        // A port is digits after the last ':' (not inside an IPv6 literal's brackets). A plain scan:
        // this runs for every request the origin policy judges.
        let tail = authority.utf8.reversed().prefix { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "]") }
        let hasPort = tail.count < authority.utf8.count && !tail.isEmpty
            && authority.utf8.reversed().dropFirst(tail.count).first == UInt8(ascii: ":")
            && tail.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        if !hasPort { authority += scheme == "https" ? ":443" : scheme == "http" ? ":80" : "" }
        return scheme + "://" + authority
    }

    /// Whether `text` is an absolute URL (has a scheme).
    package static func isAbsolute(_ text: String) -> Bool { Parts(text)?.scheme != nil }

    /// Resolves `reference` against the absolute URL `base` (RFC 3986 §5.2.2, strict).
    package static func resolve(_ reference: String, against base: String) -> String {
        guard let ref = Parts(reference) else { return reference }
        if ref.scheme != nil { return Parts.recompose(ref.scheme, ref.authority, removeDotSegments(ref.path), ref.query, ref.fragment) }
        guard let base = Parts(base) else { return reference }
        let authority: String?, path: String, query: String?
        if ref.authority != nil {
            authority = ref.authority
            path = removeDotSegments(ref.path)
            query = ref.query
        } else if ref.path.isEmpty {
            authority = base.authority
            path = base.path
            query = ref.query ?? base.query
        } else {
            authority = base.authority
            if ref.path.hasPrefix("/") {
                path = removeDotSegments(ref.path)
            } else if base.authority != nil && base.path.isEmpty {
                path = removeDotSegments("/" + ref.path)
            } else {
                let directory = base.path.lastIndex(of: "/").map { String(base.path[...$0]) } ?? ""
                path = removeDotSegments(directory + ref.path)
            }
            query = ref.query
        }
        return Parts.recompose(base.scheme, authority, path, query, ref.fragment)
    }

    package static func removeDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var input = Substring(path)
        var output: [Substring] = []
        // RFC 3986 §5.2.4, on whole segments.
        let absolute = input.hasPrefix("/")
        if absolute { input = input.dropFirst() }
        let segments = input.split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            let last = index == segments.count - 1
            switch segment {
            case ".":
                if last { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if last { output.append("") }
            default:
                output.append(segment)
            }
        }
        return (absolute ? "/" : "") + output.joined(separator: "/")
    }

    /// A URL split into its five RFC 3986 components (text as written).
    package struct Parts {
        package var scheme: String?
        package var authority: String?
        package var path: String
        package var query: String?
        package var fragment: String?

        package init?(_ text: String) {
            var rest = Substring(text)
            if let hash = rest.firstIndex(of: "#") {
                fragment = String(rest[rest.index(after: hash)...])
                rest = rest[..<hash]
            }
            if let question = rest.firstIndex(of: "?") {
                query = String(rest[rest.index(after: question)...])
                rest = rest[..<question]
            }
            // A scheme is letters, digits, + - . before the first ':' and before any '/'.
            if let colon = rest.firstIndex(of: ":"), !rest[..<colon].contains("/"),
               let first = rest.first, first.isASCII, first.isLetter,
               rest[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) {
                scheme = String(rest[..<colon])
                rest = rest[rest.index(after: colon)...]
            }
            if rest.hasPrefix("//") {
                rest = rest.dropFirst(2)
                let end = rest.firstIndex(of: "/") ?? rest.endIndex
                authority = String(rest[..<end])
                rest = rest[end...]
            }
            path = String(rest)
        }

        package static func recompose(_ scheme: String?, _ authority: String?, _ path: String, _ query: String?, _ fragment: String?) -> String {
            var text = ""
            if let scheme { text += scheme + ":" }
            if let authority { text += "//" + authority }
            text += path
            if let query { text += "?" + query }
            if let fragment { text += "#" + fragment }
            return text
        }
    }

    /// Percent-decodes (no `+` rule: query names here are compared as the API wrote them).
    package static func decode(_ text: String) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count, isHex(utf8[index + 1]), isHex(utf8[index + 2]),
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let allowedDelimiters: Set<UInt8> = Set(":/?#[]@!$&'()*+,;=".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    private static func appendEscape(_ byte: UInt8, to out: inout String) {
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        out.unicodeScalars.append("%")
        out.unicodeScalars.append(hex[Int(byte >> 4)])
        out.unicodeScalars.append(hex[Int(byte & 0xF)])
    }
}

/// One link of an RFC 8288 `Link` header.
package struct WebLink: Equatable {
    package var target: String
    /// Parameter names in lower case; values unquoted.
    package var parameters: [(name: String, value: String)]

    package static func == (a: WebLink, b: WebLink) -> Bool {
        a.target == b.target && a.parameters.elementsEqual(b.parameters) { $0 == $1 }
    }

    /// The relation types of `rel` (a space-separated list, case-insensitive).
    package var relations: [String] {
        guard let rel = parameters.first(where: { $0.name == "rel" })?.value else { return [] }
        return rel.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }
    }

    /// Parses every link in one or more `Link` field values. Commas and semicolons inside `<…>`
    /// and quoted strings do not split; malformed links are skipped rather than guessed at.
    package static func parse(_ fieldValues: [String]) -> [WebLink] {
        var links: [WebLink] = []
        for value in fieldValues {
            let characters = Array(value)
            var index = 0
            func skipSpace() { while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 } }
            while index < characters.count {
                skipSpace()
                if index < characters.count, characters[index] == "," { index += 1; continue }
                guard index < characters.count else { break }
                guard characters[index] == "<" else {
                    // Not a link: skip to the next top-level comma.
                    skipToNextLink(characters, &index)
                    continue
                }
                index += 1
                var target = ""
                while index < characters.count, characters[index] != ">" { target.append(characters[index]); index += 1 }
                guard index < characters.count else { break }
                index += 1
                var parameters: [(name: String, value: String)] = []
                while true {
                    skipSpace()
                    guard index < characters.count, characters[index] == ";" else { break }
                    index += 1
                    skipSpace()
                    var name = ""
                    while index < characters.count, !"=;, \t".contains(characters[index]) { name.append(characters[index]); index += 1 }
                    skipSpace()
                    var parameterValue = ""
                    if index < characters.count, characters[index] == "=" {
                        index += 1
                        skipSpace()
                        if index < characters.count, characters[index] == "\"" {
                            index += 1
                            while index < characters.count, characters[index] != "\"" {
                                if characters[index] == "\\", index + 1 < characters.count { index += 1 }
                                parameterValue.append(characters[index])
                                index += 1
                            }
                            if index < characters.count { index += 1 }
                        } else {
                            while index < characters.count, !";, \t".contains(characters[index]) {
                                parameterValue.append(characters[index]); index += 1
                            }
                        }
                    }
                    if !name.isEmpty { parameters.append((name.lowercased(), parameterValue)) }
                }
                links.append(WebLink(target: target.trimming(" \t"), parameters: parameters))
                skipSpace()
                if index < characters.count, characters[index] != "," { skipToNextLink(characters, &index) }
            }
        }
        return links
    }

    private static func skipToNextLink(_ characters: [Character], _ index: inout Int) {
        var quoted = false
        while index < characters.count {
            let character = characters[index]
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted { return }
            index += 1
        }
    }
}

extension String {
    package func trimming(_ set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
