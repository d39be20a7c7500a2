import TideCore
import TideHTTP
import TideIntegration
import TideJQ

/// Sending with the session's credentials: used by every kind's pages and by requests that
/// belong to no kind (registering a webhook at the third party).
extension FetchSession {
    /// Adds a header or query credential (basic, bearer, apiKey). A login credential is added when
    /// sending, because it may have to be obtained or renewed first.
    func addStaticCredentials(to rendered: inout RenderedRequest) {
        switch auth {
        case .header(let name, let value):
            if !rendered.headers.contains(name) { rendered.headers.add(name, value) }
        case .query(let name, let value):
            if !URLText.hasQueryParameter(rendered.url, named: name), !rendered.query.contains(where: { $0.name == name }) {
                rendered.query.append((name, value))
            }
        case .none, .login:
            break
        }
    }

    /// Sends `request`; for a login scheme, with the current credential, and after a 401 once more
    /// with a renewed one (a renewal another task already made is used as it is).
    func send(_ request: inout HTTPRequest, login: LoginAuth?) async throws(FetchError) -> HTTPResponse {
        var credential: LoginCoordinator.Credential?
        if let login {
            switch await loginCredential(login) {
            case .success(let fresh): credential = fresh
            case .failure(let error): throw error
            }
            request.headers.set("Authorization", credential?.header)
        }
        var renewed = false
        while true {
            do {
                return try await client.send(request)
            } catch {
                if let login, !renewed, error.kind == .status, error.status == 401 {
                    renewed = true
                    switch await loginCredential(login, replacing: credential) {
                    case .success(let fresh): credential = fresh
                    case .failure(let loginError): throw loginError
                    }
                    request.headers.set("Authorization", credential?.header)
                    continue
                }
                throw FetchError(.http, status: error.status, message: error.description,
                                 hint: FetchError.hint(for: error, credentialFields: credentialFields, baseURLFields: baseURLFields),
                                 httpError: error)
            }
        }
    }


    /// Renders one request of `integration.yml` that belongs to no kind, adds the credentials and
    /// sends it. Templates see `.config` and the members of `context`.
    ///
    /// - Returns: the response (2xx; other statuses are thrown after the client's retries) and the
    ///   request line with secrets redacted, for messages.
    public func send(_ definition: RequestDefinition, context members: [(String, JSON)]) async throws(FetchError) -> (response: HTTPResponse, request: String) {
        let sent = try await sendKeepingRequest(definition, context: members)
        return (sent.response, sent.line)
    }

    /// `send(_:context:)`, also giving the request as sent (what `tide record` matches exchanges with).
    func sendKeepingRequest(_ definition: RequestDefinition, context members: [(String, JSON)]) async throws(FetchError) -> (response: HTTPResponse, line: String, request: HTTPRequest) {
        var compiler = Compiler()
        let compiled = CompiledRequest(definition, http: integration.http, compiler: &compiler)
        if !compiler.diagnostics.isEmpty {
            throw FetchError(.evaluation, message: compiler.diagnostics.map(\.description).joined(separator: "; "))
        }
        let config: JSON
        do { config = try JSON(parsing: configText) } catch { throw FetchError(.evaluation, message: error.message) }
        let context = JSON(orderedObject: [("config", config)] + members)
        var rendered = try compiled.render(context)
        let sendCredentials = originPolicy.decide(rendered.url) == .withCredentials
        if sendCredentials { addStaticCredentials(to: &rendered) }
        var request = rendered.httpRequest()
        request.originPolicy = originPolicy
        let line = "\(request.method) \(redactor.redactURL(request.url))"
        var login: LoginAuth?
        if sendCredentials, case .login(let scheme) = auth { login = scheme }
        do {
            let response = try await send(&request, login: login)
            return (response, line, request)
        } catch {
            var error = error
            if error.request == nil { error.request = line }
            throw error.redacted(with: redactor)
        }
    }
}
