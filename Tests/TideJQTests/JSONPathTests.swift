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
