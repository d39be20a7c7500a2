/// Removes secrets from text that may reach a log, a terminal or a bug report.
///
/// Three rules, applied together:
/// - every occurrence of a configured secret (and of its percent-encoded form) becomes `***`;
/// - the userinfo of a URL (`https://user:pass@host`) becomes `***`;
/// - the value of a query parameter whose name looks secret (`token`, `api_key`, `password`, …,
///   or ending in `_token`, `-key`, …) becomes `***`.
///
/// Secrets are never skipped for being short: a leaked one-letter secret is still a leak, and a
/// message full of `***` tells the user what happened.
public struct Redactor: Sendable, Hashable {
    public static let mask = "***"

    /// Query parameter names treated as secret regardless of configuration (compared lowercased).
    public static let secretParameterNames: Set<String> = [
        "token", "api_key", "apikey", "api-key", "key", "password", "passwd", "secret", "access_token",
        "refresh_token", "id_token", "client_secret", "signature", "sig", "auth", "authorization",
    ]
    static let secretParameterSuffixes = ["_token", "-token", "_secret", "-secret", "_key", "-key",
                                          "_password", "-password", "_signature", "-signature"]

    /// Longest first, so a secret that contains another is replaced whole.
    public let secrets: [String]

    public init(secrets: some Sequence<String> = [String]()) {
        var all = Set<String>()
        for secret in secrets where !secret.isEmpty {
            all.insert(secret)
            let encoded = Self.percentEncode(secret)
            if encoded != secret { all.insert(encoded) }
        }
        self.secrets = all.sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
    }

    /// Whether the query parameter `name` looks like it carries a credential.
    public static func isSecretParameter(_ name: String) -> Bool {
        let lower = name.lowercased()
        return secretParameterNames.contains(lower) || secretParameterSuffixes.contains { lower.hasSuffix($0) }
    }

    /// `text` with every configured secret replaced by `***`.
    public func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacingAll(secret, with: Self.mask)
        }
        return text
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

    func containsSecret(_ text: String) -> Bool { secrets.contains { text.contains($0) } }

    /// Percent-encodes everything but RFC 3986 unreserved characters, as a URL builder would.
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
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
    func removingPercentEncodingLeniently(plusIsSpace: Bool = true) -> String {
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
