import Testing
@testable import TideJQ

@Suite struct JSONPathTests {
    @Test func tellsNullAndAbsentFromPresentValues() throws {
        let document = try JSON(parsing: #"{"a": {"b": null, "c": 0, "list": [false, null, {"d": "x"}]}, "s": "text"}"#)
        func isNull(_ steps: [JSONPath.Step]) -> Bool { JSONPath(steps).isNullOrAbsent(in: document) }
        #expect(isNull([.key("a"), .key("b")]))
        #expect(isNull([.key("a"), .key("missing")]))
        #expect(isNull([.key("s"), .key("b")]))            // a string is not an object
        #expect(isNull([.key("a"), .key("list"), .index(1)]))
        #expect(isNull([.key("a"), .key("list"), .index(7)]))
        #expect(isNull([.key("a"), .index(0)]))            // an object is not an array
        #expect(!isNull([.key("a"), .key("c")]))           // 0 and false are values
        #expect(!isNull([.key("a"), .key("list"), .index(0)]))
        #expect(!isNull([.key("a"), .key("list"), .index(2), .key("d")]))
        #expect(!isNull([]))
        // The document is untouched and the path can be used again.
        let path = JSONPath([.key("a"), .key("c")])
        for _ in 0..<3 { #expect(!path.isNullOrAbsent(in: document)) }
        #expect(document["a"]?["c"]?.numberValue == 0)
    }
}

@Suite struct JSONPathReadTests {
    /// `read` answers what jq's own `.a.b` answers, raise included, on every shape of document.
    @Test func readsAsJqDoes() throws {
        let documents = [#"{"a": {"b": null, "c": 0, "s": "x", "l": [1, {"d": 2}]}}"#, #"{"a": null}"#, #"{}"#,
                         #"{"a": "text"}"#, #"{"a": [1, 2]}"#, #"{"a": {"b": {"c": true}}}"#, #"{"a": 1.5}"#]
        let paths: [[String]] = [[], ["a"], ["a", "b"], ["a", "c"], ["a", "s"], ["a", "l"], ["a", "b", "c"],
                                 ["a", "s", "x"], ["a", "l", "d"], ["missing", "deeper", "still"]]
        var compared = 0
        for text in documents {
            let document = try JSON(parsing: text)
            for keys in paths {
                let jq = try JQProgram(keys.isEmpty ? "." : keys.map { ".\($0)" }.joined())
                let expected: JSON? = try? jq.first(document)
                let read = JSONPath(keys.map { .key($0) }).read(in: document)
                #expect(read == expected, "\(keys) in \(text)")
                compared += 1
            }
        }
        #expect(compared == documents.count * paths.count)
    }

    /// The writer's text is libjq's `jv_dump_string` text, byte for byte, for values of every kind:
    /// escapes, control characters, non-ASCII, integers and fractions at every magnitude, -0,
    /// nesting and key order.
    @Test func writerMatchesLibjqDump() throws {
        var random = SeededRandom(seed: 11)
        let pieces = ["a", "\"", "\\", "\n", "\t", "\u{01}", "\u{7F}", "é", "😀", "/", " ", "\u{1F}", "\r", "\u{08}", "\u{0C}"]
        func string() -> String { (0..<Int.random(in: 0...6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined() }
        func number() -> String {
            switch Int.random(in: 0...6, using: &random) {
            case 0: return String(Int.random(in: -1_000_000...1_000_000, using: &random))
            case 1: return "1e\(Int.random(in: 10...20, using: &random))"
            case 2: return "-0"
            case 3: return String(Double.random(in: -1e6...1e6, using: &random))
            case 4: return "\(Int.random(in: 1...9, using: &random))e-\(Int.random(in: 1...9, using: &random))"
            case 5: return String(Int64.random(in: 999_999_999_999_000...1_000_000_000_001_000, using: &random))
            default: return "123456789012345678901234567890"
            }
        }
        func value(_ depth: Int) -> String {
            switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &random) {
            case 0: return ["null", "true", "false"].randomElement(using: &random)!
            case 1: return number()
            case 2, 3: return JSON(string()).serialized()
            case 4: return "[" + (0..<Int.random(in: 0...3, using: &random)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
            default:
                return "{" + (0..<Int.random(in: 0...4, using: &random)).map { _ in JSON(string()).serialized() + ":" + value(depth + 1) }
                    .joined(separator: ",") + "}"
            }
        }
        var compared = 0
        for _ in 0..<2000 {
            let json = try JSON(parsing: value(0))
            var writer = JSONWriter()
            writer.value(json)
            #expect(writer.text == json.serialized())
            compared += 1
        }
        #expect(compared == 2000)
    }
}
