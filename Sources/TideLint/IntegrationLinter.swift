import TideCore
import TideIntegration
import TideJQ
import TideMapping

/// The linter's own checks of a loaded `integration.yml`, beyond what the loader reports (its
/// spec, parents, names and the kinds webhooks name): jq and templates compile, templates read
/// declared configuration and selector fields, sensitive settings stay out of URLs, pagination
/// can end, paths are segments, webhooks verify. It reads the model, whose values keep where
/// they were written; `source` places a finding inside a scalar.
struct IntegrationLinter {
    let source: SourceText
    let integration: Integration
    var diagnostics: [Diagnostic] = []
    var batch: JQBatch

    init(source: SourceText, integration: Integration) {
        self.source = source
        self.integration = integration
        batch = JQBatch(source: source)
    }

    var configuration: [String] { integration.configuration.map(\.name).filter { !$0.isEmpty } }

    mutating func run() {
        http()
        for kind in integration.kinds { self.kind(kind) }
        webhooks()
        // `record.scrub` paths compile, as the recorder wraps them in path(…).
        for (index, rule) in integration.record.scrub.enumerated() {
            if case .path(let expression) = rule.target {
                jq(JQExpression("path(\(expression.source)\n)", location: expression.location), field: "record.scrub[\(index)].path")
            }
        }
        diagnostics += batch.check()
    }

    // MARK: - Webhooks

    /// Matchers compile, secrets read declared configuration, and an endpoint that verifies
    /// nothing is a warning (anyone who finds the URL could write to the catalog).
    mutating func webhooks() {
        for (index, webhook) in integration.webhooks.enumerated() {
            let place = "webhooks[\(index)]"
            if webhook.verify.isEmpty {
                diagnostics.append(Diagnostic(.warning, at: webhook.location,
                                              "\(place) (\(webhook.path)) verifies no signature or token: anyone who can reach it can change the catalog",
                                              rule: LintRule.webhookUnverified,
                                              hint: "add verify: with type hmac, standardWebhooks or token, its secret from a sensitive setting"))
            }
            for scheme in webhook.verify {
                switch scheme {
                case .hmac(let secret, _, _, _, _, _), .token(let secret, _, _):
                    template(secret, field: "\(place).verify.secret", selector: nil)
                case .standardWebhooks(let secrets, _):
                    for secret in secrets { template(secret, field: "\(place).verify.secrets", selector: nil) }
                }
            }
            if let register = webhook.registration {
                let field = "\(place).register"
                jq(register.when, field: field + ".when")
                if let exists = register.exists {
                    batch.expression(exists.source, program: "null as $url | null as $config | (\(exists.source)\n)", at: exists.location,
                                     field: field + ".exists")
                }
                if let list = register.list { request(list, field: field + ".list", selector: []) }
                request(register.create, field: field + ".create", selector: [])
            }
            for (eventIndex, event) in webhook.events.enumerated() {
                let field = "\(place).events[\(eventIndex)]"
                jq(event.match, field: field + ".match")
                jq(event.item, field: field + ".item")
                jq(event.key, field: field + ".key")
                jq(event.parent, field: field + ".parent")
                // Refetch expressions are compiled after the quoting helpers (jql_quote), as the engine does.
                for (name, expression) in event.refetch where !Self.isNull(expression.source) {
                    batch.expression(expression.source, program: WebhookDefinition.refetchHelpers + expression.source,
                                     at: expression.location, field: field + ".refetch.\(name)")
                }
            }
        }
    }

    // MARK: - http

    mutating func http() {
        let http = integration.http
        // http-level templates serve every kind, so a selector field any kind declares is fine.
        let anySelector = Set(integration.kinds.flatMap { $0.selector.map(\.name) })
        template(http.baseURL, field: "http.baseUrl", selector: anySelector, inURL: true)
        for (name, value) in http.headers {
            template(value, field: "http.headers.\(name)", selector: anySelector)
        }
        for scheme in http.auth {
            let field = scheme.index.map { "http.auth[\($0)]" } ?? "http.auth"
            if let when = scheme.when {
                jq(when, field: "\(field).when")
                references(at: when.location, text: when.source, offset: 0, expression: when.source, field: "\(field).when",
                           selector: nil, inURL: false)
            }
            switch scheme.method {
            case .none:
                break
            case .basic(let username, let password):
                template(username, field: "\(field).username", selector: anySelector)
                template(password, field: "\(field).password", selector: anySelector)
            case .bearer(let token):
                template(token, field: "\(field).token", selector: anySelector)
            case .apiKey(_, let value, _):
                template(value, field: "\(field).value", selector: anySelector)
            case .login(let login):
                template(login.header, field: "\(field).header", selector: anySelector)
                jq(login.token, field: "\(field).token")
                jq(login.expiresIn, field: "\(field).expiresIn")
                request(login.request, field: "\(field).request", selector: anySelector)
                for (name, value) in login.form {
                    template(value, field: "\(field).request.form.\(name)", selector: anySelector)
                }
                if let jwt = login.jwt {
                    template(jwt.key, field: "\(field).jwt.key", selector: anySelector)
                    if let claims = jwt.claims { bodyTemplates(claims, field: "\(field).jwt.claims", selector: anySelector) }
                }
            }
        }
    }

    // MARK: - Kinds

    mutating func kind(_ kind: KindDefinition) {
        let prefix = "kinds.\(kind.name)"
        request(kind.request, field: "\(prefix).request", selector: Set(kind.selector.map(\.name)))
        jq(kind.records, field: "\(prefix).records", seesParent: true)
        let pagination = kind.pagination
        jq(pagination.stop, field: "\(prefix).pagination.stop", seesResponse: true)
        switch pagination.strategy {
        case .offset(_, _, _, _, _, let total), .page(_, _, _, _, _, let total):
            jq(total, field: "\(prefix).pagination.total", seesResponse: true)
        case .cursor(let cursor, _, _):
            jq(cursor, field: "\(prefix).pagination.cursor", seesResponse: true)
        case .nextURL(let next):
            jq(next, field: "\(prefix).pagination.next", seesResponse: true)
        case .graphql(let pageInfo, _):
            jq(pageInfo, field: "\(prefix).pagination.pageInfo", seesResponse: true)
        case .none, .linkHeader:
            break
        }
        for (index, rule) in kind.responses.enumerated() {
            jq(rule.when, field: "\(prefix).responses[\(index)].when", seesResponse: true)
        }
        if let partitions = kind.partitions {
            switch partitions.source {
            case .kind(_, let value): jq(value, field: "\(prefix).partitions.value")
            case .values(let values): jq(values, field: "\(prefix).partitions.values")
            case .dateWindows: break
            }
            if let count = partitions.count {
                request(count.request, field: "\(prefix).partitions.count.request", selector: Set(kind.selector.map(\.name)))
                jq(count.value, field: "\(prefix).partitions.count.value")
            }
        }
        paginationEnds(kind)
    }

    mutating func request(_ request: RequestDefinition, field: String, selector: Set<String>) {
        if let path = request.path {
            template(path, field: "\(field).path", selector: selector, inURL: true)
            if let problem = PathTemplate.problem(path.text) {
                diagnostics.append(Diagnostic(at: path.location, "\(field).path \(problem.message)", rule: LintRule.pathSegment, hint: problem.hint))
            }
        }
        if let url = request.url { template(url, field: "\(field).url", selector: selector, inURL: true) }
        for (name, value) in request.query {
            template(value, field: "\(field).query.\(name)", selector: selector, inURL: true)
        }
        for (name, value) in request.headers {
            template(value, field: "\(field).headers.\(name)", selector: selector)
        }
        if let body = request.body { bodyTemplates(body, field: "\(field).body", selector: selector) }
    }

    /// Strings anywhere in a JSON body are templates.
    mutating func bodyTemplates(_ body: JSONTemplate, field: String, selector: Set<String>) {
        switch body {
        case .literal: break
        case .string(let template): self.template(template, field: field, selector: selector)
        case .array(let items):
            for (index, item) in items.enumerated() { bodyTemplates(item, field: "\(field)[\(index)]", selector: selector) }
        case .object(let pairs):
            for (key, value) in pairs { bodyTemplates(value, field: "\(field).\(key)", selector: selector) }
        }
    }

    // MARK: - Pagination

    /// Flags only pagination that cannot end well whatever the API answers (see docs/lint.md):
    /// the runtime already ends on an empty page, on a short offset/page page, on a null cursor
    /// or next URL, and fails on a repeated cursor, so most configurations do terminate.
    mutating func paginationEnds(_ kind: KindDefinition) {
        let prefix = "kinds.\(kind.name).pagination"
        switch kind.pagination.strategy {
        case .cursor(let expression, _, _), .nextURL(let expression):
            // A constant cursor is sent again on the second page: with no `stop`, that page can
            // only repeat the first, and the kind fails as soon as the API has two pages.
            let name: String
            if case .cursor = kind.pagination.strategy { name = "cursor" } else { name = "next" }
            guard kind.pagination.stop == nil, expression.location != nil,
                  let value = JQScan.literal(expression.source), !value.isNull, value.stringValue != "" else { return }
            diagnostics.append(Diagnostic(at: expression.location,
                                          "\(prefix).\(name) is the constant \(value.serialized()), so every page asks for the same next page and pagination cannot end",
                                          rule: LintRule.paginationNoEnd,
                                          hint: "read it from the response (for example .nextPageToken), or add a stop condition"))
        case .offset(let param, _, _, _, let inBody, _), .page(let param, _, _, _, let inBody, _):
            // An offset or page number sent in the query is appended after the query the path
            // already has; if the path fixes that parameter, APIs read the fixed one, every page
            // is the first page, and a full first page never ends.
            guard !inBody else { return }
            let type: String
            if case .offset = kind.pagination.strategy { type = "offset" } else { type = "page" }
            for (name, written) in [("path", kind.request.path), ("url", kind.request.url)] {
                guard let written, let query = written.text.split(separator: "?", maxSplits: 1).dropFirst().first else { continue }
                let fixed = query.split(separator: "&").contains { $0.split(separator: "=", maxSplits: 1).first.map(String.init) == param }
                guard fixed else { continue }
                diagnostics.append(Diagnostic(at: written.location,
                                              "kinds.\(kind.name).request.\(name) fixes \"\(param)\", which \(type) pagination sets on every page, so every page is the first and pagination cannot end",
                                              rule: LintRule.paginationNoEnd,
                                              hint: "remove \(param) from the \(name); pagination sends it"))
            }
        case .none, .linkHeader, .graphql:
            return
        }
    }

    // MARK: - Templates and jq

    /// A `{{ jq }}` template: compiles as `CompiledTemplate` compiles it, and reads only declared
    /// configuration and selector fields.
    mutating func template(_ template: TemplateSource, field: String, selector: Set<String>?, inURL: Bool = false) {
        let text = template.text
        // Written as no value at all (a spec placeholder, or a null header kept as `{{ null }}`).
        guard template.location != nil, text.contains("{{") else { return }
        let pieces = JQScan.pieces(of: text)
        batch.template(at: template.location, text: text, pieces: pieces, field: field)
        for piece in pieces ?? [] {
            references(at: template.location, text: text, offset: piece.offset, expression: piece.expression, field: field,
                       selector: selector, inURL: inURL)
        }
    }

    /// `.config.X` must be declared configuration, `.selector.X` a selector field of the kind;
    /// sensitive configuration in a URL is a warning. `text`, written at `location`, holds the
    /// expression at `offset`.
    mutating func references(at written: SourceLocation?, text: String, offset: Int, expression: String, field: String,
                             selector: Set<String>?, inURL: Bool) {
        for reference in JQScan.references(in: expression) {
            let location = source.location(of: written, text: text, offset: offset + reference.offset)
            if reference.root == "config" {
                if !configuration.contains(reference.name) {
                    let suggestion = DidYouMean.closest(to: reference.name, in: configuration).map { " (did you mean \"\($0)\"?)" } ?? ""
                    diagnostics.append(Diagnostic(at: location, "\(field) reads .config.\(reference.name), which configuration does not declare\(suggestion)",
                                                  rule: LintRule.templateUnknownConfig))
                } else if inURL, integration.sensitiveFields.contains(reference.name) {
                    diagnostics.append(Diagnostic(.warning, at: location,
                                                  "\(field) puts the sensitive setting \"\(reference.name)\" into the URL, where proxies and server logs keep it",
                                                  rule: LintRule.sensitiveInURL,
                                                  hint: "send it in a header (auth, or headers:) instead"))
                }
            } else if let selector, !selector.contains(reference.name) {
                let suggestion = DidYouMean.closest(to: reference.name, in: Array(selector)).map { " (did you mean \"\($0)\"?)" } ?? ""
                diagnostics.append(Diagnostic(at: location, "\(field) reads .selector.\(reference.name), which the kind's selector does not declare\(suggestion)",
                                              rule: LintRule.templateUnknownSelector))
            }
        }
    }

    /// A jq field as written (a spec default, which has no position, is not the author's).
    /// Pagination's fields are compiled with `$headers` and `$page` bound, `records` with
    /// `$parent`, as the fetcher runs them.
    mutating func jq(_ expression: JQExpression?, field: String, seesResponse: Bool = false, seesParent: Bool = false) {
        guard let expression, expression.location != nil, !Self.isNull(expression.source) else { return }
        batch.expression(expression.source, at: expression.location, field: field, seesResponse: seesResponse, seesParent: seesParent)
    }

    /// The text of a scalar written as null (`key:` or `key: ~`); YAML's plain `null` is valid jq.
    static func isNull(_ text: String) -> Bool { text.isEmpty || text == "~" }
}
