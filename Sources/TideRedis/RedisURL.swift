import Foundation

/// A `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?name=value…]` address. The password is kept for
/// AUTH and shows nowhere else: `description` and `redacted` replace it with `***`.
public struct RedisURL: Sendable, CustomStringConvertible {
    public let value: String
    public let host: String
    public let port: Int
    public let username: String?
    public let password: String?
    public let database: Int
    /// The query's parameters (Tide's own settings of the event stream), names lower-cased.
    public let parameters: [String: String]

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Whether a location is meant as a Redis URL (`redis://`); `rediss://` (TLS) is recognised
    /// so that it is refused with a reason rather than taken for something else.
    public static func matches(_ location: String) -> Bool {
        let lower = location.lowercased()
        return lower.hasPrefix("redis://") || lower.hasPrefix("rediss://")
    }

    public init(_ location: String) throws(Invalid) {
        let redactedText = Self.redact(location)
        guard Self.matches(location), let scheme = location.range(of: "://") else {
            throw Invalid(description: "\(redactedText) is not a redis:// URL")
        }
        guard location.lowercased().hasPrefix("redis://") else {
            throw Invalid(description: "\(redactedText): TLS (rediss://) is not supported; reach Redis over a private network or a TLS tunnel")
        }
        value = location
        var rest = location[scheme.upperBound...]
        var query = Substring("")
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user: String?, secret: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                user = String(userinfo[..<colon]).removingPercentEncoding
                secret = String(userinfo[userinfo.index(after: colon)...]).removingPercentEncoding
            } else {
                user = String(userinfo).removingPercentEncoding
            }
            if user == "" { user = nil }
            if secret == "" { secret = nil }
        }
        username = user
        password = secret
        var hostText = rest, portNumber = 6379
        if hostText.hasPrefix("["), let close = hostText.firstIndex(of: "]") {
            let after = hostText[hostText.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()), (1...65535).contains(parsed) else {
                    throw Invalid(description: "\(redactedText): the port is not a number from 1 to 65535")
                }
                portNumber = parsed
            }
            hostText = hostText[hostText.index(after: hostText.startIndex)..<close]
        } else if let colon = hostText.lastIndex(of: ":") {
            guard let parsed = Int(hostText[hostText.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw Invalid(description: "\(redactedText): the port is not a number from 1 to 65535")
            }
            portNumber = parsed
            hostText = hostText[..<colon]
        }
        host = hostText.isEmpty ? "127.0.0.1" : String(hostText)
        port = portNumber
        if path.isEmpty {
            database = 0
        } else if let number = Int(path), number >= 0 {
            database = number
        } else {
            throw Invalid(description: "\(redactedText): the path must be a database number (/0)")
        }
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).lowercased()
            parameters[name] = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
        }
        self.parameters = parameters
    }

    public var redacted: String { Self.redact(value) }
    public var description: String { redacted }
    /// `HOST:PORT`, for messages.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Masks the password of a Redis URL (userinfo, or a `password=` parameter); any other text is
    /// returned unchanged.
    public static func redact(_ url: String) -> String {
        guard matches(url), let scheme = url.range(of: "://") else { return url }
        var url = url
        let authorityEnd = url[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        if let at = url[scheme.upperBound..<authorityEnd].lastIndex(of: "@") {
            if let colon = url[scheme.upperBound..<at].firstIndex(of: ":") {
                url.replaceSubrange(url.index(after: colon)..<at, with: "***")
            }
        }
        guard let question = url.firstIndex(of: "?") else { return url }
        let query = url[url.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            return pair[..<equals].lowercased() == "password" ? "\(pair[..<equals])=***" : String(pair)
        }
        return String(url[...question]) + query.joined(separator: "&")
    }
}
