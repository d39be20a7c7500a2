import Foundation
import TideCore
import TideJQ
import TideYAML

/// An installation's configuration values, resolved and typed.
public struct ResolvedConfiguration: Sendable {
    /// A JSON object of name → value (absent optional values are left out).
    public var json: String
    /// Values of `sensitive` fields, to redact everywhere.
    public var secrets: [String]
    /// The run's secrets: these values, and whatever the run learns (tokens). Shared by every
    /// copy of this configuration, so one store serves the fetcher, the logs and the sinks.
    public let secretStore: SecretStore

    public init(json: String, secrets: [String]) {
        self.json = json
        self.secrets = secrets
        secretStore = SecretStore(secrets)
    }
}

/// Reads configuration the way Ocean does, highest precedence first: explicit `--config
/// name=value`, then the environment (`OCEAN__INTEGRATION__CONFIG__JIRA_HOST` for `jiraHost`, or
/// the whole object as JSON in `OCEAN__INTEGRATION__CONFIG`), then a config file, then defaults.
public struct ConfigurationResolver {
    public var overrides: [String: String] = [:]
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// A YAML or JSON file of name → value.
    public var file: String?

    public init(overrides: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment,
                file: String? = nil) {
        self.overrides = overrides
        self.environment = environment
        self.file = file
    }

    /// `jiraHost` → `OCEAN__INTEGRATION__CONFIG__JIRA_HOST`.
    public static func environmentName(for field: String) -> String {
        var snake = ""
        for character in field {
            if character.isUppercase, !snake.isEmpty { snake.append("_") }
            snake.append(character)
        }
        return "OCEAN__INTEGRATION__CONFIG__" + snake.uppercased()
    }

    public func resolve(for integration: Integration) throws(Diagnostics) -> ResolvedConfiguration {
        var diagnostics: [Diagnostic] = []
        let fields = integration.configuration
        let names = fields.map(\.name)

        for name in overrides.keys.sorted() where !names.contains(name) {
            let suggestion = DidYouMean.closest(to: name, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: nil, "--config \(name)=…: \(integration.name) has no setting \"\(name)\"\(suggestion)",
                                          rule: "config-unknown", hint: "its settings are: \(names.joined(separator: ", "))"))
        }

        var fileValues: [String: JSON] = [:]
        if let file {
            do {
                let node = try YAML.parse(contentsOf: file)
                let parsed = try JSON(parsing: node.jsonText())
                for (key, value) in parsed.objectMembers { fileValues[key] = value }
            } catch let error as Diagnostic {
                diagnostics.append(error)
            } catch {
                diagnostics.append(Diagnostic(at: nil, "config file \(file) is not a mapping of name → value", rule: "config-file"))
            }
        }
        var wholeObject: [String: JSON] = [:]
        if let text = environment["OCEAN__INTEGRATION__CONFIG"] {
            if let parsed = try? JSON(parsing: text), parsed.kind == .object {
                for (key, value) in parsed.objectMembers { wholeObject[key] = value }
            } else {
                diagnostics.append(Diagnostic(at: nil, "OCEAN__INTEGRATION__CONFIG is not a JSON object", rule: "config-env"))
            }
        }

        var values: [(String, JSON)] = []
        var secrets: [String] = []
        for field in fields {
            let environmentName = Self.environmentName(for: field.name)
            var value: JSON?
            var origin = ""
            do {
                if let text = overrides[field.name] {
                    origin = "--config \(field.name)"
                    value = try Self.parse(text, as: field.type)
                } else if let text = environment[environmentName] {
                    origin = environmentName
                    value = try Self.parse(text, as: field.type)
                } else if let whole = wholeObject[field.name] ?? wholeObject[Self.snake(field.name)] {
                    origin = "OCEAN__INTEGRATION__CONFIG"
                    value = try Self.check(whole, as: field.type)
                } else if let fromFile = fileValues[field.name] {
                    origin = file ?? "config file"
                    value = try Self.check(fromFile, as: field.type)
                } else if let text = field.defaultValue {
                    origin = "the default"
                    value = try Self.check(JSON(parsing: text), as: field.type)
                }
            } catch {
                diagnostics.append(Diagnostic(at: field.location, "\(field.name) from \(origin): \(error)", rule: "config-type"))
                continue
            }
            guard var value, !value.isNull else {
                if field.required {
                    diagnostics.append(Diagnostic(at: field.location, "\(integration.name) needs \(field.name), which is not set",
                                                  rule: "config-missing",
                                                  hint: "pass --config \(field.name)=… or set \(environmentName)"))
                }
                continue
            }
            if field.type == .url, var text = value.stringValue {
                while text.hasSuffix("/") { text.removeLast() }
                value = JSON(text)
            }
            if field.sensitive, let text = value.stringValue ?? Optional(value.serialized()), !text.isEmpty {
                secrets.append(text)
            }
            values.append((field.name, value))
        }
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }
        return ResolvedConfiguration(json: JSON(orderedObject: values).serialized(), secrets: secrets)
    }

    static func snake(_ name: String) -> String {
        String(environmentName(for: name).dropFirst("OCEAN__INTEGRATION__CONFIG__".count)).lowercased()
    }

    struct ValueError: Error { var message: String }

    /// A value given as text (command line, environment), read as the field's type.
    static func parse(_ text: String, as type: ConfigurationField.ValueType) throws(ValueError) -> JSON {
        switch type {
        case .string, .url:
            return try check(JSON(text), as: type)
        case .integer:
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValueError(message: "\"\(text)\" is not an integer")
            }
            return JSON(number)
        case .boolean:
            switch text.lowercased() {
            case "true", "1", "yes": return JSON(true)
            case "false", "0", "no": return JSON(false)
            default: throw ValueError(message: "\"\(text)\" is not true or false")
            }
        case .object, .array:
            guard let value = try? JSON(parsing: text) else { throw ValueError(message: "is not valid JSON") }
            return try check(value, as: type)
        }
    }

    /// A value given as JSON (file, OCEAN__INTEGRATION__CONFIG, default), checked against the type.
    static func check(_ value: JSON, as type: ConfigurationField.ValueType) throws(ValueError) -> JSON {
        if value.isNull { return value }
        let ok: Bool
        switch type {
        case .string: ok = value.kind == .string
        case .url:
            let text = value.stringValue ?? ""
            ok = text.hasPrefix("http://") || text.hasPrefix("https://")
            if !ok { throw ValueError(message: "\"\(text)\" is not an http(s) URL") }
        case .integer: ok = value.kind == .number && value.numberValue.map { $0.rounded() == $0 } == true
        case .boolean: ok = value.kind == .bool
        case .object: ok = value.kind == .object
        case .array: ok = value.kind == .array
        }
        guard ok else { throw ValueError(message: "expected \(type.rawValue), found \(value.kind)") }
        return value
    }
}

extension ConfigurationResolver.ValueError: CustomStringConvertible {
    var description: String { message }
}
