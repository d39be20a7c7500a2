import Foundation
import TideCore
import TideJQ
import TideMapping
import TideModel
import TideSpec
import TideYAML

extension Integration {
    /// Loads an integration directory. Every problem found is reported at once, each with its
    /// position; nothing is fetched.
    public static func load(directory: String) throws(Diagnostics) -> Integration {
        let file = (directory as NSString).appendingPathComponent("integration.yml")
        let root: YAMLNode
        do { root = try YAML.parse(contentsOf: file) } catch { throw Diagnostics([error]) }
        var diagnostics = SpecValidator.validate(root, against: IntegrationSpec.root)
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }

        var integration = IntegrationBuilder(root: root).build(directory: directory)

        let resources = (directory as NSString).appendingPathComponent(".port/resources")
        let mappingPath = ["port-app-config.yml", "port-app-config.yaml"]
            .map { (resources as NSString).appendingPathComponent($0) }
            .first { FileManager.default.fileExists(atPath: $0) }
        if let mappingPath {
            do {
                integration.defaultMapping = try PortAppConfig.load(contentsOf: mappingPath)
                diagnostics += integration.defaultMapping?.warnings ?? []
            } catch { diagnostics += error.items }
        }
        let blueprintsPath = (resources as NSString).appendingPathComponent("blueprints.json")
        if FileManager.default.fileExists(atPath: blueprintsPath) {
            do {
                let text = try String(contentsOfFile: blueprintsPath, encoding: .utf8)
                integration.blueprints = try Blueprint.list(fromJSON: text)
            } catch let error as BlueprintError {
                diagnostics.append(Diagnostic(at: SourceLocation(file: blueprintsPath, line: 1, column: 1),
                                              error.message, rule: "blueprints"))
            } catch {
                diagnostics.append(Diagnostic(at: nil, "cannot read \(blueprintsPath): \(error.localizedDescription)", rule: "io"))
            }
        }
        diagnostics += integration.crossCheck()
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }
        integration.warnings = diagnostics
        return integration
    }

    /// Checks that need the whole integration: parents exist and do not loop.
    func crossCheck() -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for kind in kinds {
            guard let parent = kind.parent else { continue }
            if self.kind(parent) == nil {
                let suggestion = DidYouMean.closest(to: parent, in: kinds.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
                diagnostics.append(Diagnostic(at: kind.location, "kind \"\(kind.name)\" names parent \"\(parent)\", which is not a kind here\(suggestion)",
                                              rule: "unknown-parent"))
                continue
            }
            var seen: Set<String> = [kind.name]
            var next: String? = parent
            while let current = next {
                if seen.contains(current) {
                    diagnostics.append(Diagnostic(at: kind.location, "kind \"\(kind.name)\" has a parent cycle through \"\(current)\"",
                                                  rule: "parent-cycle"))
                    break
                }
                seen.insert(current)
                next = self.kind(current)?.parent
            }
        }
        return diagnostics
    }
}

/// Builds the model from a tree that has passed validation; defaults come from the spec.
struct IntegrationBuilder {
    let root: YAMLNode

    func build(directory: String) -> Integration {
        let reader = SpecReader(root, IntegrationSpec.root)
        let configuration = (root["configuration"]?.items ?? []).map { item -> ConfigurationField in
            let field = SpecReader(item, IntegrationSpec.configurationField)
            return ConfigurationField(
                name: field.string("name") ?? "",
                type: ConfigurationField.ValueType(rawValue: field.string("type") ?? "string") ?? .string,
                required: field.bool("required") ?? false,
                defaultValue: item["default"]?.jsonText(),
                sensitive: field.bool("sensitive") ?? false,
                description: field.string("description"),
                location: item.location)
        }
        let kinds = (root["kinds"]?.pairs ?? []).map { pair in
            kind(name: pair.key.scalar?.text ?? "", node: pair.value, location: pair.key.location)
        }
        return Integration(
            directory: directory,
            name: reader.string("name") ?? "",
            title: reader.string("title"),
            description: reader.string("description"),
            icon: reader.string("icon"),
            version: reader.string("version") ?? "0.1.0",
            configuration: configuration,
            http: http(reader.child("http")),
            kinds: kinds,
            webhooks: (root["webhooks"]?.items ?? []).map(webhook),
            defaultMapping: nil,
            blueprints: [],
            warnings: [])
    }

    func webhook(_ node: YAMLNode) -> WebhookDefinition {
        let reader = SpecReader(node, IntegrationSpec.webhook)
        let verifyNodes: [YAMLNode]
        if let verify = node["verify"] { verifyNodes = verify.items ?? [verify] } else { verifyNodes = [] }
        let verify = verifyNodes.map { item -> WebhookDefinition.Verification in
            let scheme = SpecReader(item, IntegrationSpec.webhookVerify)
            switch scheme.string("type") ?? "" {
            case "hmac":
                return .hmac(secret: template(item["secret"]) ?? TemplateSource(""), header: scheme.string("header") ?? "",
                             prefix: scheme.string("prefix") ?? "", sha1: scheme.string("algorithm") == "sha1",
                             base64: scheme.string("encoding") == "base64", separator: scheme.string("separator").flatMap { $0.isEmpty ? nil : $0 })
            case "standardWebhooks":
                let secrets = item["secrets"].map { $0.items ?? [$0] } ?? []
                return .standardWebhooks(secrets: secrets.compactMap(template), tolerance: scheme.int("tolerance") ?? 300)
            default:
                return .token(secret: template(item["secret"]) ?? TemplateSource(""), header: scheme.string("header"),
                              query: scheme.string("query"))
            }
        }
        let events = (node["events"]?.items ?? []).enumerated().map { index, item -> WebhookDefinition.Event in
            let event = SpecReader(item, IntegrationSpec.webhookEvent)
            return WebhookDefinition.Event(
                name: event.string("name") ?? "event\(index)",
                match: expression(item["match"]) ?? JQExpression("false"),
                kinds: (item["kinds"]?.items ?? []).compactMap { $0.scalar?.text },
                item: expression(item["item"]) ?? JQExpression(".payload"),
                action: WebhookDefinition.Action(rawValue: event.string("action") ?? "upsert") ?? .upsert,
                refetch: (item["refetch"]?.pairs ?? []).compactMap { pair in
                    expression(pair.value).map { (pair.key.scalar?.text ?? "", $0) }
                },
                key: expression(item["key"]),
                location: item.location)
        }
        let retry = reader.child("retry")
        let path = reader.string("path") ?? "/webhook"
        return WebhookDefinition(
            path: path.hasPrefix("/") ? path : "/" + path,
            verify: verify, events: events,
            maxBodyBytes: reader.int("maxBodyBytes") ?? 1_048_576,
            queueSize: reader.int("queueSize") ?? 1000,
            workers: reader.int("workers") ?? 4,
            timeout: reader.double("timeout") ?? 90,
            retryAttempts: retry.int("attempts") ?? 4,
            retryInitialDelay: retry.double("initialDelay") ?? 1,
            retryMaxDelay: retry.double("maxDelay") ?? 30,
            registration: node["register"].map(registration),
            location: node.location)
    }

    func registration(_ node: YAMLNode) -> WebhookDefinition.Registration {
        let reader = SpecReader(node, IntegrationSpec.webhookRegistration)
        return WebhookDefinition.Registration(
            when: expression(node["when"]),
            list: node["list"].map { _ in request(reader.child("list")) },
            exists: expression(node["exists"]),
            create: request(reader.child("create")),
            location: node.location)
    }

    func template(_ node: YAMLNode?) -> TemplateSource? {
        guard let node, let scalar = node.scalar, !(scalar.style == .plain && scalar.value == .null) else { return nil }
        return TemplateSource(scalar.text, location: node.location)
    }

    func expression(_ node: YAMLNode?) -> JQExpression? {
        guard let node, let scalar = node.scalar else { return nil }
        return JQExpression(scalar.text, location: node.location)
    }

    func templates(_ node: YAMLNode?) -> [(name: String, value: TemplateSource)] {
        (node?.pairs ?? []).compactMap { pair in
            // A null value is kept as the template "null", which drops the parameter or header.
            let value = template(pair.value) ?? TemplateSource("{{ null }}", location: pair.value.location)
            return (pair.key.scalar?.text ?? "", value)
        }
    }

    func jsonTemplate(_ node: YAMLNode) -> JSONTemplate {
        switch node.kind {
        case .mapping(let pairs):
            return .object(pairs.map { ($0.key.scalar?.text ?? "", jsonTemplate($0.value)) })
        case .sequence(let items):
            return .array(items.map(jsonTemplate))
        case .scalar(let scalar):
            if case .string = scalar.value { return .string(TemplateSource(scalar.text, location: node.location)) }
            return .literal(node.jsonText())
        }
    }

    func http(_ reader: SpecReader) -> HTTPSettings {
        let authNodes: [YAMLNode]
        if let node = reader["auth"] { authNodes = node.items ?? [node] } else { authNodes = [] }
        let timeout = reader.child("timeout"), retry = reader.child("retry"), rate = reader.child("rateLimit")
        let statuses = (retry["statuses"]?.items ?? []).compactMap { item -> Int? in
            if case .int(let status)? = item.value { return status } else { return nil }
        }
        return HTTPSettings(
            baseURL: template(reader["baseUrl"]) ?? TemplateSource(""),
            headers: templates(reader["headers"]),
            auth: authNodes.map(auth),
            connectTimeout: timeout.double("connect") ?? 10,
            totalTimeout: timeout.double("total") ?? 60,
            concurrency: reader.intOrDefault("concurrency"),
            retryAttempts: retry.int("attempts") ?? 5,
            retryStatuses: retry.has("statuses") ? statuses : [429, 502, 503, 504],
            retryMaxWait: retry.double("maxWait") ?? 120,
            rateLimit: reader.has("rateLimit") ? (rate.int("requests") ?? 1, rate.double("per") ?? 1) : nil,
            verifyTLS: reader.bool("verifyTLS") ?? true,
            allowedHosts: (reader["allowedHosts"]?.items ?? []).compactMap { $0.scalar?.text },
            maxResponseBytes: reader.int("maxResponseBytes") ?? 32 << 20,
            liveShare: reader.doubleOrDefault("liveShare"))
    }

    func auth(_ node: YAMLNode) -> AuthScheme {
        let reader = SpecReader(node, IntegrationSpec.auth)
        let method: AuthScheme.Method
        switch reader.string("type") ?? "none" {
        case "basic":
            method = .basic(username: template(node["username"]) ?? TemplateSource(""),
                            password: template(node["password"]) ?? TemplateSource(""))
        case "bearer":
            method = .bearer(token: template(node["token"]) ?? TemplateSource(""))
        case "apiKey":
            method = .apiKey(name: reader.string("name") ?? "", value: template(node["value"]) ?? TemplateSource(""),
                             inQuery: reader.string("in") == "query")
        case "login":
            let request = SpecReader(node["request"], IntegrationSpec.loginRequest)
            method = .login(LoginAuth(
                request: self.request(request, methodDefault: "POST"),
                form: templates(node["request"]?["form"]),
                token: expression(node["token"]) ?? JQExpression("null"),
                expiresIn: expression(node["expiresIn"]),
                header: template(node["header"]) ?? TemplateSource(reader.string("header") ?? "Bearer {{ .token }}"),
                jwt: node["jwt"].map { jwt in
                    let fields = SpecReader(jwt, IntegrationSpec.jwt)
                    return JWTDefinition(algorithm: JWTDefinition.Algorithm(rawValue: fields.string("algorithm") ?? "RS256") ?? .rs256,
                                         key: template(jwt["key"]) ?? TemplateSource(""), claims: jwt["claims"].map(jsonTemplate),
                                         lifetime: fields.int("lifetime") ?? 540, location: jwt.location)
                }))
        default:
            method = .none
        }
        return AuthScheme(method: method, when: expression(node["when"]), location: node.location)
    }

    func request(_ reader: SpecReader, methodDefault: String = "GET") -> RequestDefinition {
        RequestDefinition(
            method: reader.string("method") ?? methodDefault,
            path: template(reader["path"]),
            url: template(reader["url"]),
            query: templates(reader["query"]),
            headers: templates(reader["headers"]),
            body: reader["body"].map(jsonTemplate),
            retryable: reader.bool("retryable"))
    }

    func kind(name: String, node: YAMLNode, location: SourceLocation) -> KindDefinition {
        let reader = SpecReader(node, IntegrationSpec.kind)
        let selector = (node["selector"]?.pairs ?? []).map { pair in
            let field = SpecReader(pair.value, IntegrationSpec.selectorField)
            return SelectorField(name: pair.key.scalar?.text ?? "", type: field.string("type") ?? "string",
                                 defaultValue: pair.value["default"]?.jsonText(),
                                 description: field.string("description"), location: pair.key.location)
        }
        return KindDefinition(
            name: name,
            description: reader.string("description"),
            parent: reader.string("parent"),
            selector: selector,
            request: request(reader.child("request")),
            records: expression(node["records"]) ?? JQExpression("."),
            objectIsOneRecord: reader.bool("objectIsOneRecord") ?? false,
            nullIsEmpty: reader.bool("nullIsEmpty") ?? false,
            pagination: pagination(reader.child("pagination")),
            location: location)
    }

    func pagination(_ reader: SpecReader) -> Pagination {
        let inBody = reader.string("in") == "body"
        let strategy: Pagination.Strategy
        switch reader.string("type") ?? "none" {
        case "offset":
            strategy = .offset(offsetParam: reader.string("offsetParam") ?? "offset", limitParam: reader.string("limitParam") ?? "limit",
                               limit: reader.int("limit") ?? 50, start: reader.int("start") ?? 0, inBody: inBody,
                               total: expression(reader["total"]))
        case "page":
            strategy = .page(pageParam: reader.string("pageParam") ?? "page", sizeParam: reader.string("sizeParam") ?? "size",
                             size: reader.int("size") ?? 50, start: reader.int("start") ?? 1, inBody: inBody,
                             total: expression(reader["total"]))
        case "cursor":
            strategy = .cursor(cursor: expression(reader["cursor"]) ?? JQExpression("null"),
                               param: reader.string("param") ?? "cursor", inBody: inBody)
        case "nextUrl":
            strategy = .nextURL(next: expression(reader["next"]) ?? JQExpression("null"))
        case "linkHeader":
            strategy = .linkHeader(rel: reader.string("rel") ?? "next")
        default:
            strategy = .none
        }
        return Pagination(strategy: strategy, stop: expression(reader["stop"]), maxPages: reader.int("maxPages"))
    }
}
