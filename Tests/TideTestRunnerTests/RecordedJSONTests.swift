import Foundation
import Testing
import TideFetch
@testable import TideTestRunner

/// The JSON `tide record` writes bodies with: key order and number text as the API sent them,
/// so a written body differs from the response only where it was scrubbed or cut.
@Suite struct RecordedJSONTests {
    static func keys(_ json: RecordedJSON?) -> [String] {
        if case .object(let members)? = json { return members.map(\.key) }
        return []
    }

    @Test func compactTextRoundTripsByteForByte() throws {
        let texts = [
            #"{"z": 1, "a": [1.50, 12345678901234567890123, -0.0, 1E+3, 2e-7], "m": {"b": null, "a": true, "c": false}}"#,
            #"[]"#, #"{}"#, #"[{}, [], "", 0]"#, #""text""#, #"-1"#, #"null"#,
            #"{"id": 9007199254740993, "price": 19.990, "ids": [9007199254740993, 9007199254740994]}"#,
            #"{"quote": "a \"b\" c\\d", "tab": "x\ty", "line": "1\n2"}"#,
        ]
        var compared = 0
        for text in texts {
            let parsed = try #require(RecordedJSON.parse(text), "\(text)")
            #expect(parsed.text(pretty: false) == text)
            // And the pretty form reads back as the same value.
            #expect(RecordedJSON.parse(parsed.text()) == parsed, "\(text)")
            compared += 1
        }
        #expect(compared == texts.count)
    }

    @Test func keyOrderAndNumberTextSurviveWhatJSONSerializationWouldChange() throws {
        let text = #"{"zeta": 1, "alpha": 2, "mid": {"y": 0.10, "x": 1e2}, "big": 123456789012345678901234567890}"#
        let parsed = try #require(RecordedJSON.parse(text))
        #expect(Self.keys(parsed) == ["zeta", "alpha", "mid", "big"])
        #expect(Self.keys(parsed.value(at: [.key("mid")])) == ["y", "x"])
        #expect(parsed.value(at: [.key("mid"), .key("y")]) == .number("0.10"))
        #expect(parsed.value(at: [.key("big")]) == .number("123456789012345678901234567890"))
        // Pretty: two spaces per level, members in the order read.
        #expect(parsed.text() == """
            {
              "zeta": 1,
              "alpha": 2,
              "mid": {
                "y": 0.10,
                "x": 1e2
              },
              "big": 123456789012345678901234567890
            }
            """)
    }

    @Test func escapesAreDecoded() throws {
        let parsed = try #require(RecordedJSON.parse(#"["\u00e9", "\ud83d\ude00", "\/", "caf\u00E9 ok"]"#))
        #expect(parsed == .array([.string("é"), .string("😀"), .string("/"), .string("café ok")]))
        // Raw UTF-8 passes through.
        #expect(RecordedJSON.parse(#"{"name": "Grüße 東京"}"#)?.text(pretty: false) == #"{"name": "Grüße 東京"}"#)
    }

    @Test func whatIsNotOneJSONValueIsRefused() {
        var refused = 0
        for text in [#"{"a": 1,}"#, "[1, 2", "[1] x", #"{"a" 1}"#, "tru", "", "  ", "1.2.3", #"{a: 1}"#, #""open"#, "--1"] {
            #expect(RecordedJSON.parse(text) == nil, "\(text)")
            refused += 1
        }
        #expect(refused == 11)
        // Whitespace around one value is allowed.
        #expect(RecordedJSON.parse(" \n[1]\t ") == .array([.number("1")]))
    }

    @Test func setReplacesInPlaceAndAppendsOnlyAMissingLastKey() throws {
        var json = try #require(RecordedJSON.parse(#"{"b": {"next": "x", "n": 1}, "a": [1, 2]}"#))
        let results = [json.set(.null, at: [.key("b"), .key("next")]), json.set(.number("3"), at: [.key("a"), .index(1)]),
                       json.set(.bool(false), at: [.key("b"), .key("more")]),
                       json.set(.null, at: [.key("c"), .key("d")]), json.set(.null, at: [.key("a"), .index(5)])]
        #expect(results == [true, true, true, false, false])
        #expect(json.text(pretty: false) == #"{"b": {"next": null, "n": 1, "more": false}, "a": [1, 3]}"#)
    }

    @Test func rewrittenVisitsEveryValueWithItsKeyAndPath() throws {
        let json = try #require(RecordedJSON.parse(#"{"a": [{"b": "x"}], "c": "y"}"#))
        var seen: [String] = []
        let out = json.rewritten { value, key, path in
            seen.append("\(key ?? "-")@\(path.count)")
            if case .string(let text) = value { return .string(text.uppercased()) }
            return nil
        }
        #expect(out.text(pretty: false) == #"{"a": [{"b": "X"}], "c": "Y"}"#)
        #expect(seen == ["-@0", "a@1", "-@2", "b@3", "c@1"])
    }
}
