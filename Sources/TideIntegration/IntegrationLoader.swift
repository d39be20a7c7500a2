import Foundation
import TideCore
import TideJQ
import TideMapping
import TideModel
import TideSpec
import TideYAML

/// Everything reading an integration directory found: the model, built as far as it can be even
/// when files have errors (so `tide lint` can check the rest of it), and every diagnostic, each
/// with its position. `Integration.load` is this, refusing to go on when there are errors.
public struct IntegrationLoad: Sendable {
    /// `integration.yml` (or `integration.yaml`).
    public var integrationFile: String
    /// nil when the integration file cannot be read or is not YAML.
    public var integration: Integration?
    /// The port-app-config read (the default one, or the one asked for).
    public var mappingFile: String?
    /// nil when there is none, or it cannot be read or is not YAML.
    public var mapping: PortAppConfig?
    /// nil when there is no blueprints.json, or it cannot be read.
    public var blueprints: [Blueprint]?
    /// Every finding of the loader and its cross-checks, sorted.
    public var diagnostics: [Diagnostic]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// The integration ready to run, its mapping and blueprints in place and its warnings kept;
    /// every diagnostic when there is an error.
    public func loaded() throws(Diagnostics) -> Integration {
        guard !hasErrors, var integration else { throw Diagnostics(diagnostics) }
        integration.defaultMapping = mapping
        integration.blueprints = blueprints ?? []
        integration.warnings = diagnostics
        return integration
    }
}

extension Integration {
    /// Loads an integration directory. Every problem found is reported at once, each with its
    /// position; nothing is fetched.
    public static func load(directory: String) throws(Diagnostics) -> Integration {
        try read(directory: directory).loaded()
    }

    /// Reads an integration directory without stopping at the first error: `integration.yml`,
    /// the port-app-config (`mapping`, or the default in `.port/resources`) and blueprints.json,
    /// then the checks across them (parents, names, the kinds and selector fields a mapping or a
    /// webhook names). A file with structural errors is still built into a model, leniently.
    public static func read(directory: String, mapping: String? = nil) -> IntegrationLoad {
        let integrationFile = ["integration.yml", "integration.yaml"].map { join(directory, $0) }
            .first { FileManager.default.fileExists(atPath: $0) } ?? join(directory, "integration.yml")
        var result = IntegrationLoad(integrationFile: integrationFile, diagnostics: [])
        var diagnostics: [Diagnostic] = []
        do {
            let root = try YAML.parse(contentsOf: integrationFile)
            let structure = SpecValidator.validate(root, against: IntegrationSpec.root)
            diagnostics += structure
            let lenient = structure.contains { $0.severity == .error }
            result.integration = IntegrationBuilder(root: root, lenient: lenient).build(directory: directory)
        } catch {
            diagnostics.append(error)
        }

        let resources = join(directory, ".port/resources")
        result.mappingFile = mapping ?? ["port-app-config.yml", "port-app-config.yaml"].map { join(resources, $0) }
            .first { FileManager.default.fileExists(atPath: $0) }
        if let mappingFile = result.mappingFile {
            let (config, found) = PortAppConfig.read(contentsOf: mappingFile)
            result.mapping = config
            diagnostics += found
        }
        let blueprintsPath = join(resources, "blueprints.json")
        if FileManager.default.fileExists(atPath: blueprintsPath) {
            do {
                let text = try String(contentsOfFile: blueprintsPath, encoding: .utf8)
                result.blueprints = try Blueprint.list(fromJSON: text)
            } catch let error as BlueprintError {
                diagnostics.append(Diagnostic(at: SourceLocation(file: blueprintsPath, line: 1, column: 1),
                                              error.message, rule: "blueprints"))
            } catch {
                diagnostics.append(Diagnostic(at: nil, "cannot read \(blueprintsPath): \(error.localizedDescription)", rule: "io"))
            }
        }
        if let integration = result.integration {
            diagnostics += integration.crossCheck()
            if let mapping = result.mapping { diagnostics += integration.crossCheck(mapping) }
        }
        result.diagnostics = Array(Set(diagnostics)).sorted()
        return result
    }

    /// "." is left out so paths read as the user would write them (jira/integration.yml).
    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Checks that need the whole integration: parents (and the kinds partitions come from) exist
    /// and do not loop, partitions and response rules are sound, configuration names are unique,
    /// and webhooks name kinds that exist (and bind parents only of kinds that have one).
    func crossCheck() -> [Diagnostic] {
        var diagnostics = KindParents.problems(kinds.map { kind in
            if kind.parent == nil, let from = kind.partitions?.fromKind {
                return KindParents.Link(kind: kind.name, parent: from, location: kind.partitions?.location, field: "partitions.fromKind")
            }
            return KindParents.Link(kind: kind.name, parent: kind.parent, location: kind.parentLocation ?? kind.location)
        }) + kinds.flatMap(\.partitionProblems) + kinds.flatMap(\.responseProblems) + kinds.flatMap(\.selectorProblems)
            + refetchParentProblems + refetchKeyProblems
        var seen: [String: SourceLocation] = [:]
        for field in configuration {
            guard let location = field.nameLocation else { continue }
            if let first = seen[field.name] {
                diagnostics.append(Diagnostic(at: location, "configuration \"\(field.name)\" is declared twice (first at line \(first.line))",
                                              rule: Self.duplicateNameRule))
            } else {
                seen[field.name] = location
            }
        }
        for (index, webhook) in webhooks.enumerated() {
            for (eventIndex, event) in webhook.events.enumerated() {
                for (position, name) in event.kinds.enumerated() where kind(name) == nil {
                    let location = position < event.kindLocations.count ? event.kindLocations[position] : event.location
                    diagnostics.append(Diagnostic(at: location, "webhooks[\(index)].events[\(eventIndex)].kinds names \"\(name)\", which is not a kind here\(Self.suggestion(name, kinds.map(\.name)))",
                                                  rule: Self.unknownKindRule))
                }
            }
        }
        return diagnostics
    }

    /// Checks of a port-app-config against this integration: each resource names one of its
    /// kinds, and sets only selector fields that kind declares (others would silently be unused).
    public func crossCheck(_ mapping: PortAppConfig) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let names = kinds.map(\.name)
        for resource in mapping.resources {
            guard let kindLocation = resource.kindLocation else { continue }
            let path = "resources[\(resource.index)]"
            guard let kind = kind(resource.kind) else {
                diagnostics.append(Diagnostic(at: kindLocation,
                                              "\(path).kind \"\(resource.kind)\" is not a kind of this integration\(Self.suggestion(resource.kind, names)); it defines \(names.joined(separator: ", "))",
                                              rule: Self.unknownKindRule))
                continue
            }
            let declaredFields = kind.selector.map(\.name)
            for field in resource.selector.fields where !declaredFields.contains(field.name) {
                let declared = declaredFields.isEmpty ? "declares no selector fields" : "declares \(declaredFields.joined(separator: ", "))"
                diagnostics.append(Diagnostic(at: field.location,
                                              "\(path).selector.\(field.name) is not a selector field of kind \"\(kind.name)\"\(Self.suggestion(field.name, declaredFields)); the kind \(declared)",
                                              rule: Self.unknownSelectorFieldRule))
            }
        }
        return diagnostics
    }

    public static let duplicateNameRule = "duplicate-name"
    public static let unknownKindRule = "unknown-kind"
    public static let unknownSelectorFieldRule = "unknown-selector-field"

    static func suggestion(_ name: String, _ candidates: [String]) -> String {
        DidYouMean.closest(to: name, in: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
    }
}

extension Integration {
    /// A refetch sets selector values the kind's request reads: a key the kind does not declare
    /// would be set and never read, and the refetch would read the whole kind.
    var refetchKeyProblems: [Diagnostic] {
        var found: [Diagnostic] = []
        for event in webhooks.flatMap(\.events) where event.action == .refetch {
            for kind in event.kinds.compactMap({ kind($0) }) {
                let declared: [String] = kind.selector.map(\.name)
                for key in event.refetch where !declared.contains(key.name) {
                    let suggestion: String = Self.suggestion(key.name, declared)
                    let hint: String = declared.isEmpty ? "declare it under the kind's selector: and read it in the request"
                        : "the kind declares " + declared.joined(separator: ", ")
                    let message: String = "event \"\(event.name)\" refetches with \"\(key.name)\", which is not a selector field of kind \"\(kind.name)\"" + suggestion
                    found.append(Diagnostic(at: key.expression.location ?? event.location, message, rule: Self.unknownSelectorFieldRule, hint: hint))
                }
            }
        }
        return found
    }
}

extension KindDefinition {
    /// A selector default whose JSON type is not the field's `type`: `default: "false"` for a
    /// boolean is the string "false", which jq reads as true.
    var selectorProblems: [Diagnostic] {
        selector.compactMap { field -> Diagnostic? in
            guard let text = field.defaultValue, let value = try? JSON(parsing: text), !value.isNull else { return nil }
            let fits: Bool
            switch field.type {
            case "string": fits = value.kind == .string
            case "integer": fits = value.numberValue.map { $0 == $0.rounded() } ?? false
            case "number": fits = value.kind == .number
            case "boolean": fits = value.kind == .bool
            case "array": fits = value.kind == .array
            case "object": fits = value.kind == .object
            default: return nil
            }
            guard !fits else { return nil }
            let unquoted = value.stringValue.map { " (unquoted: \($0))" } ?? ""
            return Diagnostic(at: field.location, "selector field \"\(field.name)\" of kind \"\(name)\" is \(field.type), but its default \(text) is not",
                              rule: "selector-default", hint: "write the default as a YAML \(field.type)\(unquoted)")
        }
    }
}

extension Integration {
    /// A webhook event's `parent` binds the parent of a refetched kind: it needs `action: refetch`
    /// and kinds that have a parent.
    var refetchParentProblems: [Diagnostic] {
        webhooks.flatMap(\.events).flatMap { event -> [Diagnostic] in
            guard let parent = event.parent else { return [] }
            if event.action != .refetch {
                return [Diagnostic(at: parent.location, "event \"\(event.name)\" gives parent, which only a refetch reads", rule: "refetch-parent",
                                   hint: "remove parent, or make the event action: refetch")]
            }
            return event.kinds.filter { kind($0) != nil && kind($0)?.parent == nil }.map { name in
                Diagnostic(at: parent.location, "event \"\(event.name)\" gives parent, but kind \"\(name)\" has no parent:", rule: "refetch-parent",
                           hint: "parent binds .parent for kinds declared with parent:; remove it for \"\(name)\"")
            }
        }
    }
}

/// Builds the model from a tree that has passed validation; defaults come from the spec.
struct IntegrationBuilder {
    let root: YAMLNode
    /// The tree has structural errors: placeholders stand in for what the spec determines (see
    /// `SpecReader.lenient`), so the linter can check the rest.
    var lenient = false

    func specReader(_ node: YAMLNode?, _ type: SpecType) -> SpecReader { SpecReader(node, type, lenient: lenient) }

    func build(directory: String) -> Integration {
        let reader = specReader(root, IntegrationSpec.root)
        let configuration = (root["configuration"]?.items ?? []).map { item -> ConfigurationField in
            let field = specReader(item, IntegrationSpec.configurationField)
            return ConfigurationField(
                name: field.string(specified: "name"),
                type: field.value(specified: "type", as: ConfigurationField.ValueType.self),
                required: field.bool(specified: "required"),
                defaultValue: item["default"]?.jsonText(),
                sensitive: field.bool(specified: "sensitive"),
                description: field.string("description"),
                location: item.location,
                nameLocation: item["name"]?.location)
        }
        let kinds = (root["kinds"]?.pairs ?? []).map { pair in
            kind(name: pair.key.scalar?.text ?? "", node: pair.value, location: pair.key.location)
        }
        return Integration(
            directory: directory,
            name: reader.string(specified: "name"),
            title: reader.string("title"),
            description: reader.string("description"),
            icon: reader.string("icon"),
            version: reader.string(specified: "version"),
            configuration: configuration,
            http: http(reader.child("http")),
            kinds: kinds,
            webhooks: (root["webhooks"]?.items ?? []).map(webhook),
            record: record(root["record"]),
            defaultMapping: nil,
            blueprints: [],
            warnings: [])
    }

    func record(_ node: YAMLNode?) -> RecordSettings {
        var settings = RecordSettings()
        guard let node else { return settings }
        let reader = specReader(node, IntegrationSpec.record)
        settings.pages = reader.int(specified: "pages")
        settings.defaults = reader.bool(specified: "defaults")
        settings.scrub = (node["scrub"]?.items ?? []).compactMap { item in
            if let key = item["key"]?.string { return RecordSettings.ScrubRule(.key(key), location: item.location) }
            return expression(item["path"]).map { RecordSettings.ScrubRule(.path($0), location: item.location) }
        }
        return settings
    }

    func webhook(_ node: YAMLNode) -> WebhookDefinition {
        let reader = specReader(node, IntegrationSpec.webhook)
        let verifyNodes: [YAMLNode]
        if let verify = node["verify"] { verifyNodes = verify.items ?? [verify] } else { verifyNodes = [] }
        let verify = verifyNodes.map { item -> WebhookDefinition.Verification in
            let scheme = specReader(item, IntegrationSpec.webhookVerify)
            switch scheme.string(specified: "type") {
            case "hmac":
                return .hmac(secret: template(item["secret"]) ?? TemplateSource(""), header: scheme.string(specified: "header"),
                             prefix: scheme.string(specified: "prefix"), sha1: scheme.string("algorithm") == "sha1",
                             base64: scheme.string("encoding") == "base64", separator: scheme.string("separator").flatMap { $0.isEmpty ? nil : $0 })
            case "standardWebhooks":
                let secrets = item["secrets"].map { $0.items ?? [$0] } ?? []
                return .standardWebhooks(secrets: secrets.compactMap(template), tolerance: scheme.int(specified: "tolerance"))
            default:
                return .token(secret: template(item["secret"]) ?? TemplateSource(""), header: scheme.string("header"),
                              query: scheme.string("query"))
            }
        }
        let events = (node["events"]?.items ?? []).enumerated().map { index, item -> WebhookDefinition.Event in
            let event = specReader(item, IntegrationSpec.webhookEvent)
            return WebhookDefinition.Event(
                name: event.string("name") ?? "event\(index)",
                match: expression(event, "match"),
                kinds: (item["kinds"]?.items ?? []).compactMap { $0.scalar?.text },
                item: expression(event, "item"),
                action: event.value(specified: "action", as: WebhookDefinition.Action.self),
                refetch: (item["refetch"]?.pairs ?? []).compactMap { pair in
                    expression(pair.value).map { (pair.key.scalar?.text ?? "", $0) }
                },
                parent: expression(item["parent"]),
                key: expression(item["key"]),
                location: item.location,
                kindLocations: (item["kinds"]?.items ?? []).compactMap { $0.scalar == nil ? nil : $0.location })
        }
        let retry = reader.child("retry")
        let path = reader.string(specified: "path")
        return WebhookDefinition(
            path: path.hasPrefix("/") ? path : "/" + path,
            verify: verify, events: events,
            maxBodyBytes: reader.int(specified: "maxBodyBytes"),
            queueSize: reader.int(specified: "queueSize"),
            workers: reader.int(specified: "workers"),
            timeout: reader.double(specified: "timeout"),
            retryAttempts: retry.int(specified: "attempts"),
            retryInitialDelay: retry.double(specified: "initialDelay"),
            retryMaxDelay: retry.double(specified: "maxDelay"),
            registration: node["register"].map(registration),
            location: node.location)
    }

    func registration(_ node: YAMLNode) -> WebhookDefinition.Registration {
        let reader = specReader(node, IntegrationSpec.webhookRegistration)
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

    /// A jq field as written, or the spec's default expression (which has no position).
    func expression(_ reader: SpecReader, _ name: String) -> JQExpression {
        expression(reader[name]) ?? JQExpression(reader.string(specified: name))
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
        return HTTPSettings(
            baseURL: template(reader["baseUrl"]) ?? TemplateSource(""),
            headers: templates(reader["headers"]),
            auth: authNodes.enumerated().map { index, node in
                var scheme = auth(node)
                if reader["auth"]?.items != nil { scheme.index = index }
                return scheme
            },
            connectTimeout: timeout.double(specified: "connect"),
            totalTimeout: timeout.double(specified: "total"),
            concurrency: reader.int(specified: "concurrency"),
            retryAttempts: retry.int(specified: "attempts"),
            retryStatuses: retry.ints(specified: "statuses"),
            retryMaxWait: retry.double(specified: "maxWait"),
            rateLimit: reader.has("rateLimit") ? (rate.int(specified: "requests"), rate.double(specified: "per")) : nil,
            verifyTLS: reader.bool(specified: "verifyTLS"),
            allowedHosts: (reader["allowedHosts"]?.items ?? []).compactMap { $0.scalar?.text },
            maxResponseBytes: reader.int(specified: "maxResponseBytes"),
            liveShare: reader.double(specified: "liveShare"))
    }

    func auth(_ node: YAMLNode) -> AuthScheme {
        let reader = specReader(node, IntegrationSpec.auth)
        let method: AuthScheme.Method
        var type = reader.string(specified: "type")
        if lenient, !["none", "basic", "bearer", "apiKey", "login"].contains(type) {
            // A missing or unknown type (already reported): the fields written say which scheme
            // was meant, so the linter still checks their templates.
            type = node["request"] != nil ? "login" : node["token"] != nil ? "bearer" : node["value"] != nil ? "apiKey"
                : node["username"] != nil || node["password"] != nil ? "basic" : type
        }
        switch type {
        case "basic":
            method = .basic(username: template(node["username"]) ?? TemplateSource(""),
                            password: template(node["password"]) ?? TemplateSource(""))
        case "bearer":
            method = .bearer(token: template(node["token"]) ?? TemplateSource(""))
        case "apiKey":
            method = .apiKey(name: reader.string(specified: "name"), value: template(node["value"]) ?? TemplateSource(""),
                             inQuery: reader.string("in") == "query")
        case "oauth2":
            method = .login(oauth2(reader, node: node))
        case "login":
            let request = specReader(node["request"], IntegrationSpec.loginRequest)
            method = .login(LoginAuth(
                request: self.request(request, methodDefault: "POST"),
                form: templates(node["request"]?["form"]),
                token: expression(reader, "token"),
                expiresIn: expression(node["expiresIn"]),
                header: template(node["header"]) ?? TemplateSource(reader.string(specified: "header")),
                jwt: node["jwt"].map { jwt in
                    let fields = specReader(jwt, IntegrationSpec.jwt)
                    return JWTDefinition(algorithm: fields.value(specified: "algorithm", as: JWTDefinition.Algorithm.self),
                                         key: template(jwt["key"]) ?? TemplateSource(""), claims: jwt["claims"].map(jsonTemplate),
                                         lifetime: fields.int(specified: "lifetime"), location: jwt.location)
                }))
        default:
            method = .none
        }
        return AuthScheme(method: method, when: expression(node["when"]), location: node.location)
    }

    /// OAuth 2.0 as the login it is: a form POST to the token endpoint whose `access_token` is
    /// sent as a bearer token for `expires_in` seconds.
    func oauth2(_ reader: SpecReader, node: YAMLNode) -> LoginAuth {
        let refresh = reader.string(specified: "grant") == "refreshToken"
        let basic = reader.string(specified: "clientAuth") == "basic"
        var form: [(name: String, value: TemplateSource)] = [("grant_type", TemplateSource(refresh ? "refresh_token" : "client_credentials"))]
        if refresh, let token = template(node["refreshToken"]) { form.append(("refresh_token", token)) }
        var headers: [(name: String, value: TemplateSource)] = [("Accept", TemplateSource("application/json"))]
        let clientId = template(node["clientId"]) ?? TemplateSource("")
        let clientSecret = template(node["clientSecret"])
        if basic {
            // RFC 6749 §2.3.1: the id and secret form-encoded, then joined for Basic.
            let pair = "{{ ([(\(Self.jqValue(clientId))), (\(clientSecret.map(Self.jqValue) ?? "\"\""))] | map(tostring | @uri) | join(\":\") | @base64) }}"
            headers.append(("Authorization", TemplateSource("Basic " + pair, location: clientId.location)))
        } else {
            form.append(("client_id", clientId))
            if let clientSecret { form.append(("client_secret", clientSecret)) }
        }
        if let scope = template(node["scope"]) {
            form.append(("scope", TemplateSource("{{ (\(Self.jqValue(scope))) | if . == \"\" then null else . end }}", location: scope.location)))
        }
        form += templates(node["params"])
        let url = template(node["tokenUrl"]) ?? TemplateSource("")
        return LoginAuth(request: RequestDefinition(method: "POST", path: nil, url: url, query: [], headers: headers, body: nil, retryable: true),
                         form: form, token: JQExpression(".access_token"), expiresIn: JQExpression(".expires_in"),
                         header: TemplateSource("Bearer {{ .token }}"), jwt: nil)
    }

    /// A template's value as a jq expression: `{{ x }}` gives x, anything else its text interpolated.
    static func jqValue(_ template: TemplateSource) -> String {
        let text = template.text
        if text.hasPrefix("{{"), text.hasSuffix("}}"), text.dropFirst(2).range(of: "{{") == nil {
            return String(text.dropFirst(2).dropLast(2))
        }
        var parts = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            parts += JSONText.escaped(String(rest[..<open.lowerBound])) + "\\(" + rest[open.upperBound..<close.lowerBound] + ")"
            rest = rest[close.upperBound...]
        }
        return "\"" + parts + JSONText.escaped(String(rest)) + "\""
    }

    func request(_ reader: SpecReader, methodDefault: String = "GET") -> RequestDefinition {
        // A GraphQL query is a POST of {query, variables}, and only reads: it may be retried.
        let graphql = reader["graphql"]
        let body = graphql.map { node -> JSONTemplate in
            let query = JSONTemplate.literal(JSONText.quoted(node["query"]?.scalar?.text ?? ""))
            return .object([("query", query)] + (node["variables"].map { [("variables", jsonTemplate($0))] } ?? []))
        } ?? reader["body"].map(jsonTemplate)
        var request = RequestDefinition(
            method: graphql != nil && reader["method"] == nil ? "POST" : reader.string("method") ?? methodDefault,
            path: template(reader["path"]),
            url: template(reader["url"]),
            query: templates(reader["query"]),
            headers: templates(reader["headers"]),
            body: body,
            retryable: reader.bool("retryable") ?? (graphql == nil ? nil : true))
        request.isGraphQL = graphql != nil
        return request
    }

    func kind(name: String, node: YAMLNode, location: SourceLocation) -> KindDefinition {
        let reader = specReader(node, IntegrationSpec.kind)
        let selector = (node["selector"]?.pairs ?? []).map { pair in
            let field = specReader(pair.value, IntegrationSpec.selectorField)
            return SelectorField(name: pair.key.scalar?.text ?? "", type: field.string(specified: "type"),
                                 defaultValue: pair.value["default"]?.jsonText(),
                                 description: field.string("description"), location: pair.key.location)
        }
        return KindDefinition(
            name: name,
            description: reader.string("description"),
            parent: reader.string("parent"),
            selector: selector,
            request: request(reader.child("request")),
            records: expression(reader, "records"),
            objectIsOneRecord: reader.bool(specified: "objectIsOneRecord"),
            nullIsEmpty: reader.bool(specified: "nullIsEmpty"),
            pagination: pagination(reader.child("pagination")),
            responses: (node["responses"]?.items ?? []).map { item in
                let rule = specReader(item, IntegrationSpec.responseRule)
                return ResponseRule(statuses: item["status"] == nil ? [] : rule.ints(specified: "status"), when: expression(item["when"]),
                                    action: rule.value(specified: "action", as: ResponseRule.Action.self), location: item.location)
            },
            partitions: node["partitions"].map { partitions(specReader($0, IntegrationSpec.partitions), location: $0.location) },
            concurrency: reader.int(specified: "concurrency"),
            incremental: node["incremental"].map { node in
                let incremental = reader.child("incremental")
                return Incremental(lookback: incremental.int(specified: "lookback"), key: expression(incremental, "key"), location: node.location)
            },
            location: location,
            parentLocation: node["parent"]?.location)
    }

    func partitions(_ reader: SpecReader, location: SourceLocation?) -> Partitions {
        let source: Partitions.Source
        if let kind = reader.string("fromKind") {
            source = .kind(kind, value: expression(reader, "value"))
        } else if let values = expression(reader["values"]) {
            source = .values(values)
        } else {
            let windows = reader.child("dateWindows")
            source = .dateWindows(start: windows.string(specified: "start"), days: windows.int(specified: "days"))
        }
        let count = reader["count"].map { node in
            let count = reader.child("count")
            return Partitions.Count(request: request(count.child("request")), value: expression(count, "value"), location: node.location)
        }
        return Partitions(source: source, count: count, complete: reader.bool(specified: "complete"), location: location)
    }

    func pagination(_ reader: SpecReader) -> Pagination {
        let inBody = reader.string("in") == "body"
        let strategy: Pagination.Strategy
        switch reader.string(specified: "type") {
        case "offset":
            strategy = .offset(offsetParam: reader.string(specified: "offsetParam"), limitParam: reader.string(specified: "limitParam"),
                               limit: reader.int(specified: "limit"), start: reader.int(specified: "start"), inBody: inBody,
                               total: expression(reader["total"]))
        case "page":
            strategy = .page(pageParam: reader.string(specified: "pageParam"), sizeParam: reader.string(specified: "sizeParam"),
                             size: reader.int(specified: "size"), start: reader.int(specified: "start"), inBody: inBody,
                             total: expression(reader["total"]))
        case "cursor":
            strategy = .cursor(cursor: expression(reader, "cursor"),
                               param: reader.string(specified: "param"), inBody: inBody)
        case "nextUrl":
            strategy = .nextURL(next: expression(reader, "next"))
        case "linkHeader":
            strategy = .linkHeader(rel: reader.string(specified: "rel"))
        case "graphql":
            strategy = .graphql(pageInfo: expression(reader, "pageInfo"), variable: reader.string(specified: "variable"))
        default:
            strategy = .none
        }
        return Pagination(strategy: strategy, stop: expression(reader["stop"]), maxPages: reader.int("maxPages"))
    }
}
