import Foundation
import Testing
import TideLint

/// docs/reference.md must hold exactly what the specs generate, like schemas/.
@Suite struct ReferenceDocTests {
    static let reference = #filePath.replacingOccurrences(of: "Tests/TideLintTests/ReferenceDocTests.swift", with: "docs/reference.md")

    @Test func committedReferenceMatchesTheSpecs() throws {
        let committed = try String(contentsOfFile: Self.reference, encoding: .utf8)
        #expect(committed == Schemas.reference(), "docs/reference.md is stale: run `tide docs > docs/reference.md`")
    }

    @Test func theReferenceCoversEveryFormat() {
        let text = Schemas.reference()
        #expect(text.contains("## integration.yml"))
        #expect(text.contains("## port-app-config.yml"))
        #expect(text.contains("## tests/*.yml (`tide test` cases)"))
        #expect(text.contains("| `fixturesFile` | string |"))
    }
}
