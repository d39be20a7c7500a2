import Foundation
import TideCore
import TideHTTP
import TideModel

/// A Port API call that failed for good: the endpoint and Port's own message, never a secret.
public struct PortError: Error, Sendable, CustomStringConvertible {
    public var method: String
    /// The path, without the base URL and query.
    public var path: String
    public var status: Int?
    public var message: String

    public init(method: String, path: String, status: Int? = nil, message: String) {
        self.method = method
        self.path = path
        self.status = status
        self.message = message
    }

    public var description: String {
        let code = status.map { " answered \($0)" } ?? " failed"
        return "Port \(method) \(path)\(code): \(message)"
    }
}

/// What Port answered (any status; callers decide which ones are failures).
public struct PortResponse: Sendable {
    public var status: Int
    public var text: String
    var json: JSONValue? { JSONValue.parse(text) }
    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// Where and as whom Tide talks to Port.
public struct PortCredentials: Sendable {
    public var clientID: String
    public var clientSecret: String
    /// Port's API root without `/v1` (Ocean's `OCEAN__PORT__BASE_URL`).
    public var baseURL: String

    public static let defaultBaseURL = "https://api.getport.io"

    public init(clientID: String, clientSecret: String, baseURL: String = PortCredentials.defaultBaseURL) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
    }
}

/// Port's REST API as Ocean calls it: a bearer token from `/v1/auth/access_token` renewed before
/// it expires and once more when Port answers 401; Ocean's User-Agent (which Port turns into the
/// entities' `$datasource`); retries on 408, 429 and 502–504 with backoff, `Retry-After` and
/// `x-ratelimit-reset`.
public final class PortClient: Sendable {
    public let credentials: PortCredentials
    public let datasource: Datasource
    let http: HTTPClient
    private let tokens: TokenStore

    /// Ocean's retry transport: 10 attempts, 0.3 s doubling with ±10 % jitter, at most 300 s.
    /// 401 is handled above the policy, because it needs a new token rather than a wait.
    public static let oceanRetryPolicy = RetryPolicy(
        maxAttempts: 10, retryableStatuses: [408, 429, 502, 503, 504], retryConnectionErrors: true,
        baseDelay: .milliseconds(300), multiplier: 2, maxDelay: .seconds(300), jitter: .proportional(0.1),
        maxTotalWait: .seconds(900), honourServerDelay: true)

    public init(credentials: PortCredentials, datasource: Datasource, retry: RetryPolicy = PortClient.oceanRetryPolicy,
                timeout: Duration = .seconds(60))
    {
        self.credentials = credentials
        self.datasource = datasource
        // Ocean's httpx client allows 100 connections; 50 in flight is the semaphore its entity
        // writes share, and more than Tide's per-page concurrency ever needs.
        http = HTTPClient(configuration: .init(timeout: timeout, maxConcurrentRequests: 50, retry: retry,
                                               defaultHeaders: [:], secrets: [credentials.clientSecret]))
        tokens = TokenStore()
    }

    public func shutdown() async { await http.shutdown() }

    /// `port-ocean/<type>/<version>/<identifier>`; entity routes add `/exporter`, as Ocean does.
    var baseUserAgent: String {
        "port-ocean/\(datasource.integrationType)/\(datasource.integrationVersion)/\(datasource.installationIdentifier)"
    }

    /// Sends one call and returns Port's answer whatever its status, after renewing the token
    /// once on a 401. Throws only when no answer came (connection, timeout, cancellation).
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: String? = nil,
                     entityRoute: Bool = false, retryable: Bool = true) async throws(PortError) -> PortResponse
    {
        var renewed = false
        while true {
            let token = try await tokens.token(for: self, renewing: nil)
            let response = try await raw(method, path, query: query, body: body, authorization: token.header,
                                         entityRoute: entityRoute, retryable: retryable)
            if response.status == 401 && !renewed {
                renewed = true
                _ = try await tokens.token(for: self, renewing: token.header)
                continue
            }
            return response
        }
    }

    /// Like `send`, but a status outside 2xx (and not in `accepting`) is a `PortError` with Port's message.
    public func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: String? = nil,
                     entityRoute: Bool = false, accepting: Set<Int> = []) async throws(PortError) -> PortResponse
    {
        let response = try await send(method, path, query: query, body: body, entityRoute: entityRoute)
        if response.isSuccess || accepting.contains(response.status) { return response }
        throw PortError(method: method.rawValue, path: path, status: response.status, message: Self.message(in: response))
    }

    /// Port's explanation in an error body (`message`, else `error`), or the body itself, shortened.
    static func message(in response: PortResponse) -> String {
        if let json = response.json {
            if let message = json["message"]?.stringValue { return message }
            if let error = json["error"]?.stringValue { return error }
        }
        let text = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "no message" : String(text.prefix(300))
    }

    func raw(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: String?, authorization: String?,
             entityRoute: Bool, retryable: Bool) async throws(PortError) -> PortResponse
    {
        var url = credentials.baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        var headers: HTTPHeaders = ["User-Agent": entityRoute ? baseUserAgent + "/exporter" : baseUserAgent,
                                    "Accept": "application/json"]
        if let authorization { headers.add("Authorization", authorization) }
        var request: HTTPRequest
        if let body {
            request = .json(method, url: url, body: body, headers: headers, retryable: retryable)
        } else {
            request = HTTPRequest(method: method, url: url, headers: headers, retryable: retryable)
        }
        request.throwsOnErrorStatus = false
        do {
            let response = try await http.send(request)
            return PortResponse(status: response.status, text: response.text)
        } catch {
            // HTTPError's text is already redacted with the client secret; tokens never reach it.
            throw PortError(method: method.rawValue, path: path, status: error.status, message: error.description)
        }
    }

    public static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `POST /v1/auth/access_token`.
    func fetchToken() async throws(PortError) -> Token {
        let body = "{\"clientId\":\(JSONValue.quoted(credentials.clientID)),\"clientSecret\":\(JSONValue.quoted(credentials.clientSecret))}"
        let path = "/v1/auth/access_token"
        let response = try await raw(.post, path, query: [], body: body, authorization: nil, entityRoute: false, retryable: true)
        guard response.isSuccess else {
            throw PortError(method: "POST", path: path, status: response.status, message: Self.message(in: response))
        }
        guard let json = response.json, let access = json["accessToken"]?.stringValue else {
            throw PortError(method: "POST", path: path, status: response.status, message: "the answer has no accessToken")
        }
        let type = json["tokenType"]?.stringValue ?? "Bearer"
        let lifetime = json["expiresIn"]?.numberValue ?? 3600
        return Token(header: "\(type) \(access)", obtained: .now, lifetime: .seconds(lifetime))
    }
}

struct Token: Sendable {
    var header: String
    var obtained: ContinuousClock.Instant
    var lifetime: Duration

    /// Renewed a little before Port would refuse it (a tenth of its life, at most a minute), so
    /// a long page does not start with a token about to lapse.
    var isFresh: Bool {
        let margin = min(lifetime * 0.1, .seconds(60))
        return ContinuousClock.now < obtained + lifetime - margin
    }
}

/// One token at a time for all concurrent calls: a renewal in flight is shared, not repeated.
actor TokenStore {
    private var current: Token?
    private var pending: Task<Token, any Error>?

    /// The current token, fetched when missing or stale, or renewed when `renewing` is the one a
    /// call was refused with (a call refused with an older token just takes the newer one).
    func token(for client: PortClient, renewing refused: String?) async throws(PortError) -> Token {
        if let current {
            if let refused {
                if refused != current.header { return current }
            } else if current.isFresh {
                return current
            }
        }
        let task: Task<Token, any Error>
        if let pending { task = pending } else {
            task = Task { try await client.fetchToken() }
            pending = task
        }
        do {
            let token = try await task.value
            if pending == task { current = token; pending = nil }
            return token
        } catch {
            if pending == task { pending = nil }
            throw (error as? PortError) ?? PortError(method: "POST", path: "/v1/auth/access_token", message: "\(error)")
        }
    }
}
