import Foundation
import TideCore
import TideHTTP

/// Why fetching a kind stopped. Every text field has been redacted with the session's secrets
/// (sensitive configuration values and tokens obtained at run time), so the error can be printed,
/// logged or stored as it is.
public struct FetchError: Error, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        /// The API answered with an error status, or could not be reached (`httpError` says how).
        case http
        /// The response body is not JSON.
        case malformedJSON
        /// `records` gave something other than the list of records the kind expects (null, an object, a scalar).
        case unexpectedRecords
        /// A template or jq expression failed on this page's data.
        case evaluation
        /// The API returned a cursor it had returned before.
        case repeatedCursor
        /// The API pointed to a next URL already read.
        case repeatedURL
        /// More pages than `pagination.maxPages`.
        case tooManyPages
        /// The login request of a `login` auth scheme failed.
        case login
        /// The request could not be built (a header with a line break, a URL without a scheme…).
        case invalidRequest
        /// The read was stopped before its end (the resync was cancelled).
        case cancelled
    }

    public var reason: Reason
    /// The kind being fetched.
    public var kind: String
    /// 1-based number of the page that failed, within its pagination run.
    public var page: Int
    /// `METHOD URL` of the failed request (URL redacted), when one was built.
    public var request: String?
    /// The response status, when there was a response.
    public var status: Int?
    /// What went wrong (redacted).
    public var message: String
    /// The start of the response body (redacted), when it helps.
    public var bodyExcerpt: String?
    /// What the user can do about it.
    public var hint: String?
    /// The parent record this run was for (a redacted excerpt of its JSON), for kinds with `parent:`.
    public var parentRecord: String?
    /// Set when the failure happened while reading the parents of another kind: that kind's name.
    public var whileFetchingParentsOf: String?
    /// What the kind was read for when `whileFetchingParentsOf` is set: its parents, or its partitions.
    public var readFor: ReadFor = .parent
    public enum ReadFor: String, Sendable { case parent, partitions }
    /// The HTTP client's error, redacted again with the session's run-time secrets.
    public var httpError: HTTPError?

    init(_ reason: Reason, kind: String = "", page: Int = 0, request: String? = nil, status: Int? = nil,
         message: String, bodyExcerpt: String? = nil, hint: String? = nil, httpError: HTTPError? = nil) {
        self.reason = reason
        self.kind = kind
        self.page = page
        self.request = request
        self.status = status
        self.message = message
        self.bodyExcerpt = bodyExcerpt
        self.hint = hint
        self.httpError = httpError
    }

    /// `kind "issue", page 3: POST https://x/rest/api/3/search/jql → 400 Bad Request …` and a hint line.
    public var description: String {
        // A request outside any kind (webhook registration) has no kind or page to name.
        var text = ""
        if !kind.isEmpty {
            text = "kind \"\(kind)\""
            if let whileFetchingParentsOf { text += " (\(readFor.rawValue) of \"\(whileFetchingParentsOf)\")" }
            if let parentRecord { text += ", parent record \(parentRecord)" }
            text += ", page \(page): "
        }
        switch reason {
        case .http:
            // The client's own description already holds method, URL, status, attempts and body.
            text += httpError.map { String(describing: $0) } ?? [request, message].compactMap { $0 }.joined(separator: ": ")
        default:
            if let request { text += "\(request): " }
            text += message
            if let bodyExcerpt, !bodyExcerpt.isEmpty { text += "; the response began: \(bodyExcerpt)" }
        }
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }

    /// This error with every text field passed through `redactor` (idempotent).
    func redacted(with redactor: Redactor) -> FetchError {
        var copy = self
        copy.request = request.map { Self.redactRequestLine($0, redactor) }
        copy.message = redactor.redact(message)
        copy.bodyExcerpt = bodyExcerpt.map(redactor.redact)
        copy.hint = hint.map(redactor.redact)
        copy.parentRecord = parentRecord.map(redactor.redact)
        if var error = httpError {
            error.url = redactor.redactURL(error.url)
            error.bodyExcerpt = error.bodyExcerpt.map(redactor.redact)
            error.detail = error.detail.map(redactor.redact)
            if let headers = error.responseHeaders {
                var clean = HTTPHeaders()
                for field in headers { clean.add(field.name, redactor.redact(field.value)) }
                error.responseHeaders = clean
            }
            copy.httpError = error
        }
        return copy
    }

    static func redactRequestLine(_ line: String, _ redactor: Redactor) -> String {
        guard let space = line.firstIndex(of: " ") else { return redactor.redact(line) }
        return String(line[..<space]) + " " + redactor.redactURL(String(line[line.index(after: space)...]))
    }

    /// Advice for an HTTP failure, by status.
    static func hint(for error: HTTPError, credentialFields: [String], baseURLFields: [String] = []) -> String? {
        let fields = credentialFields.isEmpty ? "the credentials" : credentialFields.map { "\"\($0)\"" }.joined(separator: ", ")
        // The setting the user actually wrote (`jiraHost`), where http.baseUrl is made from one.
        let baseURL = baseURLFields.isEmpty ? "http.baseUrl"
            : "the configuration's " + baseURLFields.map { "\"\($0)\"" }.joined(separator: ", ") + " (http.baseUrl is made from it)"
        switch error.kind {
        case .status:
            switch error.status ?? 0 {
            case 401: return "the API refused the credentials: check \(fields) in the configuration and http.auth"
            case 403: return "the credentials are valid but lack permission for this request: check the token's scopes or the user's access"
            case 404: return "check \(baseURL), the kind's request path and the selector values it uses"
            case 400, 422: return "the API rejected the request: check the kind's query, body and selector values (the response above says which)"
            case 429: return "the API kept rate-limiting after \(error.attempts) attempts: lower http.concurrency or set http.rateLimit (for one run: --concurrency, --rate-limit 10/s), or raise http.retry.maxWait"
            case 500...599: return "the API kept failing after \(error.attempts) attempts: retry later, or raise http.retry.attempts"
            default: return nil
            }
        case .connection: return "check that \(baseURL) is right and reachable from here (DNS, proxy, firewall, TLS)"
        case .timeout: return "the API is slow: raise http.timeout.total, or ask for smaller pages"
        case .tooLarge: return "ask for smaller pages (the pagination's limit or size), or raise http.maxResponseBytes"
        case .invalidURL: return "check \(baseURL) and the kind's path or url: the URL must start with http:// or https://"
        case .refusedOrigin: return "requests go only to http.baseUrl's origin; list other hosts the API legitimately sends you to in http.allowedHosts (they never receive credentials)"
        case .invalidHeader: return "a header value holds a line break: check the configuration value the header is made from"
        case .cancelled: return nil
        }
    }
}
