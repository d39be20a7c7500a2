import Foundation
import Testing
@testable import TideJQ

/// One case recorded from jq 1.8.2 by scripts/jq-oracle.py. Values are kept as JSON text because
/// test arguments must be Sendable and `JSON` (a libjq value) is not.
struct OracleCase: Sendable, CustomTestStringConvertible {
    var program: String
    var input: String
    /// The outputs as a JSON array text, when jq 1.8.2 succeeded.
    var outputs: String?
    /// jq.py's message, when jq 1.8.2 failed.
    var error: String?
    /// What `catch` saw (JSON text); nil for compile errors.
    var errorValue: String?

    var key: String { program + " ⟵ " + input }
    var testDescription: String {
        let shown = key.count > 90 ? String(key.prefix(87)) + "..." : key
        return shown
    }

    /// The message Tide should report: a string error value as is, anything else as JSON.swift words it.
    var expectedMessage: String? {
        guard let errorValue, let value = try? JSON(parsing: errorValue) else { return nil }
        if let text = value.stringValue { return text }
        return value.serialized() + " (not a string)"
    }
}

enum Oracle {
    static let cases: [OracleCase] = load()

    static func load() -> [OracleCase] {
        guard let url = Bundle.module.url(forResource: "jq18-oracle", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url),
              let text = String(data: data, encoding: .utf8),
              let all = try? JSON(parsing: text) else { return [] }
        return all.arrayElements.map { entry in
            OracleCase(program: entry["program"]?.stringValue ?? "",
                       input: entry["input"]?.stringValue ?? "null",
                       outputs: entry["outputs"]?.serialized(),
                       error: entry["error"]?.stringValue,
                       errorValue: entry["errorValue"]?.serialized())
        }
    }

    /// What Tide (libjq 1.6 + prelude) does with a case.
    enum Outcome {
        case outputs([JSON])
        case compileError(String)
        case runtimeError(String)
    }

    static func run(_ oracle: OracleCase) -> Outcome {
        let program: JQProgram
        do { program = try JQProgram(oracle.program, options: JQOptions(timeout: .seconds(5))) } catch {
            return .compileError(error.message)
        }
        guard let input = try? JSON(parsing: oracle.input) else { return .compileError("bad fixture input") }
        do { return .outputs(try program.all(input)) } catch {
            switch error {
            case .error(let message), .halted(let message): return .runtimeError(message)
            case .timeout, .memoryLimit: return .runtimeError("timeout")
            }
        }
    }

    /// Whether Tide's outcome is jq 1.8.2's: the same outputs as JSON values, or an error
    /// (with the same message unless `checkMessage` is false).
    static func matches(_ oracle: OracleCase, _ outcome: Outcome, checkMessage: Bool) -> Bool {
        switch outcome {
        case .outputs(let got):
            guard let text = oracle.outputs, let expected = try? JSON(parsing: text) else { return false }
            let wanted = expected.arrayElements
            return wanted.count == got.count && zip(wanted, got).allSatisfy { $0 == $1 }
        case .compileError:
            return oracle.error != nil
        case .runtimeError(let message):
            guard oracle.error != nil else { return false }
            guard checkMessage, let expected = oracle.expectedMessage else { return true }
            return message == expected
        }
    }
}

// One case at a time: these are CPU-bound and many, and run in parallel they would crowd out
// the suites that wait on servers.
@Suite(.serialized) struct CompatBuiltinsTests {
    /// Cases libjq 1.6 cannot match even with the prelude, keyed "program ⟵ input", each with why.
    /// `knownDifferencesStillDiffer` fails when one starts matching: then move it back.
    static let knownDifferences: [String: String] = [
        // Grammar added in 1.7/1.8; a prelude cannot change the parser.
        #""a" as $k | {$k: 1} ⟵ null"#: "1.7 `{$var: v}` keys are a syntax error in 1.6",
        #"[-1 as $x | 1, $x] ⟵ null"#: "1.8 changed the precedence of `as` bindings against unary minus",
        #"[1, 2] | [foreach .[] as $x (0, 1; . + $x)] ⟵ null"#: "1.8 re-runs foreach for each init output; 1.6 evaluates init with a different input",
        // jq 1.8 keeps number literals (decNumber); libjq 1.6 holds doubles only.
        #"tostring ⟵ 1.0"#: "1.8 keeps the literal text \"1.0\"",
        #"tojson ⟵ 100000000000000000000"#: "1.8 keeps the literal; 1.6 prints 1e+20",
        #"1e1000 | tojson ⟵ null"#: "1.8 keeps the literal 1E+1000; 1.6 clamps to the largest double",
        // Other unfixable ones.
        #"0 / 0 ⟵ null"#: "1.6 constant-folds literal 0 / 0 to nan at compile time, before any prelude `_divide` runs",
        #"getpath([1.7]) ⟵ [1,2,3]"#: "1.8 truncates fractional indices; libjq's C getpath answers null (JQRewrite fixes only literal `.[1.7]`)",
        #"try error(null) catch . ⟵ null"#: "1.6 treats error(null) as no error; the prelude raises \"null (not a string)\" instead, so catch sees a string",
        #"halt_error ⟵ "bye\n""#: "jq.py ends silently on halt_error; Tide reports JQRuntimeError.halted",
        // jq 1.8 repeats an empty global match once per UTF-8 continuation byte (a 1.8 bug); Tide
        // reports each position once. (libjq 1.6 itself segfaults here; the prelude matches stepwise.)
        #"[match(""; "g") | .offset] ⟵ "é€""#: "1.8 repeats empty matches inside multi-byte characters",
        #"gsub(""; "-") ⟵ "éa""#: "1.8 repeats empty matches inside multi-byte characters",
        #"[match("a*"; "g") | .offset] ⟵ "éa""#: "1.8 repeats empty matches inside multi-byte characters",
        #"[splits("x*")] ⟵ "éaé""#: "1.8 repeats empty matches inside multi-byte characters",
    ]

    /// Cases whose outcome matches but whose error text cannot: libjq 1.6 words the error itself.
    static let unmatchedMessages: [String: String] = [
        #"getpath(["a",0]) ⟵ {"a":{"b":1}}"#: "1.8 appends the key to index errors: \"... with number (0)\"",
        #"getpath(["a"]) ⟵ [1]"#: "1.8 index error wording",
        #"getpath([null]) ⟵ null"#: "1.8 index error wording",
        #"indices(1) ⟵ "a1""#: "1.8 index error wording",
        #"[.xs[]? | .name] ⟵ {"xs":[{"name":1},"s"]}"#: "1.8 index error wording: \"… with string (\"name\")\"",
        #"1 / 0 ⟵ null"#: "1.6 folds 1 / 0 at compile time and reports \"Division by zero?\"",
        // jq 1.8.2 (through Python's jq) answers "break"; a mapping has nothing to read, and says so.
        #"input ⟵ null"#: "Tide words it \"No more inputs\", as the jq CLI does",
    ]

    static var comparableCases: [OracleCase] {
        Oracle.cases.filter { knownDifferences[$0.key] == nil }
    }

    static var differingCases: [OracleCase] {
        Oracle.cases.filter { knownDifferences[$0.key] != nil }
    }

    @Test func fixtureIsLoadedAndLarge() {
        #expect(Oracle.cases.count >= 150)
        // Every listed difference must name a recorded case, or it silently guards nothing.
        let keys = Set(Oracle.cases.map(\.key))
        for key in Array(Self.knownDifferences.keys) + Array(Self.unmatchedMessages.keys) {
            #expect(keys.contains(key), "no oracle case \(key)")
        }
    }

    @Test(arguments: comparableCases)
    func matchesJq18(_ oracle: OracleCase) {
        let outcome = Oracle.run(oracle)
        let checkMessage = Self.unmatchedMessages[oracle.key] == nil
        #expect(Oracle.matches(oracle, outcome, checkMessage: checkMessage),
                "jq 1.8.2: \(oracle.outputs ?? "error: " + (oracle.expectedMessage ?? oracle.error ?? "?")); Tide: \(Self.describe(outcome))")
    }

    @Test(arguments: differingCases)
    func knownDifferencesStillDiffer(_ oracle: OracleCase) {
        let outcome = Oracle.run(oracle)
        #expect(!Oracle.matches(oracle, outcome, checkMessage: true),
                "now matches jq 1.8.2: move it out of knownDifferences (\(Self.knownDifferences[oracle.key] ?? ""))")
    }

    static func describe(_ outcome: Oracle.Outcome) -> String {
        switch outcome {
        case .outputs(let values): "[" + values.map { $0.serialized() }.joined(separator: ",") + "]"
        case .compileError(let message): "compile error: " + message
        case .runtimeError(let message): "error: " + message
        }
    }
}
