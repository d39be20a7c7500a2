import Foundation
import Testing
import TideCore
import TideYAML

@Suite struct SyntaxErrorTests {
    @Test func mappingValueInPlainScalar() throws {
        let diagnostic = try #require(failure("a: b: c\n"))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.severity == .error)
        #expect(diagnostic.location == loc(1, 5))
        #expect(diagnostic.message == "mapping values are not allowed in this context")
        #expect(diagnostic.description.hasPrefix("test.yml:1:5: error: mapping values are not allowed in this context [yaml-syntax]"))
    }

    @Test func parserErrorNamesItsContext() throws {
        let diagnostic = try #require(failure("a: 1\nb:\n  - x\n c: 2\n"))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.location == loc(4, 2))
        #expect(diagnostic.message.contains("did not find expected key"))
        #expect(diagnostic.message.contains("while parsing a block mapping that starts at line 1, column 1"))
    }

    @Test func unterminatedQuote() throws {
        let diagnostic = try #require(failure("a: 1\nb: \"abc\n"))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.location?.line == 3)
        #expect(diagnostic.message.contains("while scanning a quoted scalar that starts at line 2, column 4"))
    }

    @Test func tabIndentation() throws {
        let diagnostic = try #require(failure("a:\n\tb: 1\n"))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.location == loc(2, 1))
        #expect(diagnostic.message == "found character that cannot start any token (while scanning for the next token)")
        #expect(diagnostic.hint?.contains("tab") == true)
        #expect(try #require(failure("a: b: c\n")).hint?.contains("tab") == false)
    }

    /// jq with `key: value` inside, unquoted, is the usual cause: the hint says to quote it.
    @Test func unquotedJqObjectGetsAQuotingHint() throws {
        let diagnostic = try #require(failure("title: .a | {b: .c}\n"))
        #expect(diagnostic.message == "mapping values are not allowed in this context")
        #expect(diagnostic.hint?.contains("single quotes") == true)
        #expect(try #require(failure("a:\n  - [1, 2\n")).hint == nil)
    }

    @Test func unclosedFlowSequence() throws {
        let diagnostic = try #require(failure("a: [1, 2\nb: 3\n"))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.location?.file == "test.yml")
    }

    @Test func secondDocumentIsRefusedAtItsMarker() throws {
        let diagnostic = try #require(failure("a: 1\n---\nb: 2\n"))
        #expect(diagnostic.rule == "yaml-multiple-documents")
        #expect(diagnostic.message == "only one YAML document is allowed")
        #expect(diagnostic.location == loc(2, 1))
        let afterEnd = try #require(failure("a: 1\n...\nb: 2\n"))
        #expect(afterEnd.rule == "yaml-multiple-documents")
        #expect(afterEnd.location == loc(3, 1))
        #expect(try load("a: 1\n...\n# trailing comment\n")["a"]?.value == .int(1))
    }

    @Test func nulByteIsADiagnostic() throws {
        let diagnostic = try #require(failure("a: b\u{0}c\n"))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.message.contains("control characters are not allowed"))
        #expect(diagnostic.location == loc(1, 5))
    }

    @Test func invalidUTF8IsADiagnosticAtTheByte() throws {
        let diagnostic = try #require(failure(bytes: Array("a: 1\nbé: ".utf8) + [0xFF, 0x41]))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.message.contains("UTF-8"))
        #expect(diagnostic.message.contains("0xFF"))
        #expect(diagnostic.location == loc(2, 5))
        let truncated = try #require(failure(bytes: Array("k: ".utf8) + [0xE2, 0x82]))
        #expect(truncated.rule == "yaml-syntax")
        #expect(truncated.location == loc(1, 4))
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func binaryGarbageNeverCrashes(seed: UInt64) throws {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        var bytes: [UInt8] = []
        for _ in 0..<65_536 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes.append(UInt8(truncatingIfNeeded: state >> 56))
        }
        let diagnostic = try #require(failure(bytes: bytes))
        #expect(diagnostic.rule == "yaml-syntax")
        #expect(diagnostic.location != nil)
    }

    @Test func printableGarbageNeverCrashes() throws {
        // Structure characters in every order exercise the scanner rather than the UTF-8 reader.
        let alphabet = Array("[]{}:,-?&*!|>'\"%@`# \n\tab1")
        var state: UInt64 = 42
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<200 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            if let diagnostic = failure(text) {
                #expect(diagnostic.rule.hasPrefix("yaml-"))
                #expect(diagnostic.location != nil)
            }
        }
    }
}

@Suite struct FileTests {
    private func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("tide-yaml-\(ProcessInfo.processInfo.processIdentifier)-\(name)").path
    }

    @Test func readsAFileAndNamesItInLocations() throws {
        let path = temporaryPath("ok.yml")
        try Data("resources:\n  - kind: issue\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let root = try YAML.parse(contentsOf: path)
        let kind = try #require(root["resources"]?.items?.first?["kind"])
        #expect(kind.string == "issue")
        #expect(kind.location == SourceLocation(file: path, line: 2, column: 11))
    }

    @Test func syntaxErrorInAFileNamesTheFile() throws {
        let path = temporaryPath("bad.yml")
        try Data("a: b: c\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try YAML.parse(contentsOf: path)
        } throws: { error in
            (error as? Diagnostic)?.location == SourceLocation(file: path, line: 1, column: 5)
        }
    }

    @Test func invalidUTF8FileIsADiagnostic() throws {
        let path = temporaryPath("latin1.yml")
        try Data([0x61, 0x3A, 0x20, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try YAML.parse(contentsOf: path)
            Issue.record("Latin-1 text was accepted")
        } catch {
            #expect(error.rule == "yaml-syntax")
            #expect(error.location == SourceLocation(file: path, line: 1, column: 4))
        }
    }

    @Test func missingFileIsAnIODiagnostic() throws {
        let path = temporaryPath("missing.yml")
        do {
            _ = try YAML.parse(contentsOf: path)
            Issue.record("a missing file parsed")
        } catch {
            #expect(error.rule == "io")
            #expect(error.message.contains(path))
            #expect(error.message.contains("No such file"))
        }
    }

    @Test func directoryIsAnIODiagnostic() throws {
        do {
            _ = try YAML.parse(contentsOf: FileManager.default.temporaryDirectory.path)
            Issue.record("a directory parsed")
        } catch {
            #expect(error.rule == "io")
        }
    }
}
