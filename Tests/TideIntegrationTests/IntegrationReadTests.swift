import Foundation
import Testing
import TideCore
import TideIntegration
import TideMapping

/// `Integration.read`: every finding of every file at once, a model even when the structure has
/// errors, and the cross-checks written once for the loader and `tide lint`.
@Suite struct IntegrationReadTests {
    /// A throwaway integration directory with these files (paths relative to it).
    static func directory(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-read-\(UUID().uuidString)").path
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return directory
    }

    static let broken = """
        name: broken
        configuration:
          - name: token
            type: uri
          - name: token
        http:
          baseUrl: https://api.example.com
          auth: {token: "{{ .config.token }}"}
        kinds:
          item:
            request: {path: /items}
            pagination: {type: cursor, param: next}
          child:
            parent: itme
            request: {path: /child}
        webhooks:
          - path: hook
            events:
              - kinds: [item, chlid]

        """

    static let mapping = """
        resources:
          - kind: item
            selector: {query: 'true', jql: x}
            port: {entity: {mappings: {identifier: .id, blueprint: '"item"'}}}
          - kind: items
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .id, blueprint: '"item"'}}}

        """

    @Test func everyFindingOfEveryFileAtOnceAndAModelDespiteThem() throws {
        let directory = try Self.directory(["integration.yml": Self.broken, ".port/resources/port-app-config.yml": Self.mapping])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let read = Integration.read(directory: directory)
        let found = read.diagnostics.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "-") \($0.rule)" }
        // Structure (the enum, the missing cursor and auth type), then the cross-checks: the
        // duplicate name, the parent at its value, the webhook's kind, the mapping's kind and field.
        let fromIntegration = read.diagnostics.filter { $0.location?.file.hasSuffix("integration.yml") == true }.map(\.rule)
        #expect(Set(fromIntegration) == ["enum", "required", "duplicate-name", "unknown-parent", "unknown-kind"], "\(found)")
        #expect(read.diagnostics.contains { $0.rule == "unknown-parent" && $0.location?.line == 14 && $0.location?.column == 13 })
        #expect(read.diagnostics.contains { $0.rule == "unknown-kind" && $0.message.contains(#"names "chlid""#) && $0.location?.line == 19 })
        let fromMapping = read.diagnostics.filter { $0.location?.file.hasSuffix("port-app-config.yml") == true }
        #expect(fromMapping.map(\.rule) == ["unknown-selector-field", "unknown-kind"], "\(found)")
        #expect(fromMapping.first?.location?.column == 31)  // the key `jql`, not its value (at 36)
        #expect(read.hasErrors)

        // The lenient model: placeholders where the spec determines a value, the rest as written.
        let integration = try #require(read.integration)
        #expect(integration.kinds.map(\.name) == ["item", "child"])
        #expect(integration.configuration.map(\.name) == ["token", "token"])
        #expect(integration.webhooks.first?.path == "/hook")
        if case .bearer(let token)? = integration.http.auth.first?.method {
            #expect(token.text == "{{ .config.token }}")  // no type: its fields say bearer
        } else {
            Issue.record("auth read as \(String(describing: integration.http.auth.first?.method))")
        }
        #expect(read.mapping?.resources.count == 2)

        // load() is read() refusing errors, with all of them.
        #expect(throws: Diagnostics.self) { try Integration.load(directory: directory) }
        do { _ = try Integration.load(directory: directory) } catch { #expect(error.items == read.diagnostics.sorted()) }
    }

    @Test func aCleanIntegrationLoadsWithItsMappingAndWarnings() throws {
        let clean = """
            name: clean
            http: {baseUrl: https://api.example.com}
            kinds:
              item: {request: {path: /items}}

            """
        let directory = try Self.directory(["integration.yml": clean,
                                            ".port/resources/port-app-config.yml": "resources:\n  - kind: item\n    selector: {query: 'true'}\n    port: {entity: {mappings: {identifier: .id, blueprint: '\"item\"', title: true}}}\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let read = Integration.read(directory: directory)
        #expect(!read.hasErrors)
        #expect(read.diagnostics.map(\.rule) == ["ocean-yaml-boolean"])
        let integration = try Integration.load(directory: directory)
        #expect(integration.defaultMapping?.resources.map(\.kind) == ["item"])
        #expect(integration.warnings.map(\.rule) == ["ocean-yaml-boolean"])
        #expect(integration.blueprints.isEmpty)
    }

    /// A selector default of another JSON type than the field's: `"false"` for a boolean is a
    /// string, which jq reads as true (a request that silently asks the opposite).
    @Test func aSelectorDefaultOfTheWrongTypeIsAnError() throws {
        let text = """
            name: typed
            http: {baseUrl: https://api.example.com/api/v4}
            kinds:
              item:
                selector:
                  archived: {type: boolean, default: "false"}
                  size: {type: integer, default: 2.5}
                  state: {type: string, default: opened}
                  ids: {type: array, default: [1, 2]}
                  limit: {type: number, default: 10}
                request: {path: /items}

            """
        let directory = try Self.directory(["integration.yml": text])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let found = Integration.read(directory: directory).diagnostics.filter { $0.rule == "selector-default" }
        #expect(found.map(\.message) == [
            "selector field \"archived\" of kind \"item\" is boolean, but its default \"false\" is not",
            "selector field \"size\" of kind \"item\" is integer, but its default 2.5 is not",
        ])
        #expect(found.map { $0.location?.line } == [6, 7])
        #expect(found.first?.hint == "write the default as a YAML boolean (unquoted: false)")
    }

    /// A replay (tide test, --replay) answers at its own origin under the API's own path, so
    /// fixtures hold the paths the API receives.
    @Test func theReplayKeepsTheBaseURLsPath() throws {
        var compared = 0
        for (base, expected) in [("https://api.example.com/api/v4", "http://127.0.0.1:9/api/v4"),
                                 ("https://api.example.com/api/v4/", "http://127.0.0.1:9/api/v4"),
                                 ("https://api.example.com", "http://127.0.0.1:9"),
                                 ("{{ .config.host }}/rest", "http://127.0.0.1:9/rest"),
                                 ("{{ .config.missing }}", "http://127.0.0.1:9")] {
            let directory = try Self.directory(["integration.yml": "name: x\nhttp: {baseUrl: \"\(base)\"}\nkinds:\n  item: {request: {path: /items}}\n"])
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let integration = try Integration.load(directory: directory)
            #expect(integration.baseURL(movedTo: "http://127.0.0.1:9", configJSON: #"{"host": "https://jira.example.com"}"#) == expected, "\(base)")
            compared += 1
        }
        #expect(compared == 5)
    }

    /// A refetch key the kind does not declare would be set and never read: the refetch would
    /// read the whole kind. Named where it is written, with the field meant.
    @Test func aRefetchKeyTheKindDoesNotDeclareIsAnError() throws {
        let text = """
            name: keys
            http: {baseUrl: https://api.example.com}
            kinds:
              item:
                selector:
                  iid: {type: integer}
                request: {path: /items, query: {iid: "{{ .selector.iid }}"}}
            webhooks:
              - path: /webhook
                events:
                  - match: "true"
                    kinds: [item]
                    action: refetch
                    refetch: {iidd: .item.iid, iid: .item.iid}

            """
        let directory = try Self.directory(["integration.yml": text])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let found = Integration.read(directory: directory).diagnostics.filter { $0.rule == "unknown-selector-field" }
        #expect(found.count == 1)
        #expect(found.first?.message.contains("refetches with \"iidd\", which is not a selector field of kind \"item\" (did you mean \"iid\"?)") == true,
                "\(found.map(\.message))")
        #expect(found.first?.location?.line == 14)
    }

    /// A replay moves an absolute OAuth 2.0 token endpoint to the fixture server too (path and
    /// query kept), so an offline run never calls it live; a relative login path stays relative.
    @Test func theReplayMovesAnAbsoluteTokenEndpoint() throws {
        let text = """
            name: oauth
            configuration:
              - {name: tenant, type: string}
            http:
              baseUrl: https://api.example.com/v2
              auth:
                - when: .config.tenant != null
                  type: oauth2
                  tokenUrl: "https://login.example.com/{{ .config.tenant }}/oauth2/token?api-version=1"
                  clientId: id
                  clientSecret: secret
                - type: login
                  request: {method: POST, path: /session}
                  token: .token
            kinds:
              item: {request: {path: /items}}

            """
        let directory = try Self.directory(["integration.yml": text])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let replayed = try Integration.load(directory: directory).replayed(at: "http://127.0.0.1:9", configJSON: #"{"tenant": "t1"}"#)
        #expect(replayed.http.baseURL.text == "http://127.0.0.1:9/v2")
        var urls: [String?] = []
        for scheme in replayed.http.auth {
            guard case .login(let login) = scheme.method else { continue }
            urls.append(login.request.url?.text)
        }
        #expect(urls == ["http://127.0.0.1:9/t1/oauth2/token?api-version=1", nil])
    }
}
