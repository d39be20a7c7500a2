import Foundation
import Testing
@testable import TideJQ

/// The projected stream delimits values by scanning bytes: it must find the same values as
/// libjq's streaming parser in every layout, and fail where it fails.
@Suite struct ProjectedJSONStreamTests {
    /// Writes `text` to a pipe in small pieces from another thread, so values straddle reads.
    static func values(_ text: String, paths: JSONProjection, program: String) throws -> [String] {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let bytes = Array(text.utf8)
        let writeEnd = fds[1]
        let writer = Thread {
            var offset = 0
            while offset < bytes.count {
                let size = min(7, bytes.count - offset)
                _ = bytes[offset..<(offset + size)].withUnsafeBytes { write(writeEnd, $0.baseAddress, size) }
                offset += size
            }
            close(writeEnd)
        }
        writer.start()
        defer { close(fds[0]) }
        let stream = ProjectedJSONStream(descriptor: fds[0], recordPaths: paths)
        let jq = try JQProgram(program)
        var outputs: [String] = []
        while let value = try stream.next() {
            for record in records(value) { outputs += try jq.all(record).map { $0.serialized() } }
        }
        return outputs
    }

    static func reference(_ text: String, program: String) throws -> [String] {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tide-stream-\(UUID().uuidString)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let descriptor = open(url.path, O_RDONLY)
        defer { close(descriptor) }
        let stream = JSONStream(descriptor: descriptor)
        let jq = try JQProgram(program)
        var outputs: [String] = []
        while let value = try stream.next() {
            for record in records(value) { outputs += try jq.all(record).map { $0.serialized() } }
        }
        return outputs
    }

    static let program = #"[.key, .fields.summary, (.fields.labels | length)]"#

    /// A top-level array holds records; anything else is one.
    static func records(_ value: JSON) -> [JSON] { value.kind == .array ? value.arrayElements : [value] }

    @Test(arguments: [
        // JSON lines, a blank line, CRLF
        "{\"key\": \"A-1\", \"fields\": {\"summary\": \"one\", \"labels\": [\"x\"], \"big\": {\"a\": [1, 2, {\"b\": \"}\"}]}}}\n\n{\"key\": \"A-2\", \"fields\": {\"summary\": \"t\\\"wo}\", \"labels\": []}}\r\n",
        // pretty-printed objects, concatenated without separators
        "{\n  \"key\": \"B-1\",\n  \"fields\": {\"summary\": \"{[\\\\\", \"labels\": null}\n}{\"key\": \"B-2\", \"fields\": {}}",
        // an array of records, then an object
        "[{\"key\": \"C-1\", \"fields\": {\"summary\": \"é ✓\"}}, {\"key\": \"C-2\", \"skip\": [[[]]]}] {\"key\": \"C-3\"}",
    ])
    func findsTheSameValuesAsLibjqsStream(text: String) throws {
        let paths = JSONProjection.analyzing(Self.program)
        #expect(!paths.isWhole)
        #expect(try Self.values(text, paths: paths, program: Self.program) == Self.reference(text, program: Self.program))
    }

    @Test func scalarsAtTheTopLevelAreValuesToo() throws {
        let text = "1 \"two\" true null\n3.5"
        #expect(try Self.values(text, paths: JSONProjection.analyzing("."), program: ".") == ["1", "\"two\"", "true", "null", "3.5"])
    }

    @Test(arguments: ["{\"key\": \"A\"", "[{\"key\": \"A\"}", "{\"key\": tru}", "{\"a\": 1} }", "{\"key\": \"A\"}\n{\"key\" \"B\"}"])
    func invalidInputIsAnError(text: String) throws {
        #expect(throws: JSONStreamError.self) {
            _ = try Self.values(text, paths: JSONProjection.analyzing(Self.program), program: Self.program)
        }
    }
}
