import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// Compiles templates and jq expressions, collecting every failure with its position so one
/// load reports them all.
struct Compiler {
    var diagnostics: [Diagnostic] = []

    mutating func template(_ source: TemplateSource, pathSegments: Bool = false) -> CompiledTemplate? {
        do { return try CompiledTemplate(source, pathSegments: pathSegments) } catch {
            diagnostics.append(error)
            return nil
        }
    }

    mutating func templates(_ pairs: [(name: String, value: TemplateSource)]) -> [(name: String, value: CompiledTemplate)] {
        pairs.compactMap { pair in template(pair.value).map { (pair.name, $0) } }
    }

    /// `what` names the field in messages, e.g. `pagination.cursor of kind "issue"`.
    mutating func program(_ expression: JQExpression, what: String, seesResponse: Bool = false, seesParent: Bool = false) -> JQProgram? {
        // The user's expression sees the body as `.`; `$headers` and `$page` (or `$parent`) are
        // bound around it. It starts on the prefix's line, so libjq's line numbers stay the user's.
        let text = seesResponse
            ? ".headers as $headers | .page as $page | .body | (\(expression.source)\n)"
            : seesParent ? ".parent as $parent | .body | (\(expression.source)\n)" : expression.source
        // A plain path (`.nextPageToken`, `.values`) is read natively: most pagination fields and
        // records are, and each compile costs libjq milliseconds for every run a kind reads at once.
        if seesResponse || seesParent, let steps = JSONPath.plainSteps(expression.source) {
            return JQProgram(text, plainPath: [.key("body")] + steps)
        }
        do { return try JQProgram(text) } catch {
            diagnostics.append(Diagnostic(at: expression.location, "\(what): jq \"\(expression.source)\" does not compile: \(error.message)",
                                          rule: "jq-compile"))
            return nil
        }
    }

    mutating func body(_ template: JSONTemplate) -> CompiledJSON? {
        switch template {
        case .literal(let text):
            do { return .literal(try JSON(parsing: text)) } catch {
                diagnostics.append(Diagnostic(at: nil, "body value \(text) is not JSON: \(error.message)", rule: "template"))
                return nil
            }
        case .string(let source):
            return self.template(source).map(CompiledJSON.template)
        case .array(let items):
            return .array(items.compactMap { body($0) })
        case .object(let pairs):
            return .object(pairs.compactMap { pair in body(pair.value).map { (pair.key, $0) } })
        }
    }

    func finish() throws(Diagnostics) {
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }
    }
}

/// A request body whose strings are compiled templates.
indirect enum CompiledJSON {
    case literal(JSON)
    case template(CompiledTemplate)
    case array([CompiledJSON])
    case object([(key: String, value: CompiledJSON)])

    /// The body for `context`; nil when it renders null. Object keys whose value renders null are
    /// left out; array elements stay (dropping them would shift positions).
    func render(_ context: JSON) throws(TemplateError) -> JSON? {
        switch self {
        case .literal(let value):
            return value
        case .template(let template):
            return try template.render(context)
        case .array(let items):
            var values: [JSON] = []
            for item in items { values.append(try item.render(context) ?? .null) }
            return JSON(array: values)
        case .object(let pairs):
            var members: [(String, JSON)] = []
            for pair in pairs {
                if let value = try pair.value.render(context) { members.append((pair.key, value)) }
            }
            return JSON(orderedObject: members)
        }
    }
}

/// A request rendered from templates, before pagination parameters and auth are added.
struct RenderedRequest {
    var method: HTTPMethod
    /// Absolute URL without the rendered query.
    var url: String
    var query: [(name: String, value: String)]
    var headers: HTTPHeaders
    var body: JSON?
    /// Form fields, when the body is `application/x-www-form-urlencoded` (login only).
    var form: [(name: String, value: String)]?
    var retryable: Bool?

    /// Sets a pagination parameter, replacing one the kind set under the same name.
    mutating func set(_ name: String, to value: JSON, inBody: Bool) {
        if inBody {
            body = (body ?? JSON(orderedObject: [])).setting(name, to: value)
        } else {
            query.removeAll { $0.name == name }
            query.append((name, value.stringValue ?? value.serialized()))
        }
    }

    /// The request to send. Content-Type is added for a body unless a header set it.
    func httpRequest() -> HTTPRequest {
        var headers = headers
        var bytes: [UInt8]?
        if let form {
            bytes = Array(form.map { URLText.encodeComponent($0.name) + "=" + URLText.encodeComponent($0.value) }
                .joined(separator: "&").utf8)
            if !headers.contains("Content-Type") { headers.add("Content-Type", "application/x-www-form-urlencoded") }
        } else if let body {
            bytes = Array(body.serialized().utf8)
            if !headers.contains("Content-Type") { headers.add("Content-Type", "application/json") }
        }
        return HTTPRequest(method: method, url: URLText.appendingQuery(url, query), headers: headers, body: bytes,
                           retryable: retryable)
    }
}

/// The templates of one request definition (plus `http.baseUrl` and `http.headers`), compiled.
/// Not thread-safe: it owns jq programs (`SharedRequest` makes one usable from several tasks).
final class CompiledRequest {
    let method: HTTPMethod
    let baseURL: CompiledTemplate?
    let url: CompiledTemplate?
    let path: CompiledTemplate?
    let query: [(name: String, value: CompiledTemplate)]
    /// `http.headers` first, then the request's own, which replace same-named ones.
    let headers: [(name: String, value: CompiledTemplate)]
    let body: CompiledJSON?
    let form: [(name: String, value: CompiledTemplate)]?
    let retryable: Bool?

    init(_ definition: RequestDefinition, http: HTTPSettings, form: [(name: String, value: TemplateSource)]? = nil,
         compiler: inout Compiler) {
        method = HTTPMethod(definition.method)
        baseURL = definition.url == nil ? compiler.template(http.baseURL) : nil
        url = definition.url.flatMap { compiler.template($0) }
        if let source = definition.path, let problem = PathTemplate.problem(source.text) {
            compiler.diagnostics.append(Diagnostic(at: source.location, "path \"\(source.text)\" \(problem.message)",
                                                   rule: "path-segment", hint: problem.hint))
        }
        path = definition.path.flatMap { compiler.template($0, pathSegments: true) }
        query = compiler.templates(definition.query)
        headers = compiler.templates(http.headers) + compiler.templates(definition.headers)
        body = definition.body.flatMap { compiler.body($0) }
        self.form = form.flatMap { $0.isEmpty ? nil : compiler.templates($0) }
        retryable = definition.retryable
    }

    func render(_ context: JSON) throws(FetchError) -> RenderedRequest {
        do {
            let address: String
            if let url {
                address = try url.renderString(context) ?? ""
            } else {
                let base = try baseURL?.renderString(context) ?? ""
                address = URLText.join(base, try path?.renderString(context) ?? "")
            }
            guard URLText.isAbsolute(address) else {
                throw FetchError(.invalidRequest, message: "the request URL \"\(address)\" is not absolute",
                                 hint: "set http.baseUrl (or the request's url) to an address starting with https:// or http://; is a configuration value missing?")
            }
            var renderedQuery: [(name: String, value: String)] = []
            for item in query {
                // An array sends the parameter once per element (`statuses[]=a&statuses[]=b`), as
                // APIs that take several values expect; null elements are left out.
                guard let value = try item.value.render(context) else { continue }
                if value.kind == .array {
                    for element in value.arrayElements where !element.isNull {
                        renderedQuery.append((item.name, element.stringValue ?? element.serialized()))
                    }
                } else {
                    renderedQuery.append((item.name, value.stringValue ?? value.serialized()))
                }
            }
            var renderedHeaders = HTTPHeaders()
            for item in headers {
                let value = try item.value.renderString(context)
                // A later (request-level) header replaces an earlier (http-level) one; null removes it.
                renderedHeaders.set(item.name, value)
                if let value, value.contains(where: { $0 == "\r" || $0 == "\n" }) {
                    throw FetchError(.invalidRequest, message: "header \"\(item.name)\" renders to a value with a line break",
                                     hint: "headers must be one line; check the template of \(item.name)")
                }
            }
            var renderedForm: [(name: String, value: String)]?
            if let form {
                var fields: [(name: String, value: String)] = []
                for item in form {
                    if let value = try item.value.renderString(context) { fields.append((item.name, value)) }
                }
                renderedForm = fields
            }
            return RenderedRequest(method: method, url: URLText.normalize(address), query: renderedQuery,
                                   headers: renderedHeaders, body: try body?.render(context), form: renderedForm,
                                   retryable: retryable)
        } catch let error as TemplateError {
            throw FetchError(.evaluation, message: error.description,
                             hint: "check the template against the configuration and selector values")
        } catch let error as FetchError {
            throw error
        } catch {
            throw FetchError(.evaluation, message: String(describing: error))
        }
    }
}

extension CompiledRequest {
    /// Every template's program lets go of the last context.
    func releaseInputs() {
        for template in [baseURL, url, path].compactMap({ $0 }) { template.releaseInput() }
        for item in query + headers + (form ?? []) { item.value.releaseInput() }
        body?.releaseInputs()
    }
}

extension CompiledJSON {
    func releaseInputs() {
        switch self {
        case .literal: break
        case .template(let template): template.releaseInput()
        case .array(let items): for item in items { item.releaseInputs() }
        case .object(let pairs): for pair in pairs { pair.value.releaseInputs() }
        }
    }
}

/// One kind's compiled request shared by the runs that read the kind side by side, so that its
/// templates are compiled once, not once per run (each jq compile costs libjq milliseconds).
///
/// Rendering happens under a lock and gives back nothing that the programs share: the body is
/// copied as JSON text (its literals are the program's own values), the programs let go of the
/// context before the lock is released, and everything else is already Swift text. libjq's
/// reference counts are not atomic, so no libjq value may be touched by two threads at once.
final class SharedRequest: @unchecked Sendable {
    private let lock = Locked(())
    private let request: CompiledRequest

    init(_ request: CompiledRequest) { self.request = request }

    /// The request for `context` (a value of the calling task's own).
    func render(_ context: JSON) throws(FetchError) -> RenderedRequest {
        try lock.withLock { _ throws(FetchError) -> RenderedRequest in
            defer { request.releaseInputs() }
            var rendered = try request.render(context)
            if let body = rendered.body {
                do throws(JSONParseError) { rendered.body = try JSON(parsing: body.serialized()) } catch {
                    throw FetchError(.evaluation, message: "the request body could not be copied: \(error.message)")
                }
            }
            return rendered
        }
    }
}
