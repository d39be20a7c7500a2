import Testing
import TideYAML

@Suite struct JSONTextTests {
    @Test func compactJSONOfTheResolvedTree() throws {
        let root = try load(#"""
            a: 1
            b: [true, null, 1.5, "x\"y\n", 'q']
            c: .inf
            d: ~
            e: {f: -.inf, g: .nan}
            h: "\x01\t\\/é"
            i: []
            j: {}
            k: 1e3
            """#)
        #expect(root.jsonText()
            == #"{"a":1,"b":[true,null,1.5,"x\"y\n","q"],"c":null,"d":null,"e":{"f":null,"g":null},"h":"\u0001\t\\/é","i":[],"j":{},"k":1000.0}"#)
    }

    @Test func keysAreTheirTextAndRepeatedKeysCollapse() throws {
        let root = try load("1: one\ntrue: yes\n~: nothing\n'1': again\n")
        #expect(root.jsonText() == #"{"1":"again","true":"yes","~":"nothing"}"#)
    }

    @Test func scalarDocumentsAndValues() throws {
        #expect(try load("hello").jsonText() == #""hello""#)
        #expect(try load("").jsonText() == "null")
        #expect(try load("-7").jsonText() == "-7")
        #expect(YAMLValue.float(-0.5).jsonText == "-0.5")
        #expect(YAMLValue.string("\u{1F}").jsonText == #""\u001f""#)
    }
}
