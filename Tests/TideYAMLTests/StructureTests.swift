import Testing
import TideCore
import TideYAML

@Suite struct StructureTests {
    @Test func blockAndFlowCollectionsKeepPositions() throws {
        let root = try load("""
            name: tide
            deps:
              - a
              - b: 1
            nested:
              x: {y: [1, 2]}
            """)
        #expect(root.location == loc(1, 1))
        #expect(root.typeName == "mapping")
        let pairs = try #require(root.pairs)
        #expect(pairs.map(\.key.scalar?.text) == ["name", "deps", "nested"])
        #expect(pairs[0].key.location == loc(1, 1))
        #expect(pairs[0].value.location == loc(1, 7))
        #expect(pairs[0].value.string == "tide")

        let deps = try #require(root["deps"])
        #expect(deps.location == loc(3, 3))
        let items = try #require(deps.items)
        #expect(items.count == 2)
        #expect(items[0].location == loc(3, 5))
        #expect(items[0].string == "a")
        #expect(items[1].location == loc(4, 5))
        #expect(items[1]["b"]?.value == .int(1))
        #expect(items[1]["b"]?.location == loc(4, 8))

        let flowMap = try #require(root["nested"]?["x"])
        #expect(flowMap.location == loc(6, 6))
        let flowSeq = try #require(flowMap["y"])
        #expect(flowSeq.location == loc(6, 10))
        #expect(flowSeq.items?.map(\.value) == [.int(1), .int(2)])
        #expect(flowSeq.items?[1].location == loc(6, 14))
    }

    @Test func indentlessSequenceStartsAtItsDash() throws {
        let root = try load("deps:\n- a\n- b\n")
        #expect(root["deps"]?.location == loc(2, 1))
        #expect(root["deps"]?.items?.compactMap(\.string) == ["a", "b"])
    }

    @Test func quotedScalarsKeepTheirQuotesAsText() throws {
        let root = try load("""
            identifier: '"jiraIssue"'
            title: ".fields.summary"
            escaped: "tab\\there \\u00e9\\n"
            apostrophe: 'it''s'
            plain: .key
            """)
        let identifier = try #require(root["identifier"]?.scalar)
        #expect(identifier.text == "\"jiraIssue\"")
        #expect(identifier.style == .singleQuoted)
        #expect(identifier.value == .string("\"jiraIssue\""))
        #expect(root["identifier"]?.location == loc(1, 13))
        #expect(root["title"]?.scalar?.style == .doubleQuoted)
        #expect(root["title"]?.scalar?.text == ".fields.summary")
        #expect(root["escaped"]?.scalar?.text == "tab\there é\n")
        #expect(root["apostrophe"]?.scalar?.text == "it's")
        #expect(root["plain"]?.scalar?.style == .plain)
    }

    @Test func blockScalarsWithChomping() throws {
        let root = try load("""
            clip: |
              line1
              line2
            folded: >
              folded
              text

              para
            strip: |-
              strip
            keep: |+
              keep

            foldstrip: >-
              x
              y
            indented: |2
                two extra
            end: 1
            """)
        #expect(root["clip"]?.scalar == YAMLScalar(text: "line1\nline2\n", style: .literal, value: .string("line1\nline2\n")))
        #expect(root["clip"]?.location == loc(1, 7))
        #expect(root["folded"]?.scalar?.text == "folded text\npara\n")
        #expect(root["folded"]?.scalar?.style == .folded)
        #expect(root["strip"]?.scalar?.text == "strip")
        #expect(root["keep"]?.scalar?.text == "keep\n\n")
        #expect(root["foldstrip"]?.scalar?.text == "x y")
        #expect(root["indented"]?.scalar?.text == "  two extra\n")
        #expect(root.pairs?.last?.key.location == loc(19, 1))
        #expect(root["end"]?.location == loc(19, 6))
    }

    @Test func blockScalarThatLooksLikeANumberIsAString() throws {
        let root = try load("n: |\n  12\nm: >-\n  true\n")
        #expect(root["n"]?.value == .string("12\n"))
        #expect(root["m"]?.value == .string("true"))
    }

    @Test func multiLinePlainAndQuotedScalarsFold() throws {
        let root = try load("""
            plain: first
              second

              third
            quoted: "one
              two"
            single: 'a
              b'
            after: x
            """)
        #expect(root["plain"]?.scalar?.text == "first second\nthird")
        #expect(root["plain"]?.scalar?.style == .plain)
        #expect(root["quoted"]?.scalar?.text == "one two")
        #expect(root["single"]?.scalar?.text == "a b")
        #expect(root.pairs?.last?.key.location == loc(9, 1))
        #expect(root["after"]?.location == loc(9, 8))
    }

    @Test func emptyInputsAreANullAtTheStart() throws {
        for text in ["", "# only a comment\n", "\n\n", "---\n", "--- ~\n"] {
            let root = try load(text)
            #expect(root.value == .null, "\(text.debugDescription)")
            #expect(root.typeName == "null")
        }
        #expect(try load("").location == loc(1, 1))
        #expect(try load("").scalar?.style == .plain)
    }

    @Test func explicitDocumentMarkersAroundOneDocumentAreFine() throws {
        let root = try load("---\na: 1\n...\n")
        #expect(root["a"]?.value == .int(1))
        #expect(root["a"]?.location == loc(2, 4))
    }

    @Test func columnsCountCharactersNotBytes() throws {
        let root = try load("ééé: x\n日本: [y]\n")
        #expect(root["ééé"]?.location == loc(1, 6))
        #expect(root["日本"]?.items?.first?.location == loc(2, 6))
    }

    @Test func byteOrderMarkAndCRLFDoNotShiftPositions() throws {
        let root = try load("\u{FEFF}a: 1\r\nb: two\r\n")
        #expect(root.pairs?.first?.key.location == loc(1, 1))
        #expect(root["b"]?.location == loc(2, 4))
        #expect(root["b"]?.string == "two")
    }

    @Test func tagsAreKeptAsWrittenAndStrForcesAString() throws {
        let root = try load("""
            a: !!str 123
            b: !custom value
            c: !!int "42"
            d: !!float 3
            e: ! 12
            f: !!map {x: 1}
            g: !!null ""
            h: !!bool "true"
            """)
        #expect(root["a"]?.tag == "!!str")
        #expect(root["a"]?.value == .string("123"))
        #expect(root["b"]?.tag == "!custom")
        #expect(root["b"]?.value == .string("value"))
        #expect(root["c"]?.value == .int(42))
        #expect(root["d"]?.value == .float(3))
        #expect(root["e"]?.value == .string("12"))
        #expect(root["e"]?.tag == "!")
        #expect(root["f"]?.tag == "!!map")
        #expect(root["g"]?.value == YAMLValue.null)
        #expect(root["h"]?.value == .bool(true))
        #expect(root.pairs?.first?.key.tag == nil)
    }

    @Test func mismatchedTypeTagIsAnError() throws {
        let diagnostic = try #require(failure("a: 1\nb: !!int abc\n"))
        #expect(diagnostic.rule == "yaml-tag")
        #expect(diagnostic.location == loc(2, 4))
        #expect(diagnostic.message.contains("abc"))
    }

    @Test func duplicateKeysAreKeptAndTheLastWins() throws {
        let root = try load("a: 1\nb: 2\na: 3\n")
        let pairs = try #require(root.pairs)
        #expect(pairs.map(\.key.scalar?.text) == ["a", "b", "a"])
        #expect(pairs[2].key.location == loc(3, 1))
        #expect(root["a"]?.value == .int(3))
        #expect(root["a"]?.location == loc(3, 4))
        #expect(root.jsonText() == #"{"a":3,"b":2}"#)
    }

    @Test func complexKeysAreAllowed() throws {
        let root = try load("? [a, b]\n: 1\n")
        let pair = try #require(root.pairs?.first)
        #expect(pair.key.items?.count == 2)
        #expect(pair.value.value == .int(1))
        #expect(root.jsonText() == #"{"[\"a\",\"b\"]":1}"#)
    }

    @Test func accessorsAreNilForOtherKinds() throws {
        let sequence = try load("[1, {a: b}]")
        #expect(sequence["a"] == nil)
        #expect(sequence.pairs == nil)
        #expect(sequence.scalar == nil)
        #expect(sequence.value == nil)
        #expect(sequence.items?.count == 2)
        let scalar = try load("hello")
        #expect(scalar.items == nil)
        #expect(scalar.pairs == nil)
        #expect(scalar["hello"] == nil)
        #expect(scalar.string == "hello")
        #expect(try load("1").string == nil)
    }
}
