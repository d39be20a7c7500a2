import TideCore

/// Why a request failed, as a value. Everything in it has already been redacted: `url`,
/// `bodyExcerpt` and `detail` never contain a configured secret, so the error can be printed,
/// logged or attached to a report as it is.
public struct HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The connection could not be made or broke (DNS, refused, reset, TLS, empty reply).
        case connection
        /// The connect timeout or the total timeout passed.
        case timeout
        /// The server answered with a status the caller treats as failure.
        case status
        /// The response body was larger than the client's limit.
        case tooLarge
        /// The URL could not be used (malformed, or a scheme other than http/https).
        case invalidURL
        /// The calling task was cancelled, or the client was shut down.
        case cancelled
        /// The request (or a redirect) pointed at an origin its `OriginPolicy` does not allow.
        case refusedOrigin
        /// A header name or value holds a line break or a NUL: sending it could split the request.
        case invalidHeader
    }

    public var kind: Kind
    public var method: HTTPMethod
    /// The request URL with secrets replaced by `***`.
    public var url: String
    public var status: Int?
    public var reason: String?
    /// The first ~500 bytes of the response body as valid UTF-8, redacted.
    public var bodyExcerpt: String?
    /// How many times the request was sent.
    public var attempts: Int
    /// What went wrong beyond the status: libcurl's message, the retry decision, … (redacted).
    public var detail: String?
    /// The response headers of the last attempt (for `Retry-After`, trace ids); not redacted by name,
    /// but secrets configured on the client are removed from their values.
    public var responseHeaders: HTTPHeaders?

    public init(kind: Kind, method: HTTPMethod, url: String, status: Int? = nil, reason: String? = nil,
                bodyExcerpt: String? = nil, attempts: Int, detail: String? = nil, responseHeaders: HTTPHeaders? = nil)
    {
        self.kind = kind
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason
        self.bodyExcerpt = bodyExcerpt
        self.attempts = attempts
        self.detail = detail
        self.responseHeaders = responseHeaders
    }

    /// `GET https://x/rest/api/3/project/search?startAt=50 → 503 Service Unavailable after 4 attempts: {…}`
    public var description: String {
        var text = "\(method) \(url) → "
        switch kind {
        case .status:
            text += status.map(String.init) ?? "error"
            if let reason, !reason.isEmpty { text += " \(reason)" }
        case .connection: text += "connection failed"
        case .timeout: text += "timed out"
        case .tooLarge: text += "response too large"
        case .invalidURL: text += "invalid URL"
        case .refusedOrigin: text += "not sent: another origin"
        case .invalidHeader: text += "not sent: invalid header"
        case .cancelled: text += "cancelled"
        }
        text += " after \(attempts) attempt\(attempts == 1 ? "" : "s")"
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        if let bodyExcerpt, !bodyExcerpt.isEmpty { text += ": \(bodyExcerpt)" }
        return text
    }

    /// At most `limit` bytes of `body`, cut at a character boundary after secrets were removed.
    static func excerpt(of body: [UInt8], limit: Int = 500, redactor: Redactor) -> String? {
        guard !body.isEmpty else { return nil }
        // Decoding a prefix is enough: the redactor reads past the cut by its longest secret.
        let prefix = String(decoding: body.prefix(limit + redactor.longestForm + 4), as: UTF8.self)
        var text = redactor.excerpt(prefix, limit: limit)
        if body.count > limit + redactor.longestForm + 4, !text.hasSuffix("…") { text += "…" }
        return text.trimmingSpaces()
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first?.isWhitespace == true { scalars.removeFirst() }
        while scalars.last?.isWhitespace == true { scalars.removeLast() }
        return String(scalars)
    }
}
