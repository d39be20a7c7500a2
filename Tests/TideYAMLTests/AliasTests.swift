import Testing
import TideCore
import TideYAML

@Suite struct AliasTests {
    @Test func aliasCopiesTheAnchoredNodeAtTheAliasPosition() throws {
        let root = try load("""
            base: &b {x: 1, y: [1, 2]}
            copy: *b
            word: &w hello
            again: *w
            """)
        let base = try #require(root["base"])
        let copy = try #require(root["copy"])
        #expect(copy.kind == base.kind)
        #expect(copy.location == loc(2, 7))
        #expect(base.location == loc(1, 7))
        // Children keep the positions of the text they came from.
        #expect(copy["x"]?.location == loc(1, 14))
        #expect(root["again"]?.string == "hello")
        #expect(root["again"]?.location == loc(4, 8))
        #expect(root.jsonText() == #"{"base":{"x":1,"y":[1,2]},"copy":{"x":1,"y":[1,2]},"word":"hello","again":"hello"}"#)
    }

    @Test func aliasRefersToTheLatestAnchorOfThatName() throws {
        let root = try load("a: &n 1\nb: &n 2\nc: *n\n")
        #expect(root["c"]?.value == .int(2))
    }

    @Test func undefinedAliasIsAnErrorAtTheAlias() throws {
        let diagnostic = try #require(failure("a: 1\nb: [x, *nope]\n"))
        #expect(diagnostic.rule == "yaml-alias")
        #expect(diagnostic.location == loc(2, 8))
        #expect(diagnostic.message.contains("*nope"))
        #expect(diagnostic.description.hasPrefix("test.yml:2:8: error: "))
    }

    @Test func aliasBeforeItsAnchorIsUndefined() throws {
        let diagnostic = try #require(failure("a: *later\nb: &later 1\n"))
        #expect(diagnostic.rule == "yaml-alias")
        #expect(diagnostic.location == loc(1, 4))
    }

    @Test func aliasInsideItsOwnAnchorIsRefused() throws {
        let diagnostic = try #require(failure("a: &x [1, *x]\n"))
        #expect(diagnostic.rule == "yaml-alias")
        #expect(diagnostic.location == loc(1, 11))
    }

    @Test func mergeKeyAddsPairsTheMappingDoesNotDefine() throws {
        let root = try load("""
            base: &base
              a: 1
              b: 2
            child:
              <<: *base
              b: 3
              c: 4
            """)
        let child = try #require(root["child"])
        #expect(child.pairs?.map(\.key.scalar?.text) == ["a", "b", "c"])
        #expect(child["a"]?.value == .int(1))
        #expect(child["a"]?.location == loc(2, 6))
        #expect(child["b"]?.value == .int(3))
        #expect(child["b"]?.location == loc(6, 6))
        #expect(child.jsonText() == #"{"a":1,"b":3,"c":4}"#)
        #expect(child["<<"] == nil)
    }

    @Test func explicitKeyWinsEvenWhenWrittenBeforeTheMerge() throws {
        let root = try load("base: &b {k: merged}\nchild: {k: own, <<: *b}\n")
        #expect(root["child"]?["k"]?.string == "own")
        #expect(root["child"]?.pairs?.count == 1)
    }

    @Test func mergeListEarlierMappingsWin() throws {
        let root = try load("""
            a: &a {x: 1, y: 1}
            b: &b {y: 2, z: 2}
            c:
              <<: [*a, *b]
              w: 0
            """)
        let c = try #require(root["c"])
        #expect(c["x"]?.value == .int(1))
        #expect(c["y"]?.value == .int(1))
        #expect(c["y"]?.location == loc(1, 17))
        #expect(c["z"]?.value == .int(2))
        #expect(c["w"]?.value == .int(0))
        #expect(c.pairs?.count == 4)
        #expect(c.pairs?.contains { $0.key.scalar?.text == "<<" } == false)
    }

    @Test func mergesApplyTransitivelyAndInline() throws {
        let root = try load("""
            one: &one {a: 1}
            two: &two {<<: *one, b: 2}
            three:
              <<: *two
              <<: {c: 3}
            """)
        #expect(root["three"]?.jsonText() == #"{"a":1,"b":2,"c":3}"#)
    }

    @Test func quotedOrTaggedMergeKeys() throws {
        let root = try load("a: &a {x: 1}\nquoted: {'<<': *a}\ntagged: {!!merge <<: *a}\n")
        #expect(root["quoted"]?.pairs?.first?.key.scalar?.text == "<<")
        #expect(root["quoted"]?["<<"]?["x"]?.value == .int(1))
        #expect(root["tagged"]?.jsonText() == #"{"x":1}"#)
    }

    @Test func mergeOfAScalarIsAnError() throws {
        let diagnostic = try #require(failure("a: &a 1\nb:\n  <<: *a\n"))
        #expect(diagnostic.rule == "yaml-merge")
        #expect(diagnostic.location == loc(3, 7))
        #expect(diagnostic.message.contains("integer"))
        let inList = try #require(failure("a: &a {x: 1}\nb: {<<: [*a, oops]}\n"))
        #expect(inList.rule == "yaml-merge")
        #expect(inList.location == loc(2, 14))
    }
}

@Suite struct LimitTests {
    @Test func deeplyNestedFlowSequencesFail() throws {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let found = try #require(failure(text))
        #expect(found.rule == "yaml-limit")
        #expect(found.message.contains("256"))
        #expect(found.location == loc(1, 257))
    }

    @Test func deeplyNestedBlockMappingsFail() throws {
        var text = ""
        for level in 0..<300 { text += String(repeating: " ", count: level) + "k:\n" }
        let diagnostic = try #require(failure(text))
        #expect(diagnostic.rule == "yaml-limit")
        #expect(diagnostic.location == loc(257, 257))
    }

    @Test func depthLimitIsExact() throws {
        let limits = YAMLLimits(maxDepth: 3, maxNodes: 100)
        #expect(failure("[[[1]]]", limits: limits) == nil)
        #expect(failure("[[[[1]]]]", limits: limits)?.rule == "yaml-limit")
    }

    @Test func depthCountsAliasExpansion() throws {
        let limits = YAMLLimits(maxDepth: 3, maxNodes: 100)
        #expect(failure("a: &a [[1]]\n", limits: limits) == nil)
        let diagnostic = try #require(failure("a: &a [[1]]\nb: [*a]\n", limits: limits))
        #expect(diagnostic.rule == "yaml-limit")
        #expect(diagnostic.location == loc(2, 5))
    }

    @Test func nodeLimitIsExact() throws {
        let limits = YAMLLimits(maxDepth: 10, maxNodes: 5)
        #expect(failure("[1, 2, 3, 4]", limits: limits) == nil)
        let diagnostic = try #require(failure("[1, 2, 3, 4, 5]", limits: limits))
        #expect(diagnostic.rule == "yaml-limit")
        #expect(diagnostic.location == loc(1, 14))
    }

    @Test func billionLaughsIsRefused() throws {
        var text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        let names = "abcdefghij".map(String.init)
        for (previous, name) in zip(names, names.dropFirst()) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]\n"
        }
        let found = try #require(failure(text))
        #expect(found.rule == "yaml-limit")
        #expect(found.message.contains("1000000"))
        // 10 + 100 + ... + 10^6 crosses a million on line 6 ("f").
        #expect(found.location?.line == 6)
    }

    @Test func modestAliasUseStaysUnderTheLimit() throws {
        var text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
        text += "b: [" + Array(repeating: "*a", count: 1000).joined(separator: ", ") + "]\n"
        let root = try load(text)
        #expect(root["b"]?.items?.count == 1000)
        #expect(root["b"]?.items?[999].items?.count == 10)
    }
}
