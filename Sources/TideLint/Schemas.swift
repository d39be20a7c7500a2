import TideIntegration
import TideJQ
import TideMapping
import TideSpec

/// The JSON Schemas `tide schema` prints and schemas/ holds, generated from the same specs the
/// loaders validate with, so an editor, the loader and `tide lint` agree on what a file may hold.
public enum Schemas {
    public enum Name: String, CaseIterable, Sendable {
        case integration
        case portAppConfig = "port-app-config"
        case testCase = "test-case"
        case fixtures
    }

    /// The schema's JSON text, pretty-printed with a final newline, exactly as committed in schemas/.
    public static func text(_ name: Name) -> String {
        let schema: JSON
        switch name {
        case .integration:
            schema = JSONSchemaExporter.schema(for: IntegrationSpec.root, id: id(name), title: "Tide integration",
                                               description: "A Tide integration.yml: configuration, HTTP, kinds and pagination.")
        case .portAppConfig:
            schema = JSONSchemaExporter.schema(for: PortAppConfigSpec.root, id: id(name), title: "Ocean port-app-config",
                                               description: "Ocean's port-app-config.yml, as Tide and port-ocean 0.56 read it.")
        case .testCase:
            schema = JSONSchemaExporter.schema(for: TestCaseSpec.root, id: id(name), title: "Tide test case",
                                               description: "A `tide test` case (DIR/tests/*.yml): fixtures, overrides and the expected resync.")
        case .fixtures:
            schema = JSONSchemaExporter.schema(for: FixturesSpec.root, id: id(name), title: "Tide fixtures",
                                               description: "fixtures.yml: recorded requests and the responses `tide run --replay` and `tide test` serve.")
        }
        return schema.prettyPrinted() + "\n"
    }

    /// docs/reference.md: the formats' keys, generated from the same specs as the schemas.
    public static func reference() -> String {
        let header = """
            # Format reference

            Generated from the definitions that the loaders, `tide lint` and the JSON Schemas in schemas/ use
            (regenerate with `tide docs > docs/reference.md`). The guides explain the formats:
            [integration-format.md](integration-format.md), [authoring-guide.md](authoring-guide.md),
            [fixtures.md](fixtures.md) (the fixture entries that test cases embed).

            Types: *template* is a string that may contain `{{ jq }}`; *jq* is a jq expression; *any* is
            any YAML value.


            """
        return header
            + SpecMarkdown.document(IntegrationSpec.root, title: "integration.yml",
                                    description: "Schema: `schemas/integration.schema.json`.") + "\n"
            + SpecMarkdown.document(PortAppConfigSpec.root, title: "port-app-config.yml",
                                    description: "Ocean's mapping, as Tide reads it. Schema: `schemas/port-app-config.schema.json`.") + "\n"
            + SpecMarkdown.document(TestCaseSpec.root, title: "tests/*.yml (`tide test` cases)",
                                    description: "Paths are relative to the case file. Schema: `schemas/test-case.schema.json`.") + "\n"
            + SpecMarkdown.document(FixturesSpec.entry, title: "fixtures.yml entries",
                                    description: "fixtures.yml is a list of these (see fixtures.md). Schema: `schemas/fixtures.schema.json`.")
    }

    /// `https://tide.dev/schemas/<name>.schema.json`; the committed file is schemas/<name>.schema.json.
    public static func id(_ name: Name) -> String { "https://tide.dev/schemas/\(fileName(name))" }
    public static func fileName(_ name: Name) -> String { "\(name.rawValue).schema.json" }
}
