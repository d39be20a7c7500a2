import Foundation

/// An HTTP method. A struct rather than an enum so integrations can use any token a server
/// understands (`PROPFIND`, `QUERY`) without a change here.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    public init(_ rawValue: String) { self.init(rawValue: rawValue) }
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }

    public static let get = HTTPMethod("GET")
    public static let head = HTTPMethod("HEAD")
    public static let post = HTTPMethod("POST")
    public static let put = HTTPMethod("PUT")
    public static let patch = HTTPMethod("PATCH")
    public static let delete = HTTPMethod("DELETE")
    public static let options = HTTPMethod("OPTIONS")

    /// Safe methods (RFC 9110 §9.2.1) may be repeated without the caller's say-so.
    public var isSafe: Bool { self == .get || self == .head || self == .options }
}

/// Header fields in the order they were given. Names compare case-insensitively and repeated
/// fields are kept apart (a response may carry several `Set-Cookie` or `Link` lines).
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    public private(set) var fields: [Field] = []

    public init() {}
    public init(_ pairs: [(String, String)]) { fields = pairs.map { Field(name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The first value for `name`, or nil.
    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field, keeping any earlier ones with the same name.
    public mutating func add(_ name: String, _ value: String) { fields.append(Field(name: name, value: value)) }

    /// Replaces every field named `name` with one field (or removes them all when `value` is nil).
    public mutating func set(_ name: String, _ value: String?) {
        remove(name)
        if let value { add(name, value) }
    }

    public mutating func remove(_ name: String) { fields.removeAll { $0.name.caseInsensitiveEquals(name) } }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && lowercased() == other.lowercased()
    }
}

/// One request. A plain value: build it, hand it to `HTTPClient.send`, reuse it for the next page.
public struct HTTPRequest: Sendable, Hashable {
    public var method: HTTPMethod
    /// An absolute `http` or `https` URL, already percent-encoded.
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]?
    /// Overrides the client's connect timeout for this request.
    public var connectTimeout: Duration?
    /// Overrides the client's total timeout (per attempt) for this request.
    public var timeout: Duration?
    /// Whether the client may send this request more than once. `nil` means "safe methods only"
    /// (GET, HEAD, OPTIONS); set it to `true` for a POST that only reads, such as Jira's search.
    public var retryable: Bool?
    /// When true (the default) a response outside 200–399 that is not retried, or still fails after
    /// retries, is thrown as an `HTTPError` of kind `.status`. When false it is returned.
    public var throwsOnErrorStatus: Bool
    /// Where this request and its redirects may go, and where its credentials may; nil: anywhere,
    /// with credentials stripped when a redirect leaves the request's origin.
    public var originPolicy: OriginPolicy?
    /// Who waits less when the origin's budget is short; nil: the client's `priority`.
    public var priority: RequestPriority?
    /// Statuses retried for this request besides the client's `retryableStatuses` (a kind's
    /// `responses` rule with `action: retry`).
    public var alsoRetriedStatuses: Set<Int> = []

    public init(method: HTTPMethod = .get, url: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil,
                connectTimeout: Duration? = nil, timeout: Duration? = nil, retryable: Bool? = nil,
                throwsOnErrorStatus: Bool = true)
    {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.retryable = retryable
        self.throwsOnErrorStatus = throwsOnErrorStatus
    }

    /// A request whose body is `json` (UTF-8) with `Content-Type: application/json`.
    public static func json(_ method: HTTPMethod = .post, url: String, body json: String,
                            headers: HTTPHeaders = [:], retryable: Bool? = nil) -> HTTPRequest
    {
        var headers = headers
        if !headers.contains("Content-Type") { headers.add("Content-Type", "application/json") }
        return HTTPRequest(method: method, url: url, headers: headers, body: Array(json.utf8), retryable: retryable)
    }

    /// Whether the retry policy may repeat this request.
    public var mayRetry: Bool { retryable ?? method.isSafe }
}

/// How long a request took.
public struct HTTPTiming: Sendable, Hashable {
    /// From the first attempt's start to the final response, including waits between attempts.
    public var total: Duration
    /// The final attempt alone (from handing it to libcurl to the last body byte).
    public var lastAttempt: Duration
    /// Time spent waiting for the origin's request budget (a slot, a token, a pause), over all attempts.
    public var queued: Duration
    /// Time spent sleeping between attempts.
    public var retryWait: Duration
    public var attempts: Int
}

/// A complete response. The body has been decoded (gzip/deflate) and is held in memory, bounded
/// by the client's `maxResponseBodyBytes`.
public struct HTTPResponse: Sendable, Hashable {
    public var status: Int
    /// The reason phrase the server sent, or the standard one (HTTP/2 has none).
    public var reason: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The URL that answered, after redirects.
    public var url: String
    public var timing: HTTPTiming

    public init(status: Int, reason: String, headers: HTTPHeaders, body: [UInt8], url: String, timing: HTTPTiming) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.url = url
        self.timing = timing
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
    /// The body as UTF-8 text (invalid sequences become U+FFFD).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Standard reason phrases, for responses that did not carry one.
enum HTTPReason {
    static func phrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}
