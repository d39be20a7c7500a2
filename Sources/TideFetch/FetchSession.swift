import Foundation
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// Everything fetching needs besides the kind, shared by every kind of one run (and by tasks
/// fetching kinds concurrently): the integration, the configuration, the HTTP client, the chosen
/// auth scheme and its login state, and the secrets to redact.
///
/// ```swift
/// let config = ["jiraHost": "\"https://x.atlassian.net\"", …]          // JSON text
/// let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
/// let session = try FetchSession(integration: integration, config: config, client: client)
/// let issues = try KindFetcher(session: session, kind: "issue", selector: ["jql": "\"project = X\""])
/// while let page = try await issues.next() { … page.records … }
/// ```
///
/// **Threading.** The session is `Sendable` and holds no libjq values (their reference counts are
/// not atomic): configuration is kept as JSON text and each `KindFetcher` compiles its own
/// programs. The only shared mutable state is the login credential, behind a lock.
public final class FetchSession: Sendable {
    public let integration: Integration
    public let client: HTTPClient
    /// The configuration as one JSON object text (defaults applied).
    let configText: String
    let auth: ResolvedAuth
    let secrets: SecretStore
    let login: LoginCoordinator
    /// Names of the configuration fields the auth templates read, for hints (sensitive ones).
    let credentialFields: [String]
    /// Configuration fields http.baseUrl is made from, for hints (`jiraHost`).
    let baseURLFields: [String]
    /// Credentials go to http.baseUrl's origin only; requests also to `http.allowedHosts`.
    public let originPolicy: OriginPolicy
    /// Kinds read once for all their readers during one resync (see `SharedKindReads`); none
    /// unless the resync says which.
    public let sharedReads = SharedKindReads()

    /// Checks the integration's templates and jq (every compile error reported at once, with its
    /// position), resolves the configuration and picks the auth scheme.
    ///
    /// - Parameter config: configuration values by name, each as **JSON text** (`"\"https://x\""`,
    ///   `"50"`). Missing values take the field's default; a missing required value is an error.
    public convenience init(integration: Integration, config: [String: String], client: HTTPClient) throws(Diagnostics) {
        try self.init(integration: integration, values: config, extraSecrets: [], client: client)
    }

    /// The same, from configuration already resolved (`ConfigurationResolver`): its JSON object and
    /// its secrets.
    public convenience init(integration: Integration, config: ResolvedConfiguration, client: HTTPClient) throws(Diagnostics) {
        let object: JSON
        do { object = try JSON(parsing: config.json) } catch {
            throw Diagnostics([Diagnostic(at: nil, "resolved configuration is not JSON: \(error.message)", rule: "config")])
        }
        var values: [String: String] = [:]
        for member in object.objectMembers { values[member.key] = member.value.serialized() }
        try self.init(integration: integration, values: values, extraSecrets: config.secrets, client: client)
    }

    init(integration: Integration, values config: [String: String], extraSecrets: [String], client: HTTPClient) throws(Diagnostics) {
        self.integration = integration
        self.client = client
        var diagnostics: [Diagnostic] = []

        // Configuration: declared fields in order (defaults applied), then any extra values.
        var members: [(String, JSON)] = []
        var secretValues = extraSecrets
        func parse(_ text: String, _ name: String, _ location: SourceLocation?) -> JSON? {
            do { return try JSON(parsing: text) } catch {
                diagnostics.append(Diagnostic(at: location, "configuration value \"\(name)\" is not JSON text: \(error.message)",
                                              rule: "config", hint: "pass values as JSON: a string is written \"\\\"text\\\"\""))
                return nil
            }
        }
        for field in integration.configuration {
            let given = config[field.name]
            guard let text = given ?? field.defaultValue else {
                if field.required {
                    diagnostics.append(Diagnostic(at: field.location, "configuration value \"\(field.name)\" is required but was not given",
                                                  rule: "config-required"))
                }
                continue
            }
            guard let value = parse(text, field.name, field.location) else { continue }
            if field.sensitive { secretValues.append(value.stringValue ?? value.serialized()) }
            members.append((field.name, value))
        }
        let declared = Set(integration.configuration.map(\.name))
        for name in config.keys.sorted() where !declared.contains(name) {
            if let value = parse(config[name]!, name, nil) { members.append((name, value)) }
        }
        let configJSON = JSON(orderedObject: members)
        configText = configJSON.serialized()

        // Compile everything once up front, so a bad template fails the run before any request.
        var compiler = Compiler()
        for kind in integration.kinds { _ = KindProgram(kind, integration: integration, compiler: &compiler) }
        var auth = ResolvedAuth.none
        var fields: [String] = []
        if diagnostics.isEmpty {
            (auth, fields) = Self.resolveAuth(integration, config: configJSON, compiler: &compiler, secrets: &secretValues)
        }
        var baseURL = ""
        if let template = compiler.template(integration.http.baseURL) {
            do { baseURL = try template.renderString(JSON(object: ["config": configJSON])) ?? "" } catch {
                diagnostics.append(Diagnostic(at: integration.http.baseURL.location, "http.baseUrl: \(error.description)", rule: "template"))
            }
        }
        originPolicy = OriginPolicy(credentialed: [baseURL], allowed: integration.http.allowedHosts)
        diagnostics += compiler.diagnostics
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }
        self.auth = auth
        self.credentialFields = fields
        baseURLFields = integration.configuration.map(\.name).filter { integration.http.baseURL.text.contains(".config.\($0)") }
        // The client's store is the run's: what is learned here is masked in every log line too.
        secrets = client.configuration.secrets
        secrets.add(secretValues)
        login = LoginCoordinator()
    }

    /// The HTTP client settings an integration's `http` section asks for, with its sensitive
    /// configuration values registered as secrets.
    public static func clientConfiguration(for integration: Integration, config: [String: String]) -> HTTPClient.Configuration {
        let secrets = integration.configuration.filter(\.sensitive).compactMap { field -> String? in
            guard let text = config[field.name] ?? field.defaultValue else { return nil }
            guard let value = try? JSON(parsing: text) else { return text }
            return value.stringValue ?? value.serialized()
        }
        return HTTPClient.Configuration(for: integration, secrets: secrets)
    }

    /// Redaction of every secret known so far, tokens obtained at run time included. Use it for
    /// log lines about requests.
    public var redactor: Redactor { secrets.redactor }

    // MARK: Auth

    /// Picks the first scheme whose `when` holds and renders what does not change during a run.
    private static func resolveAuth(_ integration: Integration, config: JSON, compiler: inout Compiler,
                                    secrets: inout [String]) -> (ResolvedAuth, [String]) {
        let context = JSON(object: ["config": config])
        for scheme in integration.http.auth {
            if let when = scheme.when {
                guard let program = compiler.program(when, what: "http.auth when") else { continue }
                do {
                    let value = try program.first(context)
                    guard let value, !value.isNull, value.boolValue != false else { continue }
                } catch {
                    compiler.diagnostics.append(Diagnostic(at: when.location, "http.auth when \"\(when.source)\" failed: \(error.description)",
                                                           rule: "jq-runtime"))
                    continue
                }
            }
            let fields = referencedFields(scheme, in: integration)
            func render(_ source: TemplateSource) -> String {
                guard let template = compiler.template(source) else { return "" }
                do { return try template.renderString(context) ?? "" } catch {
                    compiler.diagnostics.append(Diagnostic(at: source.location, error.description, rule: "template"))
                    return ""
                }
            }
            switch scheme.method {
            case .none:
                return (.none, fields)
            case .basic(let username, let password):
                let user = render(username), pass = render(password)
                let value = "Basic " + Data("\(user):\(pass)".utf8).base64EncodedString()
                secrets += [pass, value, String(value.dropFirst(6))]
                return (.header(name: "Authorization", value: value), fields)
            case .bearer(let token):
                let token = render(token)
                secrets += [token]
                return (.header(name: "Authorization", value: "Bearer " + token), fields)
            case .apiKey(let name, let value, let inQuery):
                let key = render(value)
                secrets += [key]
                return (inQuery ? .query(name: name, value: key) : .header(name: name, value: key), fields)
            case .login(let login):
                // Compiled here only to report errors early; the login itself compiles its own copy.
                _ = CompiledRequest(login.request, http: integration.http, form: login.form, compiler: &compiler)
                _ = compiler.program(login.token, what: "http.auth token")
                if let expiresIn = login.expiresIn { _ = compiler.program(expiresIn, what: "http.auth expiresIn") }
                _ = compiler.template(login.header)
                return (.login(login), fields)
            }
        }
        return (.none, [])
    }

    /// Configuration fields a scheme's templates mention, for "check these" hints.
    private static func referencedFields(_ scheme: AuthScheme, in integration: Integration) -> [String] {
        var texts: [String] = []
        switch scheme.method {
        case .none: break
        case .basic(let username, let password): texts = [username.text, password.text]
        case .bearer(let token): texts = [token.text]
        case .apiKey(_, let value, _): texts = [value.text]
        case .login(let login):
            texts = login.form.map(\.value.text) + login.request.headers.map(\.value.text) + login.request.query.map(\.value.text)
            if let body = login.request.body { texts.append(String(describing: body)) }
        }
        return integration.configuration.map(\.name).filter { name in texts.contains { $0.contains(".config.\(name)") } }
    }

    /// The Authorization header for a login scheme: the current credential, renewed when it is
    /// about to expire or when `stale` (the one a request was refused with) is still current.
    func loginCredential(_ login: LoginAuth, replacing stale: LoginCoordinator.Credential? = nil) async -> Result<LoginCoordinator.Credential, FetchError> {
        await self.login.credential(replacing: stale) { [self] in await self.performLogin(login) }
    }

    /// Sends the login request and reads the token. Runs in its own task, so it compiles its own
    /// programs and every libjq value it makes stays inside it.
    private func performLogin(_ login: LoginAuth) async -> Result<LoginCoordinator.Credential, FetchError> {
        func failure(_ message: String, request: String? = nil, hint: String? = nil, http: HTTPError? = nil, status: Int? = nil) -> Result<LoginCoordinator.Credential, FetchError> {
            .failure(FetchError(.login, request: request, status: status, message: message, hint: hint, httpError: http)
                .redacted(with: secrets.redactor))
        }
        var compiler = Compiler()
        let request = CompiledRequest(login.request, http: integration.http, form: login.form, compiler: &compiler)
        let tokenProgram = compiler.program(login.token, what: "http.auth token")
        let expiresProgram = login.expiresIn.flatMap { compiler.program($0, what: "http.auth expiresIn") }
        let header = compiler.template(login.header)
        guard compiler.diagnostics.isEmpty, let tokenProgram, let header else {
            return failure(compiler.diagnostics.map(\.description).joined(separator: "; "))
        }
        let config: JSON
        do { config = try JSON(parsing: configText) } catch { return failure(error.message) }
        var context = JSON(object: ["config": config])
        if let jwt = login.jwt {
            do { context = context.setting("jwt", to: JSON(try signedJWT(jwt, config: context, compiler: &compiler))) } catch {
                return failure(error.message, hint: "check http.auth.jwt and the settings it reads")
            }
        }

        let rendered: RenderedRequest
        do { rendered = try request.render(context) } catch { return failure(error.message, hint: error.hint) }
        var httpRequest = rendered.httpRequest()
        // The login's own endpoint gets its credentials; a redirect away from it is refused.
        httpRequest.originPolicy = OriginPolicy(credentialed: [httpRequest.url])
        let line = "\(httpRequest.method) \(httpRequest.url)"
        let started = ContinuousClock.now
        let response: HTTPResponse
        do { response = try await client.send(httpRequest) } catch {
            return failure("the login request failed: \(error)", request: line,
                           hint: "check the login credentials in the configuration and http.auth.request", http: error, status: error.status)
        }
        let body: JSON
        do { body = try JSON(parsing: response.text) } catch {
            return failure("the login response is not JSON: \(error.message)", request: line, status: response.status)
        }
        let token: String
        var lifetime: Double?
        do {
            guard let value = try tokenProgram.first(body), !value.isNull, value.stringValue != "" else {
                return failure("http.auth token \"\(login.token.source)\" gave no token from the login response", request: line,
                               hint: "check the token expression against the login API's response")
            }
            token = value.stringValue ?? value.serialized()
            // Register before anything else can print it.
            secrets.add([token])
            if let expiresProgram, let value = try expiresProgram.first(body), !value.isNull {
                guard let seconds = value.numberValue ?? value.stringValue.flatMap(Double.init) else {
                    return failure("http.auth expiresIn \"\(login.expiresIn?.source ?? "")\" gave \(value.serialized()), not a number of seconds", request: line)
                }
                lifetime = seconds
            }
        } catch {
            return failure("evaluating the login response failed: \(error.description)", request: line)
        }
        let value: String
        do { value = try header.renderString(JSON(object: ["token": JSON(token), "config": config])) ?? "" } catch {
            return failure(error.description, request: line)
        }
        secrets.add([value])
        // Renew a little early: 10 % of the lifetime, at most a minute, so a request never leaves
        // with a token that expires on the way.
        let renewAt = lifetime.map { started + .seconds(max(0, $0 - min(60, $0 * 0.1))) }
        return .success(LoginCoordinator.Credential(token: token, header: value, renewAt: renewAt))
    }
}

extension FetchSession {
    /// The login's JWT, signed now; registered as a secret before anything can print it.
    func signedJWT(_ jwt: JWTDefinition, config context: JSON, compiler: inout Compiler) throws(JWTSigner.Failure) -> String {
        guard let keyTemplate = compiler.template(jwt.key) else {
            throw JWTSigner.Failure(message: compiler.diagnostics.map(\.description).joined(separator: "; "))
        }
        let key: String
        let claims: JSON?
        do {
            key = try keyTemplate.renderString(context) ?? ""
            claims = try jwt.claims.flatMap { compiler.body($0) }?.render(context)
        } catch {
            throw JWTSigner.Failure(message: "http.auth.jwt: \(error.description)")
        }
        secrets.add([key])
        do {
            let token = try JWTSigner.sign(algorithm: jwt.algorithm, key: key, claimsJSON: claims?.serialized() ?? "{}",
                                           lifetime: jwt.lifetime)
            secrets.add([token])
            return token
        } catch {
            let place = jwt.location.map { "\($0): " } ?? ""
            throw JWTSigner.Failure(message: "\(place)http.auth.jwt: \(error.message)")
        }
    }
}

/// Auth as resolved for a run: static values rendered once, or the login scheme.
enum ResolvedAuth: Sendable {
    case none
    case header(name: String, value: String)
    case query(name: String, value: String)
    case login(LoginAuth)
}

/// The login credential shared by every task of a session. Concurrent callers that need a new
/// credential wait for the same login instead of each logging in.
final class LoginCoordinator: Sendable {
    struct Credential: Sendable, Equatable {
        var token: String
        /// The Authorization header value.
        var header: String
        /// When to log in again; nil when the response gave no lifetime.
        var renewAt: ContinuousClock.Instant?
    }

    private struct State {
        var current: Credential?
        var pending: Task<Result<Credential, FetchError>, Never>?
    }
    private let state = Locked(State())

    func credential(replacing stale: Credential?,
                    login: @escaping @Sendable () async -> Result<Credential, FetchError>) async -> Result<Credential, FetchError> {
        enum Found { case current(Credential), login(Task<Result<Credential, FetchError>, Never>) }
        let found: Found = state.withLock { state in
            if let pending = state.pending { return .login(pending) }
            if let current = state.current, current != stale, current.renewAt.map({ ContinuousClock.now < $0 }) ?? true {
                return .current(current)
            }
            let task = Task { [state = self.state] in
                let result = await login()
                state.withLock { state in
                    if case .success(let credential) = result { state.current = credential }
                    state.pending = nil
                }
                return result
            }
            state.pending = task
            return .login(task)
        }
        switch found {
        case .current(let current): return .success(current)
        case .login(let task): return await task.value
        }
    }
}

extension HTTPClient.Configuration {
    /// The client settings of an integration's `http` section: timeouts, concurrency, retries,
    /// rate limit, live share and TLS verification. `secrets` are redacted from every error the client throws.
    public init(for integration: Integration, secrets: [String] = [], secretStore: SecretStore? = nil) {
        let http = integration.http
        self.init(connectTimeout: .seconds(http.connectTimeout), timeout: .seconds(http.totalTimeout),
                  maxConcurrentRequests: http.concurrency,
                  rateLimit: http.rateLimit.map { RateLimit(requests: $0.requests, per: .seconds($0.per)) },
                  maxResponseBodyBytes: http.maxResponseBytes,
                  retry: RetryPolicy(maxAttempts: http.retryAttempts, retryableStatuses: Set(http.retryStatuses),
                                     maxTotalWait: .seconds(http.retryMaxWait)),
                  verifyTLS: http.verifyTLS, secrets: secrets, secretStore: secretStore)
        liveShare = http.liveShare
    }
}
