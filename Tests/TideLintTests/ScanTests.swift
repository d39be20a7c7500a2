import Testing
import TideCore
import TideYAML
@testable import TideLint

/// The static readers lint relies on: template pieces, references, and positions inside scalars.
@Suite struct ScanTests {
    @Test func templatePiecesKeepTheirOffsets() {
        let pieces = JQScan.pieces(of: #"a{{ .x }}b{{ {k: "}}"} | .k }}"#) ?? []
        #expect(pieces.map(\.expression) == [".x", #"{k: "}}"} | .k"#])
        #expect(pieces.map(\.offset) == [4, 13])
        #expect(JQScan.pieces(of: "{{ .a") == nil)
    }

    @Test func referencesAreFoundInCodeAndInterpolationsButNotInStringsOrLongerPaths() {
        let found = JQScan.references(in: #".config.a + .config["b"] + ."x".config.c + "\(.selector.d)" + ".config.e" + $v.config.f + (if .x then .config.g else 1 end)"#)
        #expect(found.map { "\($0.root).\($0.name)" } == ["config.a", "config.b", "selector.d", "config.g"])
    }

    @Test func positionsFollowEscapesAndBlockScalars() throws {
        let text = "a: \"x\\\"{{ .b }}\"\nc: |\n  line1\n  line2\n"
        let root = try YAML.parse(text, file: "f.yml")
        let source = SourceText(file: "f.yml", bytes: Array(text.utf8))
        // The text of a is x"{{ .b }}: `.b` is at offset 5, column 11 in the source (after the escaped quote).
        #expect(source.location(of: root["a"]!, offset: 5) == SourceLocation(file: "f.yml", line: 1, column: 11))
        #expect(source.location(of: root["c"]!, offset: 6) == SourceLocation(file: "f.yml", line: 4, column: 3))
    }
}
