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
        // Extension point: `fixtures` once the replay fixtures format has a TideSpec definition.
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
        }
        return schema.prettyPrinted() + "\n"
    }

    /// `https://tide.dev/schemas/<name>.schema.json`; the committed file is schemas/<name>.schema.json.
    public static func id(_ name: Name) -> String { "https://tide.dev/schemas/\(fileName(name))" }
    public static func fileName(_ name: Name) -> String { "\(name.rawValue).schema.json" }
}
