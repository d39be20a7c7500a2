import Foundation
import Testing
import TideLint

/// schemas/ must hold exactly what the specs generate, so editors validate what Tide accepts.
@Suite struct SchemaFilesTests {
    static let schemas = #filePath.replacingOccurrences(of: "Tests/TideLintTests/SchemaFilesTests.swift", with: "schemas")

    @Test(arguments: Schemas.Name.allCases)
    func committedSchemaMatchesTheSpec(name: Schemas.Name) throws {
        let path = Self.schemas + "/" + Schemas.fileName(name)
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(committed == Schemas.text(name),
                "schemas/\(Schemas.fileName(name)) is stale: run `tide schema \(name.rawValue) > schemas/\(Schemas.fileName(name))`")
    }

    @Test func schemasCarryTheirIDs() {
        #expect(Schemas.text(.integration).contains(#""$id": "https://tide.dev/schemas/integration.schema.json""#))
        #expect(Schemas.text(.portAppConfig).contains(#""$id": "https://tide.dev/schemas/port-app-config.schema.json""#))
    }
}
