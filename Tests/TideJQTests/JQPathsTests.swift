import Testing
@testable import TideJQ

/// The analysis must be exact for simple programs (a regression that keeps everything whole
/// would still be correct, but would make projection useless) and whole wherever it cannot tell.
// One case at a time: these are CPU-bound and many, and run in parallel they would crowd out
// the suites that wait on servers.
@Suite(.serialized) struct JQPathsTests {
    static let exactTrees: [(String, String)] = [
        (".key", "{key: *}"),
        (".fields.status.name", "{fields: {status: {name: *}}}"),
        (#".avatarUrls["48x48"]"#, #"{avatarUrls: {"48x48": *}}"#),
        (#"."a b".c"#, #"{"a b": {c: *}}"#),
        (".fields.subtasks | map(.key)", "{fields: {subtasks: {[]: {key: *}}}}"),
        ("[.assignees[].login]", "{assignees: {[]: {login: *}}}"),
        (".a[]?.b", "{a: {[]: {b: *}}}"),
        (".[0].x", "{[]: {x: *}}"),
        (".[-1]", "{[]: *}"),
        (".a[1:]", "{a: *}"),
        (#"(.self | split("/") | .[:3] | join("/")) + "/browse/" + .key"#, "{key: *, self: *}"),
        (#".base.repo.name + "-" + (.number | tostring)"#, "{base: {repo: {name: *}}, number: *}"),
        (".escalation_rules | length", "{escalation_rules: *}"),
        (".pull_request == null", "{pull_request: *}"),
        ("true", "{}"),
        (#""jiraIssue""#, "{}"),
        // Path-keeping forms: only what flows out is whole.
        ("select(.x == 1) | .y", "{x: *, y: *}"),
        ("select(.a) | .b", "{a: {}, b: *}"),
        ("if .fields.parent then .fields.parent.key else null end", "{fields: {parent: {key: *}}}"),
        ("if .a then .b end", "*"),
        (".a // .b | .c", "{a: {c: *}, b: {c: *}}"),
        (". as $r | $r.a.b", "{a: {b: *}}"),
        (".a as $x | .b | $x.c", "{a: {c: *}, b: {}}"),
        ("first(.a, .b) | .c", "{a: {c: *}, b: {c: *}}"),
        ("try .a.b catch .", "{a: {b: *}}"),
        ("label $out | .a | ., break $out", "{a: *}"),
        (".a? | .b?", "{a: {b: *}}"),
        ("{a, b: .c.d}", "{a: *, c: {d: *}}"),
        (#""\(.a)-\(.b.c)""#, "{a: *, b: {c: *}}"),
        ("reduce .a[] as $x (0; . + $x)", "{a: {[]: *}}"),
        ("[limit(2; .a[])]", "{a: {[]: *}}"),
        (".a | strings", "{a: *}"),
        ("$__loc__", "{}"),
        ("env.HOME", "{}"),
        ("$ENV.PATH", "{}"),
        ("empty", "{}"),
        (".a and .b", "{a: {}, b: {}}"),
        (".a | not", "{a: {}}"),
    ]

    @Test(arguments: exactTrees.map { [$0.0, $0.1] })
    func exactTree(_ pair: [String]) {
        #expect(JSONProjection.analyzing(pair[0]).description == pair[1], "\(pair[0])")
    }

    /// Constructs the analysis does not follow: the whole input is kept.
    static let wholeAtRoot = [
        ".", "..", "paths", "[paths]", "leaf_paths", "getpath([\"a\"])", "path(.a)", "del(.a)", "to_entries", "keys",
        "length", "has(\"a\")", "tojson", "tostring", ".a |= 1", ".a = 1", ".a += 1", ".a //= 1", "input", "[inputs]",
        "def f: .a; f", "$__prog_args", "$undefined", "recurse", "walk(.)", "with_entries(.)", "map_values(.)",
        "@base64", "type", "error", ". as [$a] | $a", ". as {a: $x} | $x",
        ".[] as [$a] ?// $a | $a", "import \"x\" as y; .a", "include \"x\"; .a", "@json \"\\(.)\"",
        ".[.a]", ".[\"a\", \"b\"]", ".a +", "(", "\"unterminated", ".a ! .b", "reduce . as $x (0; 1)",
    ]

    @Test(arguments: wholeAtRoot)
    func fallsBackToWhole(_ program: String) {
        #expect(JSONProjection.analyzing(program).isWhole, "\(program) gave \(JSONProjection.analyzing(program))")
    }

    /// Below the root, not-understood constructs keep the current input whole, not the record.
    @Test func unknownBuiltinKeepsItsInputWhole() {
        #expect(JSONProjection.analyzing(".fields | keys").description == "{fields: *}")
        #expect(JSONProjection.analyzing(".a.b | getpath([\"c\"]) | .d").description == "{a: {b: *}}")
        #expect(JSONProjection.analyzing(".a | ..").description == "{a: *}")
        #expect(JSONProjection.analyzing(".a | .b |= 1").description == "{a: *}")
        #expect(JSONProjection.analyzing(".a | some_unknown_function(.b)").description == "{a: *}")
    }

    @Test func jiraIssueMappingTree() {
        // The Jira `issue` kind: identifier, title, blueprint, properties, relations, selector.
        let expressions = [".key"] + ProjectionCorpus.mappingExpressions[14..<31] + ["true"]
        #expect(JSONProjection.analyzing(expressions).description == """
            {fields: {assignee: {accountId: *}, components: *, created: *, creator: {emailAddress: *}, issuetype: {name: *}, \
            labels: *, parent: {key: *}, priority: {name: *}, project: {key: *}, reporter: {accountId: *}, resolutiondate: *, \
            status: {name: *}, subtasks: {[]: {key: *}}, summary: *, updated: *}, key: *, self: *}
            """)
    }

    @Test func unionGraftAndAccessors() {
        let a = JSONProjection.analyzing(".a.b")
        let b = JSONProjection.analyzing(".a[].c")
        let both = a.union(b)
        #expect(both.description == "{a: {b: *, []: {c: *}}}")
        #expect(both.member("a")?.elements?.description == "{c: *}")
        #expect(both.member("a")?.member("b")?.isWhole == true)
        #expect(both.member("x") == nil)
        #expect(a.union(.whole).isWhole)
        #expect(JSONProjection.nothing.union(a) == a)
        #expect(a.grafted(under: [.member("issues"), .elements]).description == "{issues: {[]: {a: {b: *}}}}")
        let built = JSONProjection.whole.grafted(under: [.member("x")]).union(JSONProjection.nothing.grafted(under: [.elements]))
        #expect(built.description == "{x: *, []: {}}")
        #expect(JSONProjection.analyzing(".records[]", outputs: a).description == "{records: {[]: {a: {b: *}}}}")
        #expect(JSONProjection.analyzing(".", outputs: a) == a)
        #expect(JSONProjection.analyzing(".x | length", outputs: a).description == "{x: *}")
        #expect(JSONProjection.analyzing([".a", "def f: 1; f"]).isWhole)
        // Absurdly nested programs are not analysed.
        #expect(JSONProjection.analyzing(String(repeating: "(", count: 100) + ".a" + String(repeating: ")", count: 100)).isWhole)
        #expect(JSONProjection.analyzing(String(repeating: "(", count: 10) + ".a" + String(repeating: ")", count: 10)).description == "{a: *}")
        #expect(JSONProjection.analyzing((0..<400).map { ".k\($0)" }.joined(separator: ", ")).isWhole)
        // Long pipelines are not nesting.
        #expect(JSONProjection.analyzing(".a" + String(repeating: " | .b?", count: 100) + " | .c").isWhole == false)
    }

    /// Keys are bytes: two spellings of "é" that Swift's `==` treats as equal stay apart.
    @Test func keysCompareAsBytes() {
        let composed = JSONProjection.analyzing(#".["\#u{E9}"]"#)
        let decomposed = JSONProjection.analyzing(#".["e\#u{301}"]"#)
        #expect(composed != decomposed)
        #expect(composed.union(decomposed).members.count == 2)
    }

    /// Precedence follows libjq 1.6: a misparse could hide a read.
    @Test func precedence() {
        // `as` takes everything to its right; `//` binds looser than `and`.
        #expect(JSONProjection.analyzing("1 + .a as $x | $x.b, $x.c").description == "{a: {b: *, c: *}}")
        #expect(JSONProjection.analyzing(".a // .b and .c | .d").description == "{a: {d: *}, b: {}, c: {}}")
        // `try` and `catch` take one term: `| .c` runs on the try's outputs.
        #expect(JSONProjection.analyzing("try .a catch .b | .c").description == "{a: {c: *}}")
        #expect(JSONProjection.analyzing(".x, .y | .z").description == "{x: {z: *}, y: {z: *}}")
        #expect(JSONProjection.analyzing("{a: .b | .c, d: .e}").description == "{b: {c: *}, e: *}")
        #expect(JSONProjection.analyzing(".a[.b]").description == "{a: *, b: *}")
        #expect(JSONProjection.analyzing(". as {a: $x, b: [$y]} | $x").isWhole)
        // Comments end at the line's end.
        #expect(JSONProjection.analyzing(".a # .b\n| .c").description == "{a: {c: *}}")
        // `.e5` is a number in jq's lexer, not a field.
        #expect(JSONProjection.analyzing(".end, .and").description == "{and: *, end: *}")
    }
}
