import TideCore

/// Where requests may go and which of those origins receive credentials.
///
/// An integration's API lives at one origin (`http.baseUrl`'s scheme, host and port). The policy
/// keeps both a hostile API and a mistake from turning Tide into a credential courier: a next-page
/// URL, a `Link` header or a redirect can only lead to an allowed origin, and only credentialed
/// origins ever see the values Tide adds to authenticate (auth headers and any header or query
/// value holding a secret). Everything else is refused before a byte is sent.
public struct OriginPolicy: Sendable, Hashable {
    /// Origins that receive credentials: `scheme://host:port`, lower case, port explicit.
    public var credentialed: Set<String>
    /// Further origins requests may go to, without credentials.
    public var allowed: Set<String>

    /// - Parameters:
    ///   - credentialed: URLs or origins whose origin receives credentials (the base URL first).
    ///   - allowed: URLs, origins or bare host names (then any port, https only) reached without
    ///     credentials.
    public init(credentialed: [String], allowed: [String] = []) {
        self.credentialed = Set(credentialed.compactMap(URLText.origin))
        self.allowed = Set(allowed.compactMap { entry in
            URLText.origin(entry) ?? URLText.origin("https://" + entry)
        })
    }

    public enum Decision: Sendable, Equatable {
        /// The API's own origin: send the request as it is.
        case withCredentials
        /// Another allowed origin: send it stripped of credentials.
        case withoutCredentials
        /// Not an allowed origin: do not send it.
        case refused
    }

    public func decide(_ url: String) -> Decision {
        guard let origin = URLText.origin(url) else { return .refused }
        if credentialed.contains(origin) { return .withCredentials }
        if allowed.contains(origin) { return .withoutCredentials }
        return .refused
    }

    /// `request` without anything that authenticates it: the `Authorization`, `Cookie` and
    /// `Proxy-Authorization` headers, and every header or query parameter whose value holds one of
    /// `secrets` (an API key in a custom header or a query parameter, a token in `http.headers`).
    public static func strippingCredentials(_ request: HTTPRequest, secrets: Redactor) -> HTTPRequest {
        var request = request
        var headers = HTTPHeaders()
        for field in request.headers {
            let name = field.name.lowercased()
            if name == "authorization" || name == "cookie" || name == "proxy-authorization" { continue }
            if secrets.containsSecret(field.value) { continue }
            headers.add(field.name, field.value)
        }
        request.headers = headers
        if let parts = URLText.Parts(request.url), let query = parts.query {
            let kept = query.split(separator: "&", omittingEmptySubsequences: false).filter { pair in
                let value = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first.map(String.init) ?? ""
                return !secrets.containsSecret(value.removingPercentEncodingLeniently())
                    && !secrets.containsSecret(String(pair))
            }
            request.url = URLText.Parts.recompose(parts.scheme, parts.authority, parts.path,
                                                  kept.isEmpty ? nil : kept.joined(separator: "&"), nil)
        }
        return request
    }
}
