import Testing
@testable import TideJQ

@Suite struct JQProgramTests {
    @Test func compilesOnceAndRunsOnManyInputs() throws {
        let program = try JQProgram(".a + 1")
        for value in 0..<100 {
            let input = try JSON(parsing: #"{"a": \#(value)}"#)
            #expect(try program.first(input)?.numberValue == Double(value + 1))
        }
    }

    @Test func firstOutputOnlyAndEmptyIsNil() throws {
        #expect(try JQProgram("1, 2").first(.null)?.numberValue == 1)
        #expect(try JQProgram("empty").first(.null) == nil)
        #expect(try JQProgram("1, 2, 3").all(.null).count == 3)
    }

    @Test func compileErrorCarriesLibjqMessageAndUserLine() {
        #expect(throws: JQCompileError.self) { try JQProgram(".a | ") }
        do {
            _ = try JQProgram("1 +\n\n .a |")
            Issue.record("expected a compile error")
        } catch {
            #expect(error.message.contains("syntax error"))
            #expect(error.line == 3)
        }
    }

    @Test func runtimeErrorMessageIsJqs() throws {
        let program = try JQProgram(".a.b")
        #expect(throws: JQRuntimeError.error(#"Cannot index string with string "b""#)) {
            try program.first(try JSON(parsing: #"{"a": "x"}"#))
        }
        #expect(throws: JQRuntimeError.error(#"{"x":1} (not a string)"#)) {
            try JQProgram("error({x: 1})").first(.null)
        }
    }

    @Test func infiniteLoopIsStoppedAndProgramStaysUsable() throws {
        let program = try JQProgram("if . == 0 then (def f: f; f) else . end",
                                    options: JQOptions(timeout: .milliseconds(200)))
        #expect(throws: JQRuntimeError.timeout(.milliseconds(200))) { try program.first(JSON(0)) }
        #expect(try program.first(JSON(7))?.numberValue == 7)
    }

    @Test func environmentCanBeHidden() throws {
        let hidden = try JQProgram("$ENV | length", options: JQOptions(allowEnvironment: false))
        #expect(try hidden.first(.null)?.numberValue == 0)
        let visible = try JQProgram("env | length")
        #expect((try visible.first(.null)?.numberValue ?? 0) > 0)
    }

    @Test func deepNestingIsAParseErrorNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSON(parsing: deep) }
        #expect(throws: JSONParseError.self) { try JSON(parsing: "\u{01}\u{ff}garbage") }
    }

    @Test func stoppingInsideAPathGeneratorLeavesTheProgramReusable() throws {
        // libjq 1.6 aborts (stack_restore: path_len == 0) when a program stopped after an output
        // from inside path(...) is restarted; the prelude's `paths` collects its paths first.
        let program = try JQProgram("paths")
        let input = try JSON(parsing: #"{"a":[1,2],"b":3}"#)
        for _ in 0..<3 { #expect(try program.first(input) == JSON(parsing: #"["a"]"#)) }
    }

    @Test func inputBuiltinsDoNotNeedACallback() throws {
        // Without an input callback libjq 1.6 segfaults on `input`; the prelude answers that
        // there is nothing to read (jq.py says "break", the jq CLI "No more inputs").
        #expect(throws: JQRuntimeError.error("No more inputs")) { try JQProgram("input").first(.null) }
        #expect(try JQProgram("[inputs]").first(.null) == JSON(array: []))
        #expect(try JQProgram("input_filename").first(.null)?.isNull == true)
    }
}

/// libjq 1.6 aborts when a program stopped early inside `path(…)` is restarted; `first()` must
/// never leave it there, and a timeout there must not bring the process down either.
@Suite struct EarlyStopTests {
    @Test func firstInsideAPathExpressionCanRunAgain() throws {
        let program = try JQProgram("path(..)")
        let input = try JSON(parsing: #"{"a": [1, {"b": 2}]}"#)
        for _ in 0..<3 { #expect(try program.first(input)?.serialized() == "[]") }
        #expect(try program.all(input).count == 5)
    }

    @Test func aTimeoutInsideAPathExpressionLeavesTheProgramUsable() throws {
        let program = try JQProgram("if . == 0 then path(def f: f; f) else . end",
                                    options: JQOptions(timeout: .milliseconds(100)))
        #expect(throws: JQRuntimeError.timeout(.milliseconds(100))) { try program.first(JSON(0)) }
        #expect(try program.first(JSON(3))?.numberValue == 3)
        #expect(throws: JQRuntimeError.timeout(.milliseconds(100))) { try program.all(JSON(0)) }
        #expect(try program.all(JSON(4)).map(\.numberValue) == [4])
    }
}

/// libjq 1.6 frees a halted state's exit code and message on reset without clearing them: a
/// program reused after `halt_error` must not free them twice.
@Suite struct HaltTests {
    @Test func aProgramThatHaltedRunsAgainAndAgain() throws {
        let program = try JQProgram(#"if . == 0 then {"code": 1} | halt_error else . + 1 end"#)
        for _ in 0..<4 {
            #expect(throws: JQRuntimeError.self) { try program.first(JSON(0)) }
            #expect(try program.first(JSON(7))?.numberValue == 8)
            #expect(throws: JQRuntimeError.self) { try program.all(JSON(0)) }
            #expect(try program.all(JSON(5)).map(\.numberValue) == [6])
        }
    }
}
