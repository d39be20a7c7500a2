import ArgumentParser
import Foundation

/// `tide new NAME`: a small integration that lints clean and passes `tide test` as it is, to be
/// edited into the real thing (docs/authoring-guide.md walks through it).
struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Create an integration directory: one kind, a mapping, a blueprint, fixtures and a test case.",
        discussion: """
        The integration is written to --directory (default: ./NAME), which must not exist or be empty. \
        It passes `tide lint` and `tide test` before any edit; docs/authoring-guide.md explains each file.
        """
    )

    @Argument(help: ArgumentHelp("The integration's name: lower-case letters, digits and hyphens (e.g. my-tool).", valueName: "NAME"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Where to write the integration (default: ./NAME).", valueName: "DIR"))
    var directory: String?

    func run() throws {
        guard let first = name.first, first.isASCII, first.isLetter, first.isLowercase,
              name.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }), !name.hasSuffix("-") else {
            Terminal.error("tide new: \"\(name)\" is not a valid name: use lower-case letters, digits and hyphens, starting with a letter")
            throw ExitCode(2)
        }
        let target = URL(fileURLWithPath: directory ?? name).standardized
        let manager = FileManager.default
        if let existing = try? manager.contentsOfDirectory(atPath: target.path), !existing.isEmpty {
            Terminal.error("tide new: \(target.path) already exists and is not empty")
            throw ExitCode(2)
        }
        let scaffold = Scaffold(name: name, schemas: Self.schemaLocation(from: target))
        do {
            for (path, text) in scaffold.files {
                let file = target.appendingPathComponent(path)
                try manager.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
        } catch {
            Terminal.error("tide new: cannot write \(target.path): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let shown = directory ?? name
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        output.writeLine("created \(shown)/ (\(scaffold.files.map(\.path).joined(separator: ", ")))")
        output.writeLine("next: tide lint \(shown) && tide test \(shown)   (docs/authoring-guide.md)")
        output.flush()
    }

    /// The schemas folder seen from the new integration: a relative path when a Tide checkout's
    /// schemas/ is above it (editors then need no network), else the schemas' published ids.
    static func schemaLocation(from target: URL) -> (String) -> String {
        var folder = target.deletingLastPathComponent()
        var ups = 1
        while folder.path != "/" && ups < 12 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("schemas/integration.schema.json").path) {
                let prefix = String(repeating: "../", count: ups) + "schemas/"
                return { file in prefix + file }
            }
            folder = folder.deletingLastPathComponent()
            ups += 1
        }
        return { file in "https://tide.dev/schemas/" + file }
    }
}

/// The files of a new integration, by path below its directory.
struct Scaffold {
    let name: String
    /// `integration.schema.json` → what the integration's top-level files write after `$schema=`.
    let schemas: (String) -> String

    var title: String { name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ") }
    var camel: String {
        let parts = name.split(separator: "-").map(String.init)
        return (parts.first ?? name) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
    var blueprint: String { camel + "Item" }

    /// A file `depth` folders below the integration's root names the schema this way.
    func schema(_ file: String, depth: Int) -> String {
        let location = schemas(file)
        return location.hasPrefix("https://") ? location : String(repeating: "../", count: depth) + location
    }

    var files: [(path: String, text: String)] {
        [("integration.yml", integration), (".port/resources/port-app-config.yml", mapping),
         (".port/resources/blueprints.json", blueprints), ("fixtures/fixtures.yml", fixtures),
         ("fixtures/config.yml", config), ("fixtures/items/page-1.json", page1), ("fixtures/items/page-2.json", page2),
         ("tests/basic.yml", basicTest)]
    }

    var integration: String {
        """
        # yaml-language-server: $schema=\(schema("integration.schema.json", depth: 0))
        name: \(name)
        title: \(title)
        description: Items from the \(title) API.
        version: 0.1.0

        configuration:
          - name: apiUrl
            type: url
            required: true
            description: The API's base URL, for example https://api.example.com
          - name: apiToken
            type: string
            required: true
            sensitive: true
            description: API token, sent as a bearer token.

        http:
          baseUrl: "{{ .config.apiUrl }}"
          headers:
            Accept: application/json
          auth:
            type: bearer
            token: "{{ .config.apiToken }}"

        kinds:
          item:
            description: Every item, page by page.
            request:
              method: GET
              path: /items
              query:
                per_page: 100
            records: .items
            pagination:
              type: nextUrl
              next: .next

        """
    }

    var mapping: String {
        """
        # yaml-language-server: $schema=\(schema("port-app-config.schema.json", depth: 2))
        createMissingRelatedEntities: true
        deleteDependentEntities: true
        resources:
          - kind: item
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .id | tostring
                  title: .name
                  blueprint: '"\(blueprint)"'
                  properties:
                    status: .status
                    url: .html_url
                    createdAt: .created_at

        """
    }

    var blueprints: String {
        """
        [
          {
            "identifier": "\(blueprint)",
            "title": "\(title) Item",
            "icon": "Box",
            "schema": {
              "properties": {
                "status": {"title": "Status", "type": "string", "enum": ["open", "closed"]},
                "url": {"title": "URL", "type": "string", "format": "url"},
                "createdAt": {"title": "Created", "type": "string", "format": "date-time"}
              },
              "required": []
            },
            "relations": {}
          }
        ]

        """
    }

    var fixtures: String {
        """
        # What the API answers, for `tide test` and `tide run --replay` (docs/fixtures.md).
        - name: items, page 1
          request:
            method: GET
            path: /items
            query: {per_page: 100}
          response:
            body: items/page-1.json

        # The first page's `next` link is relative, so replay stays on the fixture server.
        - name: items, page 2 (last)
          request:
            method: GET
            path: /items
            query: {per_page: 100, page: 2}
          response:
            body: items/page-2.json

        """
    }

    var config: String {
        """
        # Settings for tests and --replay; requests go to the fixture server, so none is a secret.
        apiUrl: https://api.example.com
        apiToken: replay-token-not-a-secret

        """
    }

    var page1: String {
        """
        {
          "items": [
            {"id": 1, "name": "First item", "status": "open", "html_url": "https://example.com/items/1", "created_at": "2024-05-01T09:00:00Z"},
            {"id": 2, "name": "Second item", "status": "closed", "html_url": "https://example.com/items/2", "created_at": "2024-05-02T10:30:00Z"}
          ],
          "next": "/items?per_page=100&page=2"
        }

        """
    }

    var page2: String {
        """
        {
          "items": [
            {"id": 3, "name": "Third item", "status": "open", "html_url": "https://example.com/items/3", "created_at": null}
          ],
          "next": null
        }

        """
    }

    var basicTest: String {
        """
        # yaml-language-server: $schema=\(schema("test-case.schema.json", depth: 1))
        name: items, both pages
        description: The default mapping over two pages of items.
        fixturesFile: ../fixtures/fixtures.yml
        expect:
          counts:
            \(blueprint): 3
          entities:
            - blueprint: \(blueprint)
              identifier: "1"
              title: First item
              properties: {status: open, url: "https://example.com/items/1", createdAt: "2024-05-01T09:00:00Z"}
            - blueprint: \(blueprint)
              identifier: "2"
              title: Second item
              properties: {status: closed, url: "https://example.com/items/2", createdAt: "2024-05-02T10:30:00Z"}
            - blueprint: \(blueprint)
              identifier: "3"
              title: Third item
              properties: {status: open, url: "https://example.com/items/3", createdAt: null}

        """
    }
}
