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
        let text = "a: \"x\\\"{{ .b }}\"\nc: |\n  line1\n  line2\nd: 'it''s {{ .e }}'\n"
        let root = try YAML.parse(text, file: "f.yml")
        let source = SourceText(file: "f.yml", bytes: Array(text.utf8))
        // The model keeps a value's text and position; the scalar's style is read from the source.
        func location(_ key: String, _ offset: Int) -> TideCore.SourceLocation? {
            source.location(of: root[key]!.location, text: root[key]!.scalar!.text, offset: offset)
        }
        // The text of a is x"{{ .b }}: `.b` is at offset 5, column 11 in the source (after the escaped quote).
        #expect(location("a", 5) == SourceLocation(file: "f.yml", line: 1, column: 11))
        #expect(location("c", 6) == SourceLocation(file: "f.yml", line: 4, column: 3))
        // it's {{ .e }}: `.e` is at offset 8, column 14 (the quote opens at column 4, and its doubled quote is one character).
        #expect(location("d", 8) == SourceLocation(file: "f.yml", line: 5, column: 14))
        // Text that is not the source's (a default, a placeholder) falls back to the value's position.
        #expect(source.location(of: root["a"]!.location, text: "{{ nothing like it }}", offset: 5) == root["a"]!.location)
    }
}
