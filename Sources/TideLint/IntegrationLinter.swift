import Foundation
import TideCore
import TideIntegration
import TideJQ
import TideSpec
import TideYAML

/// What `integration.yml` declares, read leniently from its tree (so a file with structural
/// errors still gives context for the other checks).
struct IntegrationFacts {
    struct Kind {
        var name: String
        var node: YAMLNode
        var selectorFields: [String]
    }
    var configuration: [String] = []
    var sensitive: Set<String> = []
    var kinds: [Kind] = []

    func kind(_ name: String) -> Kind? { kinds.first { $0.name == name } }

    init() {}

    init(root: YAMLNode) {
        for item in root["configuration"]?.items ?? [] {
            guard let name = item["name"]?.string else { continue }
            configuration.append(name)
            if case .bool(true)? = item["sensitive"]?.value { sensitive.insert(name) }
        }
        for pair in root["kinds"]?.pairs ?? [] {
            guard let name = pair.key.scalar?.text else { continue }
            let fields = (pair.value["selector"]?.pairs ?? []).compactMap { $0.key.scalar?.text }
            kinds.append(Kind(name: name, node: pair.value, selectorFields: fields))
        }
    }
}

/// The checks of one `integration.yml` beyond its spec: jq, templates and what they reference,
/// parents, pagination, names.
struct IntegrationLinter {
    let source: SourceText
    let root: YAMLNode
    let facts: IntegrationFacts
    var diagnostics: [Diagnostic] = []
    var batch: JQBatch

    init(source: SourceText, root: YAMLNode) {
        self.source = source
        self.root = root
        facts = IntegrationFacts(root: root)
        batch = JQBatch(source: source)
    }

    mutating func run() {
        diagnostics += SpecValidator.validate(root, against: IntegrationSpec.root)
        duplicateConfigurationNames()
        http()
        for kind in facts.kinds { self.kind(kind) }
        parents()
        webhooks()
        diagnostics += batch.check()
    }

    // MARK: - Webhooks

    /// Matchers compile, secrets read declared configuration, and an endpoint that verifies
    /// nothing is a warning (anyone who finds the URL could write to the catalog).
    mutating func webhooks() {
        for (index, webhook) in (root["webhooks"]?.items ?? []).enumerated() {
            let place = "webhooks[\(index)]"
            let verify = webhook["verify"].map { $0.items ?? [$0] } ?? []
            if verify.isEmpty {
                diagnostics.append(Diagnostic(.warning, at: webhook.location,
                                              "\(place) (\(webhook["path"]?.scalar?.text ?? "?")) verifies no signature or token: anyone who can reach it can change the catalog",
                                              rule: LintRule.webhookUnverified,
                                              hint: "add verify: with type hmac, standardWebhooks or token, its secret from a sensitive setting"))
            }
            for scheme in verify {
                template(scheme["secret"], field: "\(place).verify.secret", selector: nil)
                for secret in scheme["secrets"].map({ $0.items ?? [$0] }) ?? [] {
                    template(secret, field: "\(place).verify.secrets", selector: nil)
                }
            }
            if let register = webhook["register"] {
                let field = "\(place).register"
                jq(register["when"], field: field + ".when")
                if let exists = register["exists"], let text = exists.scalar?.text {
                    batch.expression(text, program: "null as $url | null as $config | (\(text)\n)", node: exists, field: field + ".exists")
                }
                request(register["list"], field: field + ".list", selector: [])
                request(register["create"], field: field + ".create", selector: [])
            }
            for (eventIndex, event) in (webhook["events"]?.items ?? []).enumerated() {
                let field = "\(place).events[\(eventIndex)]"
                jq(event["match"], field: field + ".match")
                jq(event["item"], field: field + ".item")
                jq(event["key"], field: field + ".key")
                // Refetch expressions are compiled after the quoting helpers (jql_quote), as the engine does.
                for pair in event["refetch"]?.pairs ?? [] {
                    guard let scalar = pair.value.scalar, !(scalar.style == .plain && scalar.value == .null) else { continue }
                    let text = scalar.text
                    batch.expression(text, program: WebhookDefinition.refetchHelpers + text, node: pair.value,
                                     field: field + ".refetch.\(pair.key.name)")
                }
                for kind in event["kinds"]?.items ?? [] where facts.kind(kind.name) == nil {
                    let suggestion = DidYouMean.closest(to: kind.name, in: facts.kinds.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
                    diagnostics.append(Diagnostic(at: kind.location, "\(field).kinds names \"\(kind.name)\", which is not a kind here\(suggestion)",
                                                  rule: LintRule.unknownKind))
                }
            }
        }
    }

    // MARK: - Configuration

    mutating func duplicateConfigurationNames() {
        var seen: [String: YAMLNode] = [:]
        for item in root["configuration"]?.items ?? [] {
            guard let nameNode = item["name"], let name = nameNode.string else { continue }
            if let first = seen[name] {
                diagnostics.append(Diagnostic(at: nameNode.location,
                                              "configuration \"\(name)\" is declared twice (first at line \(first.location.line))",
                                              rule: LintRule.duplicateName))
            } else {
                seen[name] = nameNode
            }
        }
    }

    // MARK: - http

    mutating func http() {
        guard let http = root["http"] else { return }
        // http-level templates serve every kind, so a selector field any kind declares is fine.
        let anySelector = Set(facts.kinds.flatMap(\.selectorFields))
        template(http["baseUrl"], field: "http.baseUrl", selector: anySelector, inURL: true)
        for pair in http["headers"]?.pairs ?? [] {
            template(pair.value, field: "http.headers.\(pair.key.name)", selector: anySelector)
        }
        let schemes: [YAMLNode]
        if let auth = http["auth"] { schemes = auth.items ?? [auth] } else { schemes = [] }
        for (index, scheme) in schemes.enumerated() where scheme.pairs != nil {
            let field = schemes.count == 1 && http["auth"]?.items == nil ? "http.auth" : "http.auth[\(index)]"
            if let when = scheme["when"] {
                jq(when, field: "\(field).when")
                references(in: when, offset: 0, expression: when.scalar?.text ?? "", field: "\(field).when", selector: nil, inURL: false)
            }
            for name in ["username", "password", "token", "value", "header"] where scheme["type"]?.string != "login" || name == "header" {
                template(scheme[name], field: "\(field).\(name)", selector: anySelector)
            }
            if scheme["type"]?.string == "login" {
                jq(scheme["token"], field: "\(field).token")
                jq(scheme["expiresIn"], field: "\(field).expiresIn")
                request(scheme["request"], field: "\(field).request", selector: anySelector)
                for pair in scheme["request"]?["form"]?.pairs ?? [] {
                    template(pair.value, field: "\(field).request.form.\(pair.key.name)", selector: anySelector)
                }
                if let jwt = scheme["jwt"] {
                    template(jwt["key"], field: "\(field).jwt.key", selector: anySelector)
                    if let claims = jwt["claims"] { bodyTemplates(claims, field: "\(field).jwt.claims", selector: anySelector) }
                }
            }
        }
    }

    // MARK: - Kinds

    mutating func kind(_ kind: IntegrationFacts.Kind) {
        let node = kind.node
        guard node.pairs != nil else { return }
        let prefix = "kinds.\(kind.name)"
        request(node["request"], field: "\(prefix).request", selector: Set(kind.selectorFields))
        jq(node["records"], field: "\(prefix).records", seesParent: true)
        guard let pagination = node["pagination"], pagination.pairs != nil else { return }
        for name in ["stop", "total", "cursor", "next"] {
            jq(pagination[name], field: "\(prefix).pagination.\(name)", seesResponse: true)
        }
        paginationEnds(kind, pagination)
    }

    mutating func request(_ node: YAMLNode?, field: String, selector: Set<String>) {
        guard let node, node.pairs != nil else { return }
        template(node["path"], field: "\(field).path", selector: selector, inURL: true)
        if let path = node["path"], let problem = PathTemplate.problem(path.scalar?.text ?? "") {
            diagnostics.append(Diagnostic(at: path.location, "\(field).path \(problem.message)", rule: LintRule.pathSegment, hint: problem.hint))
        }
        template(node["url"], field: "\(field).url", selector: selector, inURL: true)
        for pair in node["query"]?.pairs ?? [] {
            template(pair.value, field: "\(field).query.\(pair.key.name)", selector: selector, inURL: true)
        }
        for pair in node["headers"]?.pairs ?? [] {
            template(pair.value, field: "\(field).headers.\(pair.key.name)", selector: selector)
        }
        if let body = node["body"] { bodyTemplates(body, field: "\(field).body", selector: selector) }
    }

    /// Strings anywhere in a JSON body are templates.
    mutating func bodyTemplates(_ node: YAMLNode, field: String, selector: Set<String>) {
        switch node.kind {
        case .scalar(let scalar):
            if case .string = scalar.value { template(node, field: field, selector: selector) }
        case .sequence(let items):
            for (index, item) in items.enumerated() { bodyTemplates(item, field: "\(field)[\(index)]", selector: selector) }
        case .mapping(let pairs):
            for pair in pairs { bodyTemplates(pair.value, field: "\(field).\(pair.key.name)", selector: selector) }
        }
    }

    // MARK: - Parents

    mutating func parents() {
        diagnostics += KindParents.problems(facts.kinds.map { kind in
            let parent = kind.node["parent"]
            return KindParents.Link(kind: kind.name, parent: parent?.string, location: parent?.location)
        })
    }

    // MARK: - Pagination

    /// Flags only pagination that cannot end well whatever the API answers (see docs/lint.md):
    /// the runtime already ends on an empty page, on a short offset/page page, on a null cursor
    /// or next URL, and fails on a repeated cursor, so most configurations do terminate.
    mutating func paginationEnds(_ kind: IntegrationFacts.Kind, _ pagination: YAMLNode) {
        let type = pagination["type"]?.string ?? "none"
        let prefix = "kinds.\(kind.name).pagination"
        switch type {
        case "cursor", "nextUrl":
            // A constant cursor is sent again on the second page: with no `stop`, that page can
            // only repeat the first, and the kind fails as soon as the API has two pages.
            let name = type == "cursor" ? "cursor" : "next"
            guard pagination["stop"] == nil, let node = pagination[name], let text = node.scalar?.text,
                  let value = JQScan.literal(text), !value.isNull, value.stringValue != "" else { return }
            diagnostics.append(Diagnostic(at: node.location,
                                          "\(prefix).\(name) is the constant \(value.serialized()), so every page asks for the same next page and pagination cannot end",
                                          rule: LintRule.paginationNoEnd,
                                          hint: "read it from the response (for example .nextPageToken), or add a stop condition"))
        case "offset", "page":
            // An offset or page number sent in the query is appended after the query the path
            // already has; if the path fixes that parameter, APIs read the fixed one, every page
            // is the first page, and a full first page never ends.
            guard pagination["in"]?.string != "body" else { return }
            let param = pagination[type == "offset" ? "offsetParam" : "pageParam"]?.string ?? type
            for name in ["path", "url"] {
                guard let node = kind.node["request"]?[name], let text = node.scalar?.text,
                      let query = text.split(separator: "?", maxSplits: 1).dropFirst().first else { continue }
                let fixed = query.split(separator: "&").contains { $0.split(separator: "=", maxSplits: 1).first.map(String.init) == param }
                guard fixed else { continue }
                diagnostics.append(Diagnostic(at: node.location,
                                              "kinds.\(kind.name).request.\(name) fixes \"\(param)\", which \(type) pagination sets on every page, so every page is the first and pagination cannot end",
                                              rule: LintRule.paginationNoEnd,
                                              hint: "remove \(param) from the \(name); pagination sends it"))
            }
        default:
            return
        }
    }

    // MARK: - Templates and jq

    /// A `{{ jq }}` template: compiles as `CompiledTemplate` compiles it, and reads only declared
    /// configuration and selector fields.
    mutating func template(_ node: YAMLNode?, field: String, selector: Set<String>?, inURL: Bool = false) {
        guard let node, let scalar = node.scalar, !(scalar.style == .plain && scalar.value == .null) else { return }
        let text = scalar.text
        guard text.contains("{{") else { return }
        let pieces = JQScan.pieces(of: text)
        batch.template(node: node, text: text, pieces: pieces, field: field)
        for piece in pieces ?? [] {
            references(in: node, offset: piece.offset, expression: piece.expression, field: field, selector: selector, inURL: inURL)
        }
    }

    /// `.config.X` must be declared configuration, `.selector.X` a selector field of the kind;
    /// sensitive configuration in a URL is a warning.
    mutating func references(in node: YAMLNode, offset: Int, expression: String, field: String, selector: Set<String>?, inURL: Bool) {
        for reference in JQScan.references(in: expression) {
            let location = source.location(of: node, offset: offset + reference.offset)
            if reference.root == "config" {
                if !facts.configuration.contains(reference.name) {
                    let suggestion = DidYouMean.closest(to: reference.name, in: facts.configuration).map { " (did you mean \"\($0)\"?)" } ?? ""
                    diagnostics.append(Diagnostic(at: location, "\(field) reads .config.\(reference.name), which configuration does not declare\(suggestion)",
                                                  rule: LintRule.templateUnknownConfig))
                } else if inURL, facts.sensitive.contains(reference.name) {
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

    /// A jq field. Pagination's fields are compiled with `$headers` and `$page` bound, `records`
    /// with `$parent`, as the fetcher runs them.
    mutating func jq(_ node: YAMLNode?, field: String, seesResponse: Bool = false, seesParent: Bool = false) {
        guard let node, let scalar = node.scalar, !(scalar.style == .plain && scalar.value == .null) else { return }
        batch.expression(scalar.text, node: node, field: field, seesResponse: seesResponse, seesParent: seesParent)
    }
}

extension YAMLNode {
    /// A key's text for messages and paths.
    var name: String { scalar?.text ?? "?" }
}
