import Foundation
import Testing
@testable import TideJQ

/// The core guarantee: for a program `p` and any input, running `p` on the projected parse (with
/// the projection `JSONProjection.analyzing(p)`) gives exactly what it gives on libjq's full
/// parse: the same outputs in the same order (compared as serialized text, so key order and
/// number formatting count) or the same error message.
enum Differential {
    static func outcome(_ program: JQProgram, _ input: JSON) -> String {
        do {
            return "outputs: " + (try program.all(input)).map { $0.serialized() }.joined(separator: " | ")
        } catch {
            return "error: \(error)"
        }
    }

    struct Tally {
        var compiled = 0
        var compared = 0
        var declined = 0
        var failures: [String] = []
        /// Why nothing was compared, when nothing was: tests assert on it rather than pass silently.
        var notCompared: String?
    }

    /// Reads other programs may add: unioned with a program's own tree they turn nodes it only
    /// navigates to into projected ones, as a mapping's union of expressions does.
    static let companions: [JSONProjection] = [
        JSONProjection.analyzing(".a.b? | empty"),
        JSONProjection.analyzing([".key", ".fields.summary", ".fields.status.name"]),
    ]

    /// Compares full and projected parses of `inputs` under `program`'s own projection, alone and
    /// with each companion.
    static func check(_ source: String, on inputs: [ProjectionInput], into tally: inout Tally) {
        // libjq 1.6 frees a halted program's exit code and message again on each later start
        // (jq_reset does not clear them): running `halt`/`halt_error` on many inputs corrupts the heap.
        if source.contains("halt") { tally.notCompared = "halts"; return }
        let program: JQProgram
        do { program = try JQProgram(source, options: JQOptions(timeout: .seconds(5))) } catch {
            tally.notCompared = "does not compile: \(error.message)"
            return
        }
        tally.compiled += 1
        let own = JSONProjection.analyzing(source)
        let projections = [own] + companions.map { own.union($0) }
        let plans = projections.map(JSONProjectionPlan.init)
        for input in inputs {
            let full = input.bytes.withUnsafeBufferPointer { try? JSON(parsing: $0) }
            let expected = full.map { outcome(program, $0) }
            for (projection, plan) in zip(projections, plans) {
                let projected = input.bytes.withUnsafeBytes { JSON.parse(bytes: $0, projection: plan) }
                guard let expected else {
                    if let projected {
                        tally.failures.append("\(source) ⟵ \(input.name): libjq rejects the input, the projected parser gave \(projected)")
                    }
                    continue
                }
                guard let projected else {
                    tally.declined += 1
                    if !input.declineExpected {
                        tally.failures.append("\(source) ⟵ \(input.name): the projected parser declined a valid input")
                    }
                    continue
                }
                if input.declineExpected {
                    tally.failures.append("\(source) ⟵ \(input.name): expected the projected parser to decline")
                }
                tally.compared += 1
                let got = outcome(program, projected)
                if expected != got {
                    tally.failures.append("\(source) ⟵ \(input.name) with \(projection):\n  full:      \(expected.prefix(300))\n  projected: \(got.prefix(300))")
                }
            }
        }
    }
}

// One case at a time: these are CPU-bound and many, and run in parallel they would crowd out
// the suites that wait on servers.
@Suite(.serialized) struct ProjectionDifferentialTests {
    /// Records rather than whole pages (pages have their own test below; every program on every
    /// 90 KB page would only slow the suite): one small recorded page is kept.
    static let mappingInputs: [ProjectionInput] = ProjectionCorpus.fixtureInputs()
        .filter { $0.name.contains("#") || $0.name.contains("refetch") }
        .enumerated().filter { $0.element.name.hasPrefix("jira issues") || $0.offset % 4 == 0 }.map(\.element)
        + ProjectionCorpus.generatedInputs() + ProjectionCorpus.trickyInputs + ProjectionCorpus.mutatedInputs(count: 40)

    /// Hand-written programs mostly read `.a`, `.b`…: small documents, mutated issues and a sample of records.
    static let cornerInputs: [ProjectionInput] = ProjectionCorpus.trickyInputs + ProjectionCorpus.mutatedInputs(count: 12)
        + mappingInputs.enumerated().filter { $0.offset % 16 == 0 }.map(\.element)

    static func unique(_ programs: [String]) -> [String] {
        var seen = Set<String>()
        return programs.filter { seen.insert($0).inserted }
    }

    static let mappingPrograms = unique(ProjectionCorpus.mappingExpressions + ProjectionCorpus.liveMappingExpressions())
    static let cornerPrograms = unique(ProjectionCorpus.trickyExpressions + ProjectionCorpus.combinedExpressions)
        .filter { !mappingPrograms.contains($0) }

    @Test func corpusIsLoaded() {
        #expect(ProjectionCorpus.fixtureInputs().count > 100, "Jira fixtures not found under \(ProjectionCorpus.repositoryRoot.path)")
        #expect(ProjectionCorpus.liveMappingExpressions().count > 50)
        #expect(ProjectionCorpus.mutatedInputs(count: 40).count == 40)
        #expect(Self.mappingPrograms.count > 80)
        #expect(Self.cornerPrograms.count > 300)
        #expect(Self.mappingInputs.count > 100)
    }

    /// The shipped integrations' mapping expressions over every kind of input.
    @Test(arguments: mappingPrograms)
    func mappingExpressionChangesNothing(_ source: String) {
        var tally = Differential.Tally()
        Differential.check(source, on: Self.mappingInputs, into: &tally)
        #expect(tally.compiled == 1 && tally.compared > 300)
        #expect(tally.failures.isEmpty, "\(tally.failures.prefix(5).joined(separator: "\n"))")
    }

    /// Corner programs libjq 1.6 does not compile, with why; every other one must compile.
    static let notCompiledByLibjq16: [String: String] = [
        #"{"k": .a, $__loc__: 1}"#: "1.7 `{$var: v}` keys are a syntax error in 1.6",
    ]

    /// Hand-written corner cases: type mismatches, path-keeping forms, fallbacks, combinations.
    @Test(arguments: cornerPrograms)
    func cornerCaseChangesNothing(_ source: String) {
        var tally = Differential.Tally()
        Differential.check(source, on: Self.cornerInputs, into: &tally)
        if let why = Self.notCompiledByLibjq16[source] {
            #expect(tally.compiled == 0, "compiles now: drop it from notCompiledByLibjq16 (\(why))")
        } else {
            #expect(tally.compiled == 1 && tally.compared > 150, "\(tally.notCompared ?? "")")
        }
        #expect(tally.failures.isEmpty, "\(tally.failures.prefix(5).joined(separator: "\n"))")
    }

    /// The jq 1.8 oracle's programs (scripts/jq-oracle.py), each on its recorded inputs and small documents.
    static let oraclePrograms: [OracleProgram] = {
        var inputs: [String: [ProjectionInput]] = [:]
        for oracle in Oracle.cases {
            inputs[oracle.program, default: []].append(ProjectionInput("oracle input \(oracle.input)", oracle.input))
        }
        return inputs.keys.sorted().map { OracleProgram(source: $0, inputs: inputs[$0]!) }
    }()

    struct OracleProgram: Sendable, CustomTestStringConvertible {
        var source: String
        var inputs: [ProjectionInput]
        var testDescription: String { source }
    }

    @Test func oracleIsLoaded() {
        #expect(Self.oraclePrograms.count > 300)
    }

    @Test(arguments: oraclePrograms)
    func oracleProgramChangesNothing(_ oracle: OracleProgram) {
        var tally = Differential.Tally()
        Differential.check(oracle.source, on: oracle.inputs + ProjectionCorpus.smallInputs, into: &tally)
        // Not compiling is right only where jq 1.8 failed too (as `Oracle.matches` counts it: 1.6
        // folds `1 / 0` at compile time), or where CompatBuiltinsTests lists the difference as
        // known; anything else is a prelude regression. Halting programs are left out (above).
        let cases = Oracle.cases.filter { $0.program == oracle.source }
        let jqRefuses = cases.allSatisfy { $0.error != nil }
        let known = cases.allSatisfy { CompatBuiltinsTests.knownDifferences[$0.key] != nil }
        if tally.notCompared != "halts" {
            #expect(tally.compiled == 1 ? tally.compared > 0 : jqRefuses || known, "\(tally.notCompared ?? "nothing compared")")
        }
        #expect(tally.failures.isEmpty, "\(tally.failures.prefix(5).joined(separator: "\n"))")
    }

    /// A whole mapping at once, as the engine will use it: the union of its expressions' trees
    /// placed under the page's records, with the pagination token next to them.
    @Test func pageProjectionKeepsRecordsAndToken() throws {
        let issueExpressions = [".key", ".fields.summary", #"(.self | split("/") | .[:3] | join("/")) + "/browse/" + .key"#,
                                ".fields.status.name", ".fields.subtasks | map(.key)", ".fields.parent.key", ".fields.labels", "true"]
        let mapping = JSONProjection.analyzing(issueExpressions)
        let page = JSONProjection.analyzing(".issues[]", outputs: mapping).union(.analyzing(".nextPageToken"))
        #expect(page.description == "{issues: {[]: {fields: {labels: *, parent: {key: *}, status: {name: *}, subtasks: {[]: {key: *}}, summary: *}, key: *, self: *}}, nextPageToken: *}")
        let plan = JSONProjectionPlan(page)
        let records = try JQProgram(".issues[]")
        let token = try JQProgram(".nextPageToken")
        let programs = try issueExpressions.map { try JQProgram($0) }
        var checked = 0
        for input in ProjectionCorpus.fixtureInputs() where input.name.hasPrefix("jira issues/") && !input.name.contains("#") {
            let full = try input.bytes.withUnsafeBufferPointer { try JSON(parsing: $0) }
            let projected = try #require(input.bytes.withUnsafeBytes { JSON.parse(bytes: $0, projection: plan) })
            #expect(Differential.outcome(token, full) == Differential.outcome(token, projected))
            let fullRecords = try records.all(full), projectedRecords = try records.all(projected)
            #expect(fullRecords.count == projectedRecords.count)
            for (whole, part) in zip(fullRecords, projectedRecords) {
                for program in programs {
                    #expect(Differential.outcome(program, whole) == Differential.outcome(program, part))
                    checked += 1
                }
                // Really projected: the description (skipped) is gone.
                #expect(part.serialized().count < whole.serialized().count / 2)
            }
        }
        #expect(checked > 100)
    }
}
