import Testing
@testable import TideJQ

/// The 1.8 → 1.6 rewrite (JQRewrite): the text it produces, and that libjq then gives jq 1.8.2's
/// answers (recorded with scripts/jq-oracle.py where noted).
@Suite struct JQRewriteTests {
    static let rewrites: [(String, String)] = [
        (".a?", "(try (.a | _tide_pass) catch _tide_caught(empty))"),
        (".a?.b?", "((try (.a | _tide_pass) catch _tide_caught(empty)) | try (.b | _tide_pass) catch _tide_caught(empty))"),
        (".a[0]?", "(.a | try (.[0] | _tide_pass) catch _tide_caught(empty))"),
        (".a.[]?", "(.a | try (.[] | _tide_pass) catch _tide_caught(empty))"),
        ("(.a.b)?", "(try ((.a.b) | _tide_pass) catch _tide_caught(empty))"),
        ("{a: .x | try f catch g, $__loc__}", "{a: (.x | try (f | _tide_pass) catch _tide_caught(g)), \"__loc__\": {\"file\": \"<top-level>\", \"line\": 1}}"),
        ("try .a catch 1", "try (.a | _tide_pass) catch _tide_caught(1)"),
        ("try tonumber", "try (tonumber | _tide_pass) catch _tide_caught(empty)"),
        (".s | try f catch \"c\"", ".s | try (f | _tide_pass) catch _tide_caught(\"c\")"),
        (".e1 + .a.E25", ".\"e1\" + .a.\"E25\""),
        (".e1?", "(try (.\"e1\" | _tide_pass) catch _tide_caught(empty))"),
        (".a.[0]", ".a[0]"),
        (".a.[\"b\"]", ".a[\"b\"]"),
        (".a.[]", ".a[]"),
        (".a.[1:]", ".a.[1:]"),
        (".[1.5], .[-1.5], .[2]", ".[1], .[-1], .[2]"),
        ("if . then 1 end", "if . then 1 else . end"),
        ("if . then 1 elif . == 2 then 3 end", "if . then 1 elif . == 2 then 3 else . end"),
        ("\"x\\(.a?)\"", "\"x\\((try (.a | _tide_pass) catch _tide_caught(empty)))\""),
        (".e", ".e"),
        (".e1x", ".e1x"),
        ("def f: .a?; f", "def f: .a?; f"),
        ("{a: .E5 | . * 2 // 0, b: 1 + 2}", "{a: (.\"E5\" | . * 2 // 0), b: (1 + 2)}"),
        ("{a: 1 as $x | $x}", "{a: 1 as $x | $x}"),
        ("if . then [1] end[0], if . then {a: 1} else {} end.a", "(if . then [1] else . end)[0], (if . then {a: (1)} else {} end).a"),
    ]

    @Test func rewritesTo16Syntax() {
        var compared = 0
        for (program, expected) in Self.rewrites {
            #expect(JQRewrite.for16(program) == expected, "\(program)")
            compared += 1
        }
        #expect(compared == Self.rewrites.count)
    }

    /// (program, input, jq 1.8.2's outputs as JSON).
    static let semantics: [(String, String, String)] = [
        ("\"1000\" | tonumber", "null", "[1000]"),
        ("first(try 1 catch \"c\")", "null", "[1]"),
        ("[label $f | (try 1 catch \"c\") | ., break $f]", "null", "[[1]]"),
        ("try ([.[]? | error(\"x\")]) catch \"raised\"", "[1]", "[\"raised\"]"),
        ("try (1, error(\"x\"), 3) catch .", "null", "[1,\"x\"]"),
        ("[.[] | try tonumber catch \"bad\"]", "[\"1\", \" 2\", \"x\"]", "[[1,\"bad\",\"bad\"]]"),
        ("label $f | try (1, break $f) catch \"c\"", "null", "[1,\"c\"]"),
        ("[.e1, .E5, .a.e10]", "{\"e1\":1,\"E5\":2,\"a\":{\"e10\":3}}", "[[1,2,3]]"),
        (".a.[0], .a.[\"b\"]?", "{\"a\":[7]}", "[7]"),
        ("[.[1.5], .[-1.5], .[1.7]]", "[1,2,3]", "[[2,3,2]]"),
        ("if . then \"t\" end", "false", "[false]"),
        ("strftime(\"%Z %%Z %Y\")", "0", "[\"GMT %Z 1970\"]"),
        ("[.xs[]? | .name]", "{\"xs\":[{\"name\":1},\"s\"]}", "error"),
        ("[.a.b?]", "{\"a\":[1]}", "[[]]"),
        ("[.a.b[0]?]", "{\"a\":[1]}", "error"),
        ("{a: .x | try tonumber catch \"bad\"}", "{\"x\":\"1\"}", "[{\"a\":1}]"),
        (".a |= (try tonumber catch 0)", "{\"a\":\"x\"}", "[{\"a\":0}]"),
        ("[.[] | (.a? // \"d\")]", "[{\"a\":1}, \"s\", null]", "[[1,\"d\",\"d\"]]"),
        // jq 1.8.2 (port-ocean's jq 1.13): object values take operators, `//`, `and`, assignments.
        ("{a: .E5 | . * 2 | select(. != null), b: .x}", "{\"E5\":862,\"x\":1}", "[{\"a\":1724,\"b\":1}]"),
        ("{a: 1 // 2, b: .x and .y, c: .x = 5, d: -1 + 2}", "{\"x\":1,\"y\":2}", "[{\"a\":1,\"b\":true,\"c\":{\"x\":5,\"y\":2},\"d\":1}]"),
        ("{a: .x | tostring + \"y\", (\"k\"): 1 + 1, \"s\": 2 * 3}", "{\"x\":1}", "[{\"a\":\"1y\",\"k\":2,\"s\":6}]"),
        ("{a: if true then 1 else 2 end + 1, b: reduce (1,2) as $i (0; . + $i)}", "null", "[{\"a\":2,\"b\":3}]"),
        // 1.7+: `if … end` takes suffixes (seed 90210 found this in a field).
        ("first(.e | ascii_downcase, if .e then .p else .[\"1\"] end[0])", "{\"e\":\"X@Y.Z\"}", "[\"x@y.z\"]"),
        ("[if . then [1] end[0], if . then {a: 1} else {} end.a]", "true", "[[1,1]]"),
    ]

    @Test func libjqGivesJq18Answers() throws {
        var compared = 0
        for (program, input, expected) in Self.semantics {
            let compiled = try JQProgram(program)
            let value = try JSON(parsing: input)
            if expected == "error" {
                #expect(throws: JQRuntimeError.self, "\(program)") { try compiled.all(value) }
            } else {
                let got = try compiled.all(value)
                #expect(JSON(array: got) == (try JSON(parsing: expected)), "\(program): \(got.map { $0.serialized() })")
            }
            // And through first(), which stops with a break.
            if expected != "error", let firstExpected = try JSON(parsing: expected).arrayElements.first {
                #expect(try compiled.first(value) == firstExpected, "first: \(program)")
            }
            compared += 1
        }
        #expect(compared == Self.semantics.count)
    }
}
