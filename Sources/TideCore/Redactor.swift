import Foundation

/// Removes secrets from text that may reach a log, a terminal, a metric or a bug report. It is
/// the only redaction in Tide: logs, errors, `--dry-run` output, test reports and metrics all go
/// through it, fed by one `SecretStore` per run.
///
/// What counts as a secret's occurrence:
/// - the value itself and the forms it takes on the way out: percent-encoded (a URL), JSON-escaped
///   (a body or a log line), base64 (a Basic credential is registered whole, as `user:password`'s
///   base64, by whoever builds it);
/// - a form of 8 bytes or more anywhere; a shorter one only as a whole word (not touching a letter
///   or digit on either side), so that a short secret such as `ab` never turns `table` into
///   `t***le`: redaction must not alter text that is not a secret, nor hint at one by its pattern.
///
/// Besides configured secrets, `redactURL` masks URL userinfo and the values of query parameters
/// whose names look secret (`token`, `api_key`, …, or ending in `_token`, `-key`, …).
public struct Redactor: Sendable, Hashable {
    public static let mask = "***"
    /// Forms shorter than this are matched only as whole words.
    public static let substringMinimum = 8

    /// Query parameter names treated as secret regardless of configuration (compared lowercased).
    public static let secretParameterNames: Set<String> = [
        "token", "api_key", "apikey", "api-key", "key", "password", "passwd", "secret", "access_token",
        "refresh_token", "id_token", "client_secret", "signature", "sig", "auth", "authorization",
    ]
    static let secretParameterSuffixes = ["_token", "-token", "_secret", "-secret", "_key", "-key",
                                          "_password", "-password", "_signature", "-signature"]

    /// The secrets as given (non-empty), longest first.
    public let secrets: [String]
    /// Every form searched for, longest first, so a form that contains another is masked whole.
    let forms: [[UInt8]]
    /// The longest form, in bytes: how far past a cut a secret can reach.
    public let longestForm: Int

    public init(secrets: some Sequence<String> = [String]()) {
        var given = Set<String>()
        var forms = Set<[UInt8]>()
        for secret in secrets where !secret.isEmpty {
            given.insert(secret)
            for form in Self.forms(of: secret) where !form.isEmpty { forms.insert(Array(form.utf8)) }
        }
        self.secrets = given.sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
        self.forms = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
        longestForm = self.forms.first?.count ?? 0
    }

    /// The forms a secret takes in output: itself, percent-encoded, JSON-escaped, base64.
    static func forms(of secret: String) -> [String] {
        var forms = [secret, percentEncode(secret), JSONText.escaped(secret)]
        // Percent-encoded as other encoders do it: `/` kept (Python's quote, encodeURI), or every
        // byte but letters and digits encoded (Foundation's .alphanumerics). tide record found an
        // API echoing a token in the latter form unmasked.
        forms.append(percentEncode(secret, keeping: Self.unreserved.union([UInt8(ascii: "/")])))
        forms.append(percentEncode(secret, keeping: []))
        // Hex digits in lower case are as valid (RFC 3986 §2.1) and some encoders write them.
        for form in forms where form.contains("%") { forms.append(Self.lowercasingEscapes(form)) }
        forms.append(JSONText.escaped(secret).replacingAll("/", with: "\\/"))
        let base64 = Data(secret.utf8).base64EncodedString()
        forms.append(base64)
        // Base64 without padding, and its URL-safe alphabet (JWTs, some signatures).
        let unpadded = String(base64.reversed().drop { $0 == "=" }.reversed())
        forms.append(unpadded)
        forms.append(unpadded.replacingAll("+", with: "-").replacingAll("/", with: "_"))
        return forms
    }

    /// Secrets too short to be masked anywhere they occur (only as whole words): worth a warning.
    public var shortSecrets: [String] { secrets.filter { $0.utf8.count < Self.substringMinimum } }

    /// Whether the query parameter `name` looks like it carries a credential.
    public static func isSecretParameter(_ name: String) -> Bool {
        let lower = name.lowercased()
        return secretParameterNames.contains(lower) || secretParameterSuffixes.contains { lower.hasSuffix($0) }
    }

    // MARK: Matching

    /// Byte ranges of every occurrence of a secret in `bytes`, merged, in order.
    private func occurrences(in bytes: [UInt8]) -> [Range<Int>] {
        guard !forms.isEmpty, !bytes.isEmpty else { return [] }
        var found: [Range<Int>] = []
        for form in forms where form.count <= bytes.count {
            let wholeWord = form.count < Self.substringMinimum
            let first = form[0]
            var start = 0
            let last = bytes.count - form.count
            while start <= last {
                guard let hit = bytes[start...last].firstIndex(of: first) else { break }
                if bytes[hit..<(hit + form.count)].elementsEqual(form),
                   !wholeWord || (Self.isBoundary(bytes, before: hit, form: form) && Self.isBoundary(bytes, after: hit + form.count, form: form)) {
                    found.append(hit..<(hit + form.count))
                    start = hit + form.count
                } else {
                    start = hit + 1
                }
            }
        }
        guard found.count > 1 else { return found }
        found.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = [found[0]]
        for range in found.dropFirst() {
            if range.lowerBound <= merged[merged.count - 1].upperBound {
                merged[merged.count - 1] = merged[merged.count - 1].lowerBound..<max(merged[merged.count - 1].upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte >= 0x80
    }

    /// A short form counts only where it is not glued to a word on that side (a form that itself
    /// starts with punctuation is bounded by it).
    private static func isBoundary(_ bytes: [UInt8], before index: Int, form: [UInt8]) -> Bool {
        index == 0 || !isWordByte(form[0]) || !isWordByte(bytes[index - 1])
    }

    private static func isBoundary(_ bytes: [UInt8], after index: Int, form: [UInt8]) -> Bool {
        index == bytes.count || !isWordByte(form[form.count - 1]) || !isWordByte(bytes[index])
    }

    public func containsSecret(_ text: String) -> Bool { !occurrences(in: Array(text.utf8)).isEmpty }

    /// `text` with every occurrence of a secret replaced by `***`.
    public func redact(_ text: String) -> String {
        guard !forms.isEmpty else { return text }
        let bytes = Array(text.utf8)
        let ranges = occurrences(in: bytes)
        guard !ranges.isEmpty else { return text }
        return String(decoding: Self.replacing(ranges, in: bytes, with: Array(Self.mask.utf8)), as: UTF8.self)
    }

    private static func replacing(_ ranges: [Range<Int>], in bytes: [UInt8], with mask: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var position = 0
        for range in ranges {
            out += bytes[position..<range.lowerBound]
            out += mask
            position = range.upperBound
        }
        out += bytes[position...]
        return out
    }

    /// At most about `limit` bytes of `text`, cut at a character boundary **after** redaction, so a
    /// cut never leaves the start of a secret behind. Line breaks become spaces.
    public func excerpt(_ text: String, limit: Int) -> String {
        var bytes = Array(text.utf8)
        // A secret that starts before the cut ends within `longestForm` of it.
        let window = limit + longestForm
        let truncated = bytes.count > window
        if truncated { bytes = Array(bytes[..<window]) }
        var redacted = Array(redact(String(decoding: bytes, as: UTF8.self)).utf8)
        var cut = min(limit, redacted.count)
        while cut < redacted.count, cut > 0, redacted[cut] & 0xC0 == 0x80 { cut -= 1 }
        let shortened = truncated || cut < redacted.count
        redacted = Array(redacted[..<cut])
        var result = String(decoding: redacted, as: UTF8.self)
        result = result.replacingAll("\r\n", with: " ").replacingAll("\n", with: " ").replacingAll("\r", with: " ")
        return shortened ? result + "…" : result
    }

    /// JSON text with secrets masked where they can occur without breaking it: inside strings
    /// (keys too), and a number that is a secret becomes the string `"***"`. The result is valid
    /// JSON whenever the input is.
    public func redactJSON(_ text: String) -> String {
        guard !forms.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        let quote = UInt8(ascii: "\"")
        while index < bytes.count {
            let byte = bytes[index]
            if byte == quote {
                // A string token: from this quote to the next unescaped one.
                var end = index + 1
                while end < bytes.count, bytes[end] != quote {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                let content = Array(bytes[(index + 1)..<min(end, bytes.count)])
                out.append(quote)
                out += Self.replacing(occurrences(in: content), in: content, with: Array(Self.mask.utf8))
                out.append(quote)
                index = end + 1
            } else if byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39) {
                var end = index + 1
                while end < bytes.count, "0123456789.eE+-".utf8.contains(bytes[end]) { end += 1 }
                let number = Array(bytes[index..<end])
                if occurrences(in: number).isEmpty { out += number } else { out += Array("\"\(Self.mask)\"".utf8) }
                index = end
            } else {
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `url` with userinfo, secret-looking query values and configured secrets replaced by `***`.
    public func redactURL(_ url: String) -> String {
        var url = url
        // Userinfo sits between "://" and the last "@" of the authority.
        if let scheme = url.range(of: "://") {
            let authorityEnd = url[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
            if let at = url[scheme.upperBound..<authorityEnd].lastIndex(of: "@") {
                url.replaceSubrange(scheme.upperBound..<at, with: Self.mask)
            }
        }
        // Encoders disagree on what to escape ("-" or not, "%2f" or "%2F"), so path segments and
        // query values are compared decoded, and a part that holds a secret is masked whole.
        let pathStart = url.range(of: "://").map { url[$0.upperBound...].firstIndex(of: "/") ?? url.endIndex } ?? url.startIndex
        let queryStart = url[pathStart...].firstIndex(of: "?")
        let fragmentStart = url[pathStart...].firstIndex(of: "#") ?? url.endIndex
        let pathEnd = min(queryStart ?? fragmentStart, fragmentStart)
        var rebuilt = String(url[..<pathStart])
        rebuilt += url[pathStart..<pathEnd].split(separator: "/", omittingEmptySubsequences: false).map { segment in
            containsSecret(String(segment).removingPercentEncodingLeniently(plusIsSpace: false)) ? Self.mask : String(segment)
        }.joined(separator: "/")
        if let queryStart, queryStart < fragmentStart {
            rebuilt += "?"
            rebuilt += url[url.index(after: queryStart)..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let equals = pair.firstIndex(of: "=") else {
                    return containsSecret(String(pair).removingPercentEncodingLeniently()) ? Self.mask : String(pair)
                }
                let name = String(pair[..<equals])
                let value = String(pair[pair.index(after: equals)...]).removingPercentEncodingLeniently()
                let secret = Self.isSecretParameter(name.removingPercentEncodingLeniently()) || containsSecret(value)
                return secret ? "\(containsSecret(name) ? Self.mask : name)=\(Self.mask)" : String(pair)
            }.joined(separator: "&")
        }
        rebuilt += url[fragmentStart...]
        return redact(rebuilt)
    }

    /// `%2F` → `%2f`: only the hex digits of escapes change.
    static func lowercasingEscapes(_ text: String) -> String {
        var out = "", afterPercent = 0
        for character in text {
            if character == "%" {
                afterPercent = 2
                out.append(character)
            } else if afterPercent > 0 {
                afterPercent -= 1
                out += character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// RFC 3986 unreserved characters besides letters and digits.
    static let unreserved: Set<UInt8> = [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~")]

    /// Percent-encodes everything but letters, digits and `keeping` (by default RFC 3986
    /// unreserved characters, as a URL builder would).
    static func percentEncode(_ text: String, keeping: Set<UInt8> = unreserved) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case _ where keeping.contains(byte):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }
}

/// The secrets of one run: sensitive configuration values from the start, and what is learned on
/// the way (login and installation tokens, signed JWTs, the Basic credential as sent). Every part
/// of a run that prints anything reads the same store, so a token learned by the fetcher is masked
/// in the log line about it too.
public final class SecretStore: Sendable {
    private let state: Locked<(secrets: Set<String>, redactor: Redactor)>

    public init(_ secrets: some Sequence<String> = [String]()) {
        let set = Set(secrets.filter { !$0.isEmpty })
        state = Locked((set, Redactor(secrets: set)))
    }

    /// A snapshot of every secret known so far.
    public var redactor: Redactor { state.withLock { $0.redactor } }

    public func add(_ secrets: some Sequence<String>) {
        state.withLock { state in
            let fresh = secrets.filter { !$0.isEmpty && !state.secrets.contains($0) }
            guard !fresh.isEmpty else { return }
            state.secrets.formUnion(fresh)
            state.redactor = Redactor(secrets: state.secrets)
        }
    }

    public func redact(_ text: String) -> String { redactor.redact(text) }
}

extension String {
    package func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }

    /// Decodes `%XX` escapes and `+`; leaves malformed escapes as they are.
    package func removingPercentEncodingLeniently(plusIsSpace: Bool = true) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
