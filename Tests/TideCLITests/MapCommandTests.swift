import Foundation
import Testing
import TideTesting

/// `tide map` as a user runs it: the real binary, real files, exit codes and output streams.
@Suite struct MapCommandTests {
    let folder: URL
    let mapping: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-map-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        mapping = folder.appendingPathComponent("port-app-config.yml").path
        try """
        resources:
          - kind: issue
            selector:
              query: .fields.keep != false
            port:
              entity:
                mappings:
                  identifier: .key
                  title: .fields.summary
                  blueprint: '"jiraIssue"'
                  properties:
                    status: .fields.status.name
          - kind: issue
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: '"copy-" + .key'
                  blueprint: '"jiraIssueCopy"'
        """.write(toFile: mapping, atomically: true, encoding: .utf8)
    }

    func file(_ name: String, _ contents: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func file(_ name: String, bytes: Data) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func mapsAnArrayToEntityLinesWithTheReportOnStandardError() async throws {
        let raw = try file("raw.json", #"[{"key": "P-1", "fields": {"summary": "Hi", "status": {"name": "Open"}}}, {"key": "P-2", "fields": {"keep": false}}]"#)
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 0)
        #expect(result.lines == [#"{"identifier":"P-1","title":"Hi","blueprint":"jiraIssue","properties":{"status":"Open"}}"#])
        #expect(result.stderr.contains("2 records → 1 entity (1 filtered by the selector, 0 skipped, 0 errors)"))
    }

    /// An API response around the records maps as one record that gives no entity: a warning
    /// names the key that holds them, and --records picks them out.
    @Test func anEnvelopeIsNamedAndRecordsPicksItsRecords() async throws {
        let raw = try file("envelope.json", #"{"startAt": 0, "issues": [{"key": "P-1", "fields": {"summary": "Hi"}}, {"key": "P-2", "fields": {"summary": "Ho"}}]}"#)
        let plain = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(plain.status == 0)
        #expect(plain.lines.isEmpty)
        #expect(plain.stderr.contains("pick them with --records .issues (its \"issues\" holds 2 objects)"), "\(plain.stderr)")
        let picked = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--records", ".issues", raw])
        #expect(picked.status == 0)
        #expect(picked.lines.count == 2)
        #expect(picked.lines.first?.contains(#""identifier":"P-1""#) == true)
        #expect(!picked.stderr.contains("--records"))
        let streamed = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--records", ".issues[]", raw])
        #expect(streamed.lines == picked.lines)
        let broken = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--records", ".issues[", raw])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("does not compile"))
    }

    @Test func readsJSONLinesFromStandardInputAndPicksTheResourceByIndex() async throws {
        let input = Data("{\"key\": \"A\"}\n{\"key\": \"B\"}\n".utf8)
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--resource", "1", "-"], stdin: input)
        #expect(result.status == 0)
        #expect(result.lines == [#"{"identifier":"copy-A","blueprint":"jiraIssueCopy"}"#,
                                 #"{"identifier":"copy-B","blueprint":"jiraIssueCopy"}"#])
    }

    @Test func jsonReportIsOneParseableObject() async throws {
        let raw = try file("raw.jsonl", "{\"key\": \"A\", \"fields\": {}}\n")
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--report", "json", raw])
        let report = try JSONSerialization.jsonObject(with: Data(result.stderr.utf8)) as? [String: Any]
        #expect(report?["entities"] as? Int == 1)
        let fields = (report?["misconfigurations"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
        #expect(fields == ["properties.status", "title"])
    }

    @Test func itemErrorsGiveExitStatusOne() async throws {
        let raw = try file("raw.json", #"[{"key": "A", "fields": {"keep": "no"}}, 7]"#)
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 1)
        #expect(result.stderr.contains("the record is a number, not an object"))
        #expect(result.stderr.contains("Expected boolean value") == false)  // "no" != false is true: a boolean
    }

    @Test func invalidYAMLNamesFileLineAndColumn() async throws {
        let broken = try file("broken.yml", "resources:\n  - kind: issue\n    selector: [\n")
        let raw = try file("raw.json", "[]")
        let result = try await TideProcess.run(["map", "--mapping", broken, "--kind", "issue", raw])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(broken):4:1: error:"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func invalidJQInAFieldIsReportedAndTheFieldIsNull() async throws {
        let broken = try file("badjq.yml", """
        resources:
          - kind: issue
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .key, blueprint: '"b"', title: '.x | | .y'}}}
        """)
        let raw = try file("raw.json", #"[{"key": "A"}]"#)
        let result = try await TideProcess.run(["map", "--mapping", broken, "--kind", "issue", raw])
        #expect(result.status == 0)
        #expect(result.lines == [#"{"identifier":"A","title":null,"blueprint":"b"}"#])
        #expect(result.stderr.contains("\(broken):4:75: title: .x | | .y"), "\(result.stderr)")
        #expect(result.stderr.contains("does not compile: syntax error"))
    }

    @Test(arguments: [
        ("scalar.json", "42", "value 1 is a number"),
        ("text.json", "hello world", "not valid JSON"),
        ("truncated.json", #"[{"key": "A"}"#, "not valid JSON"),
    ])
    func rawThatIsNotRecordsIsAnInputError(name: String, contents: String, expected: String) async throws {
        let raw = try file(name, contents)
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 2)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.contains(raw))
    }

    @Test func binaryGarbageIsAnInputErrorNotACrash() async throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let raw = try file("garbage.bin", bytes: bytes)
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 2)
        // Random bytes are usually not JSON; now and then they begin with a number, which is JSON
        // but not a record. Either way it is an input error that names the file.
        #expect(result.stderr.contains("error: \(raw): "), "\(result.stderr)")
        #expect(result.stderr.contains("not valid JSON") || result.stderr.contains("RAW must hold records"), "\(result.stderr)")
        let asMapping = try await TideProcess.run(["map", "--mapping", raw, "--kind", "issue", raw])
        #expect(asMapping.status == 2)
        #expect(asMapping.stderr.contains("error:"))
    }

    @Test func deepNestingIsRefusedWithAMessage() async throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let raw = try file("deep.json", #"{"key": "A", "x": "# + deep + "}")
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 2)
        #expect(result.stderr.contains("depth"), "\(result.stderr)")
    }

    @Test func aFiftyMegabyteStringMapsThrough() async throws {
        let big = String(repeating: "x", count: 50 * 1024 * 1024)
        let raw = try file("big.json", #"{"key": "A", "fields": {"summary": ""# + big + #""}}"#)
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 0)
        #expect(result.lines.count == 1)
        #expect(result.stdout.utf8.count > 50 * 1024 * 1024)
    }

    @Test func anUnknownKindListsTheKindsThereAre() async throws {
        let raw = try file("raw.json", "[]")
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "isue", raw])
        #expect(result.status == 2)
        #expect(result.stderr.contains(#"no resource has kind "isue"; the kinds here are: issue"#))
        let outOfRange = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--resource", "2", raw])
        #expect(outOfRange.status == 2)
        #expect(outOfRange.stderr.contains("--resource must be 0…1"))
    }

    @Test func parallelJobsGiveTheSameLinesInTheSameOrder() async throws {
        let lines = (0..<5_000).map { #"{"key": "P-\#($0)", "fields": {"summary": "S\#($0)", "keep": \#($0 % 7 != 0)}}"# }
        let raw = try file("many.jsonl", lines.joined(separator: "\n") + "\n")
        let one = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", raw])
        let two = try await TideProcess.run(["map", "--jobs", "2", "--mapping", mapping, "--kind", "issue", raw])
        #expect(one.status == 0 && two.status == 0)
        #expect(one.lines.count == 5_000 - 715)
        #expect(two.stdout == one.stdout)
        #expect(two.stderr.contains("5000 records → 4285 entities (715 filtered by the selector"), "\(two.stderr)")
    }

    @Test func parallelJobsNameTheLineThatIsNotJSON() async throws {
        let raw = try file("broken.jsonl", "{\"key\": \"A\"}\n\n{\"key\": \"B\"}\n{oops\n")
        let result = try await TideProcess.run(["map", "--jobs", "2", "--mapping", mapping, "--kind", "issue", raw])
        #expect(result.status == 2)
        #expect(result.stderr.contains("line 4: not valid JSON"), "\(result.stderr)")
    }

    @Test func aMissingRawFileIsAnInputError() async throws {
        let result = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "/nonexistent/raw.json"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot read RAW file /nonexistent/raw.json"))
    }
}
