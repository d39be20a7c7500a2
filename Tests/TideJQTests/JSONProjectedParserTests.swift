import Foundation
import Testing
@testable import TideJQ

// One case at a time: these are CPU-bound and many, and run in parallel they would crowd out
// the suites that wait on servers.
@Suite(.serialized) struct JSONProjectedParserTests {
    static let wholePlan = JSONProjectionPlan(.whole)
    static let keyPlan = JSONProjectionPlan(JSONProjection.analyzing(".key"))
    static let jiraPlan = JSONProjectionPlan(JSONProjection.analyzing([
        ".key", ".fields.summary", ".fields.status.name", ".fields.subtasks | map(.key)", ".fields.labels", ".fields.parent.key",
    ]))

    static func parse(_ bytes: [UInt8], _ plan: JSONProjectionPlan) -> JSON? {
        bytes.withUnsafeBytes { JSON.parse(bytes: $0, projection: plan) }
    }

    static func parse(_ text: String, _ plan: JSONProjectionPlan) -> JSON? { parse(Array(text.utf8), plan) }

    static func libjq(_ bytes: [UInt8]) -> JSON? {
        bytes.withUnsafeBufferPointer { try? JSON(parsing: $0) }
    }

    // MARK: What is kept

    @Test func keepsOnlyNamedKeysInDocumentOrder() throws {
        let text = #"{"b":{"x":1},"key":"K-1","a":[1,2],"fields":{"summary":"S","status":{"name":"Done","id":"3"},"labels":["x"],"big":"…"}}"#
        let projected = try #require(Self.parse(text, Self.jiraPlan))
        #expect(projected.serialized() == #"{"key":"K-1","fields":{"summary":"S","status":{"name":"Done"},"labels":["x"]}}"#)
        #expect(Self.parse(text, Self.keyPlan)?.serialized() == #"{"key":"K-1"}"#)
    }

    @Test func unexpectedTypesAreKeptWhole() throws {
        #expect(Self.parse(#"{"fields":"str","key":1}"#, Self.jiraPlan)?.serialized() == #"{"fields":"str","key":1}"#)
        #expect(Self.parse(#"{"fields":[{"summary":1},2]}"#, Self.jiraPlan)?.serialized() == #"{"fields":[{"summary":1},2]}"#)
        #expect(Self.parse(#"{"fields":{"status":[{"name":1,"x":2}]}}"#, Self.jiraPlan)?.serialized() == #"{"fields":{"status":[{"name":1,"x":2}]}}"#)
        #expect(Self.parse(#"["a",{"key":1,"x":2}]"#, Self.keyPlan)?.serialized() == #"["a",{"key":1,"x":2}]"#)
        #expect(Self.parse(#""text""#, Self.keyPlan)?.serialized() == #""text""#)
        // Elements of an object (`.[]` on it): every key, each projected.
        let subtasks = #"{"fields":{"subtasks":{"one":{"key":"S-1","id":"1"},"two":"x"}}}"#
        #expect(Self.parse(subtasks, Self.jiraPlan)?.serialized() == #"{"fields":{"subtasks":{"one":{"key":"S-1"},"two":"x"}}}"#)
        // A node read both by name and by element: objects keep named keys (merged with the
        // element reads) and every other key; arrays keep every element.
        let both = JSONProjectionPlan(JSONProjection.analyzing(".a.b.x, .a[].y"))
        #expect(Self.parse(#"{"a":{"b":{"x":1,"y":2,"z":3},"c":{"x":4,"y":5}}}"#, both)?.serialized() == #"{"a":{"b":{"x":1,"y":2},"c":{"y":5}}}"#)
        #expect(Self.parse(#"{"a":[{"x":1,"y":2},3]}"#, both)?.serialized() == #"{"a":[{"y":2},3]}"#)
    }

    @Test func duplicateKeysLastValueWinsInFirstPlace() throws {
        let text = #"{"key":1,"b":2,"key":{"x":[3]},"fields":"s","fields":{"summary":"t","other":0}}"#
        let full = try #require(Self.libjq(Array(text.utf8)))
        #expect(Self.parse(text, Self.wholePlan)?.serialized() == full.serialized())
        #expect(Self.parse(text, Self.jiraPlan)?.serialized() == #"{"key":{"x":[3]},"fields":{"summary":"t"}}"#)
    }

    /// With nothing projected away, the result is libjq's parse exactly, on every corpus input.
    @Test func wholeProjectionEqualsLibjq() {
        let inputs = ProjectionCorpus.trickyInputs + ProjectionCorpus.generatedInputs() + ProjectionCorpus.fixtureInputs()
        var compared = 0
        for input in inputs {
            let full = Self.libjq(input.bytes)
            let mine = Self.parse(input.bytes, Self.wholePlan)
            if full == nil || input.declineExpected {
                #expect(mine == nil, "\(input.name)")
                continue
            }
            guard let full, let mine else {
                Issue.record("\(input.name): declined")
                continue
            }
            #expect(mine.serialized() == full.serialized(), "\(input.name)")
            #expect(mine == full, "\(input.name)")
            compared += 1
        }
        #expect(compared > 150)
    }

    @Test func stringsAndKeysDecodeAsLibjqDoes() throws {
        let strings = [
            #""plain""#, #""\" \\ \/ \b \f \n \r \t""#, #""\u0000\u001f\u007f\u0080\u07ff\u0800\uffff""#, #""\ud83d\ude00\uD834\uDD1E""#,
            #""\udc00""#, #""x\udfff\udc00y""#, #""\u00e9\u00E9""#, #""é日本😀""#, #""\ufffd""#, "\"\u{7F}\"",
        ]
        for text in strings {
            for document in ["[\(text)]", "{\(text):\(text)}", "{\"key\":\(text),\(text):1}"] {
                let full = try #require(Self.libjq(Array(document.utf8)), "\(document)")
                for plan in [Self.wholePlan, Self.keyPlan] {
                    let mine = try #require(Self.parse(document, plan), "\(document)")
                    if plan === Self.wholePlan { #expect(mine.serialized() == full.serialized(), "\(document)") }
                    #expect(try JQProgram(".key?").all(mine) == JQProgram(".key?").all(full), "\(document)")
                }
            }
        }
        // An escaped key still matches its member.
        #expect(Self.parse(#"{"k\u0065y":"v","\u006b\u0065\u0079x":2}"#, Self.keyPlan)?.serialized() == #"{"key":"v"}"#)
        // Invalid UTF-8 in a key becomes U+FFFD, as libjq stores it, then matches that member.
        let replaced = JSONProjectionPlan(JSONProjection.analyzing(".[\"\u{FFFD}\"]"))
        let bytes: [UInt8] = Array(#"{""#.utf8) + [0xFF] + Array(#"":1,"x":2}"#.utf8)
        #expect(Self.parse(bytes, replaced)?.serialized() == #"{"\#u{FFFD}":1}"#)
    }

    @Test func numbersConvertAsLibjqDoes() throws {
        var numbers = ["0", "-0", "1", "-1", "123456789012345", "-999999999999999", "1234567890123456", "9007199254740993",
                       "100000000000000000001", "1e1000", "-1e1000", "1e-400", "5e-324", "2.2250738585072014e-308", "0.1", "1.5",
                       "-0.0", "0e0", "1E+2", "1e-2", "3.141592653589793238462643383279", "1.7976931348623157e308", "4.9e-324"]
        var random = SeededRandom(seed: 3)
        for _ in 0..<500 {
            var text = Bool.random(using: &random) ? "-" : ""
            let digits = Int.random(in: 1...20, using: &random)
            text += String(Int.random(in: 1...9, using: &random))
            for _ in 1..<digits { text += String(Int.random(in: 0...9, using: &random)) }
            if Bool.random(using: &random) { text += "." + String(Int.random(in: 0...999_999, using: &random)) }
            if Bool.random(using: &random) { text += "e" + String(Int.random(in: -330...330, using: &random)) }
            numbers.append(text)
        }
        for number in numbers {
            let document = "[\(number),{\"key\":\(number)}]"
            let full = try #require(Self.libjq(Array(document.utf8)), "\(number)")
            let mine = try #require(Self.parse(document, Self.keyPlan), "\(number)")
            #expect(mine.serialized() == full.serialized(), "\(number)")
            #expect(mine == full, "\(number)")
        }
        // -0 keeps its sign.
        #expect(Self.parse("-0", Self.wholePlan)?.serialized() == "-0")
    }

    // MARK: What is refused

    @Test(arguments: ProjectionCorpus.invalidDocuments)
    func invalidJSONIsRefusedInKeptAndSkippedParts(_ bad: String) {
        #expect(Self.parse(bad, Self.wholePlan) == nil)
        #expect(Self.parse(bad, Self.keyPlan) == nil)
        #expect(Self.parse("{\"key\":\(bad)}", Self.keyPlan) == nil, "kept")
        #expect(Self.parse("{\"key\":\"k\",\"skipped\":\(bad)}", Self.keyPlan) == nil, "skipped")
        #expect(Self.parse("{\"key\":\"k\",\"skipped\":[1,{\"a\":\(bad)}]}", Self.keyPlan) == nil, "skipped deeper")
        if !bad.allSatisfy(\.isWhitespace) {  // `[ ]` is valid
            #expect(Self.parse("[\(bad)]", Self.keyPlan) == nil, "element")
        }
    }

    @Test func truncatedInputIsRefused() throws {
        var random = SeededRandom(seed: 1)
        let document = Array(ProjectionCorpus.generatedIssue(5, random: &random).utf8)
        #expect(Self.parse(document, Self.jiraPlan) != nil)
        for length in 0..<document.count {
            let prefix = Array(document[..<length])
            #expect(Self.parse(prefix, Self.jiraPlan) == nil, "prefix of \(length) bytes")
            #expect(Self.parse(prefix, Self.wholePlan) == nil, "prefix of \(length) bytes")
        }
    }

    @Test func trailingDataIsRefused() {
        for tail in ["x", "{}", " 1", ",", "]", "}", "\u{0}", " \"a\"", "\u{1E}"] {
            #expect(Self.parse(#"{"key":1}"# + tail, Self.keyPlan) == nil, "\(tail)")
            #expect(Self.parse("1" + tail, Self.wholePlan) == nil, "\(tail)")
        }
        #expect(Self.parse(" {\"key\":1} \n\t\r ", Self.keyPlan)?.serialized() == #"{"key":1}"#)
    }

    /// libjq counts containers and pending object keys and refuses a 257th level; so must this.
    @Test func nestingLimitMatchesLibjq() {
        var accepted = 0
        for depth in 240...270 {
            let arrays = String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
            let objects = String(repeating: #"{"a":"#, count: depth / 2) + "1" + String(repeating: "}", count: depth / 2)
            let mixed = String(repeating: #"[{"a":"#, count: depth / 3) + "1" + String(repeating: "}]", count: depth / 3)
            for document in [arrays, objects, mixed, #"{"key":1,"z":"# + arrays + "}", #"{"key":1,"z":"# + objects + "}"] {
                let full = Self.libjq(Array(document.utf8))
                for plan in [Self.wholePlan, Self.keyPlan] {
                    let mine = Self.parse(document, plan)
                    #expect((full == nil) == (mine == nil), "depth \(depth): libjq \(full == nil ? "refuses" : "accepts")")
                }
                if full != nil { accepted += 1 }
            }
        }
        #expect(accepted > 20)
    }

    // MARK: Robustness

    /// Random bytes and random edits of real documents: never a crash, and anything accepted is
    /// accepted by libjq too, with the same result for the programs the projection was made for.
    @Test func randomAndMutatedInputs() throws {
        var random = SeededRandom(seed: 2024)
        var seeds = ProjectionCorpus.generatedInputs(count: 4).map(\.bytes)
        seeds += ProjectionCorpus.trickyInputs.filter { $0.bytes.count > 40 }.map(\.bytes)
        let alphabet = Array(#"{}[]":,\ u0123456789abcdefnulltruefalse-+.eE"#.utf8) + [0x00, 0x1E, 0x80, 0xC3, 0xFF, 0x0A]
        let programs = try [".key", ".fields.summary", ".fields.status.name", ".fields.subtasks | map(.key)", ".fields.labels"]
            .map { try JQProgram($0) }
        var accepted = 0
        for round in 0..<4_000 {
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in
                    Bool.random(using: &random) ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
                }
            } else {
                bytes = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                    let at = Int.random(in: 0..<bytes.count, using: &random)
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0: bytes[at] = alphabet.randomElement(using: &random)!
                    case 1: bytes.remove(at: at)
                    case 2: bytes.insert(alphabet.randomElement(using: &random)!, at: at)
                    default: bytes[at] = UInt8.random(in: 0...255, using: &random)
                    }
                }
            }
            let full = Self.libjq(bytes)
            let whole = Self.parse(bytes, Self.wholePlan)
            let projected = Self.parse(bytes, Self.jiraPlan)
            #expect((whole == nil) == (projected == nil), "whole and projected disagree on acceptance (round \(round))")
            guard let projected else { continue }
            guard let full else {
                Issue.record("accepted what libjq refuses (round \(round)): \(String(decoding: bytes, as: UTF8.self))")
                continue
            }
            accepted += 1
            #expect(whole?.serialized() == full.serialized(), "round \(round)")
            for program in programs {
                #expect(Differential.outcome(program, projected) == Differential.outcome(program, full), "round \(round)")
            }
        }
        #expect(accepted > 500)
    }

    @Test func planReportsWholeProjections() {
        #expect(JSONProjectionPlan(.whole).keepsEverything)
        #expect(JSONProjectionPlan(.nothing).keepsEverything)
        #expect(!Self.keyPlan.keepsEverything)
        #expect(Self.parse("", Self.wholePlan) == nil)
    }
}
