import Foundation
import TideCore
import TideJQ
import TideModel

/// What became of one record (after `itemsToParse` expansion).
public enum ItemOutcome {
    /// An entity to write. `passedSelector` is false only when mapping with `parseAll`
    /// (live events compute such entities so they can be deleted).
    case entity(Entity, passedSelector: Bool)
    /// The selector returned false.
    case filtered
    /// The entity could not be formed (identifier or blueprint missing); Ocean skips these silently.
    case skipped(reason: String)
    /// A per-item error: the selector failed or gave a non-boolean, the record is not an object,
    /// or evaluation timed out. Ocean counts these as resync errors (no stale deletion).
    case error(String)
}

public struct MappingOptions: Sendable, Hashable {
    /// Ocean's `OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS` (default true).
    public var allowEnvironment: Bool
    /// Longest time one record's evaluation may take.
    public var timeout: Duration
    /// Map records whose selector is false too (live events need them to delete).
    public var parseAll: Bool

    /// Threads mapping a page of records during a resync, each with its own compiled mapper.
    public var threads: Int
    /// Parse responses only as far as the mapping reads them (the outcome is the same; off only
    /// to compare).
    public var partialParsing: Bool

    /// One mapping thread per core, up to 4: beyond that the fetch and the sink are the bound.
    public static var defaultThreads: Int { min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    public init(allowEnvironment: Bool = true, timeout: Duration = .seconds(10), parseAll: Bool = false,
                threads: Int = MappingOptions.defaultThreads, partialParsing: Bool = true) {
        self.allowEnvironment = allowEnvironment
        self.timeout = timeout
        self.parseAll = parseAll
        self.threads = max(1, threads)
        self.partialParsing = partialParsing
    }
}

/// One resource's selector and entity mapping compiled into a single jq program that yields
/// the selector result, the whole entity and the list of misconfigured fields in one run, so a
/// record costs one jq execution however many fields it maps.
///
/// Not thread-safe (it owns a libjq program): make one per thread.
public final class ResourceMapper {
    public let resource: ResourceConfig
    public let options: MappingOptions
    /// Leaves of the mapping in evaluation order.
    package let leaves: [Leaf]
    /// Fields whose expression does not compile: always null, always reported.
    public let compileProblems: [FieldProblem]
    private let program: JQProgram?
    /// The same program with simple paths and literals unguarded (no `try`, no `label`), which
    /// jq runs markedly faster; a record on which it raises is mapped again with `program`.
    private let fastProgram: JQProgram?
    /// Leaves the fast program writes straight into the entity (plain paths and literals), with
    /// where each sits in the entity.
    private let simpleLeaves: [(index: Int, path: JSONPath)]
    /// Set when the selector itself does not compile: every record is then an error.
    private let selectorCompileError: String?
    package let expander: ItemsExpander?

    package struct Leaf {
        package var path: String
        /// Where the value sits in the entity object: a field name, then keys and indices.
        var location: [JSONPath.Step]
        package var expression: JQExpression
        /// libjq's message when the expression does not compile on its own.
        var compileError: String?
        package var compiles: Bool { compileError == nil }
    }

    public init(resource: ResourceConfig, options: MappingOptions = MappingOptions()) {
        self.resource = resource
        self.options = options
        var leaves: [Leaf] = []
        for field in resource.port.entity.fields {
            Self.collect(field.tree, path: field.name, location: [.key(field.name)], into: &leaves)
        }
        let jqOptions = JQOptions(allowEnvironment: options.allowEnvironment, timeout: options.timeout)

        var selectorError: String?
        var program = try? JQProgram(Self.programText(selector: resource.selector.query, fields: resource.port.entity.fields, leaves: leaves,
                                                      parseAll: options.parseAll), options: jqOptions)
        if program == nil {
            // Find the culprits one by one, then build the program from the fields that compile.
            do { _ = try JQProgram(resource.selector.query.oceanProgram, options: jqOptions) } catch {
                selectorError = error.message
            }
            for index in leaves.indices {
                do { _ = try JQProgram(leaves[index].expression.oceanProgram, options: jqOptions) } catch {
                    leaves[index].compileError = error.message
                }
            }
            if selectorError == nil {
                program = try? JQProgram(Self.programText(selector: resource.selector.query, fields: resource.port.entity.fields, leaves: leaves,
                                                          parseAll: options.parseAll), options: jqOptions)
                if program == nil { selectorError = "the mapping could not be compiled as one program" }
            }
        }
        self.leaves = leaves
        self.program = program
        selectorCompileError = selectorError
        let guarded = Self.programText(selector: resource.selector.query, fields: resource.port.entity.fields,
                                       leaves: leaves, parseAll: options.parseAll)
        let fast = Self.programText(selector: resource.selector.query, fields: resource.port.entity.fields,
                                    leaves: leaves, parseAll: options.parseAll, unguardSimple: true)
        fastProgram = program != nil && fast != guarded ? try? JQProgram(fast, options: jqOptions) : nil
        simpleLeaves = leaves.indices.filter { leaves[$0].compiles && isSimple(leaves[$0].expression.oceanProgram) }
            .map { ($0, JSONPath(leaves[$0].location)) }
        compileProblems = leaves.compactMap { leaf in
            leaf.compileError.map { FieldProblem(path: leaf.path, expression: leaf.expression, problem: .compileError($0)) }
        }
        expander = resource.port.itemsToParse.map {
            ItemsExpander(expression: $0, name: resource.port.itemsToParseName,
                          topLevelTransform: resource.port.itemsToParseTopLevelTransform, options: jqOptions)
        }
    }

    /// What this mapping can read of a record: the selector and every field, as they run (after
    /// Ocean's quote rewrite). Records parsed with it map exactly as whole records do. Whole when
    /// `itemsToParse` is set (items are rebuilt from the record before mapping).
    public var readPaths: JSONProjection {
        guard expander == nil else { return .whole }
        return JSONProjection.analyzing([resource.selector.query.oceanProgram] + leaves.map(\.expression.oceanProgram))
    }

    private static func collect(_ tree: MappingTree, path: String, location: [JSONPath.Step], into leaves: inout [Leaf]) {
        switch tree {
        case .expression(let expression): leaves.append(Leaf(path: path, location: location, expression: expression))
        case .object(let members):
            for member in members {
                collect(member.value, path: path + "." + member.key, location: location + [.key(member.key)], into: &leaves)
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                collect(item, path: "\(path)[\(index)]", location: location + [.index(index)], into: &leaves)
            }
        }
    }

    /// Maps one raw record from the third party, expanding `itemsToParse` first.
    /// Every outcome and misconfiguration is also counted in `report`.
    public func map(record: JSON, report: inout MappingReport, _ emit: (ItemOutcome) -> Void) {
        report.records += 1
        guard record.kind == .object else {
            let outcome = ItemOutcome.error("the record is a \(record.kind.name), not an object")
            report.count(outcome)
            emit(outcome)
            return
        }
        guard let expander else {
            let outcome = mapItem(record, report: &report)
            report.count(outcome)
            emit(outcome)
            return
        }
        switch expander.expand(record) {
        case .items(let items):
            for item in items {
                let outcome = mapItem(item, report: &report)
                report.count(outcome)
                emit(outcome)
            }
        case .skipped(let warning):
            report.note(itemsToParse: warning)
        }
    }

    /// Maps one item (a record, or a record merged with one element of `itemsToParse`).
    public func mapItem(_ item: JSON, report: inout MappingReport) -> ItemOutcome {
        report.items += 1
        if let selectorCompileError {
            return .error("selector query \(resource.selector.query.source) does not compile: \(selectorCompileError)")
        }
        guard let program else { return .error("the mapping could not be compiled") }
        let result: JSON, fast: Bool
        do {
            guard let output = try evaluate(item, guarded: program) else { return .error("the mapping produced no output") }
            (result, fast) = output
        } catch {
            return .error(error.description)
        }
        switch selectorVerdict(result[0]) {
        case .failure(let failure): return .error(failure.message)
        case .success(let passed):
            if !passed && !options.parseAll { return .filtered }
            guard let entityObject = result[1] else { return .error("the mapping produced no entity") }
            recordProblems(result[2], report: &report)
            if fast { recordNullSimpleLeaves(in: entityObject, report: &report) }
            let outcome = makeEntity(entityObject, report: &report)
            if case .entity(let entity, _) = outcome {
                return passed ? outcome : .entity(entity, passedSelector: false)
            }
            return outcome
        }
    }

    /// The program's output, and whether the fast program gave it (its problem list then leaves
    /// out the simple leaves, which `recordNullSimpleLeaves` checks).
    private func evaluate(_ item: JSON, guarded program: JQProgram) throws(JQRuntimeError) -> (JSON, fast: Bool)? {
        guard let fastProgram else { return try program.first(item).map { ($0, false) } }
        do { return try fastProgram.first(item).map { ($0, true) } } catch {
            // Only a timeout is final; any other error came from an unguarded path, which the
            // guarded program turns into a per-field problem.
            switch error {
            case .timeout, .memoryLimit: throw error
            case .error, .halted: break
            }
            return try program.first(item).map { ($0, false) }
        }
    }

    /// A simple leaf has exactly one output in the fast program, so its only possible problem is
    /// a null value, read here from the entity instead of being listed by jq.
    private func recordNullSimpleLeaves(in entity: JSON, report: inout MappingReport) {
        for (index, path) in simpleLeaves where path.isNullOrAbsent(in: entity) {
            report.note(FieldProblem(path: leaves[index].path, expression: leaves[index].expression, problem: .null))
        }
    }

    /// Ocean requires the selector's first output to be a JSON boolean; anything else is an error.
    private func selectorVerdict(_ slot: JSON?) -> Result<Bool, SelectorFailure> {
        let query = resource.selector.query.source
        guard let slot else { return .failure(SelectorFailure("selector query \(query) produced nothing")) }
        if let message = slot["__tide_error"] {
            return .failure(SelectorFailure("selector query \(query) failed: \(message.stringValue ?? message.serialized())"))
        }
        guard let value = slot[0] else {
            return .failure(SelectorFailure("selector query \(query) produced no output; it must produce true or false"))
        }
        guard let verdict = value.boolValue else {
            return .failure(SelectorFailure("Expected boolean value for selector query \(query), got \(value.serialized()) of type \(value.kind.name) instead"))
        }
        return .success(verdict)
    }

    private func recordProblems(_ list: JSON?, report: inout MappingReport) {
        for problem in compileProblems { report.note(problem) }
        guard let list, list.count > 0 else { return }
        for entry in list.arrayElements {
            guard let index = entry[0]?.numberValue.map(Int.init), leaves.indices.contains(index),
                  let slot = entry[1] else { continue }
            let leaf = leaves[index]
            let problem: FieldProblem.Problem
            if let message = slot["__tide_error"] {
                problem = .error(message.stringValue ?? message.serialized())
            } else if slot.count == 0 {
                problem = .noOutput
            } else {
                problem = .null
            }
            report.note(FieldProblem(path: leaf.path, expression: leaf.expression, problem: problem))
        }
    }

    private func makeEntity(_ object: JSON, report: inout MappingReport) -> ItemOutcome {
        let identifier = object["identifier"] ?? .null
        guard identifier.isTruthyInPython else {
            return .skipped(reason: "identifier evaluated to \(identifier.serialized())")
        }
        let blueprint = object["blueprint"] ?? .null
        guard blueprint.isTruthyInPython else {
            return .skipped(reason: "blueprint evaluated to \(blueprint.serialized())")
        }
        guard let blueprintName = blueprint.stringValue else {
            return .skipped(reason: "blueprint evaluated to \(blueprint.serialized()), not a string")
        }
        var entity = Entity(identifier: RawJSON(identifier), blueprint: blueprintName)
        for field in resource.port.entity.fields {
            guard let value = object[field.name] else { continue }
            switch field.name {
            case "title": entity.title = RawJSON(value)
            case "icon": entity.icon = pythonString(value, field: "icon", allowCollections: false, report: &report)
            case "team": entity.team = pythonString(value, field: "team", allowCollections: true, report: &report)
            case "properties": entity.properties = RawJSON(value)
            case "relations": entity.relations = RawJSON(value)
            default: break
            }
        }
        return .entity(entity, passedSelector: true)
    }

    /// Ocean's entity model declares `icon` (and scalar `team`) as strings, so pydantic turns
    /// numbers and booleans into their Python text (`1`, `1.5`, `True`).
    private func pythonString(_ value: JSON, field: String, allowCollections: Bool,
                              report: inout MappingReport) -> RawJSON {
        switch value.kind {
        case .null, .string: return RawJSON(value)
        case .bool: return RawJSON(JSON(value.boolValue == true ? "True" : "False"))
        case .number: return RawJSON(JSON(PythonText.number(value.numberValue ?? 0)))
        case .array, .object:
            if allowCollections { return RawJSON(value) }
            report.note(FieldProblem(path: field, expression: JQExpression(""),
                                     problem: .error("\(field) must be a string, got a \(value.kind.name)")))
            return .null
        }
    }

    /// A field whose value is NaN (`"nan" | tonumber`) is null, and so misconfigured: Ocean receives
    /// jq's output as JSON, where NaN is written null.
    ///
    /// The single program: selector first; fields only for records that pass (or all, with parseAll).
    /// It yields `[selector, entity, problems]`, or `[selector]` for a record that is filtered out.
    /// Each slot is `[value]`, `[]` (no output) or `{"__tide_error": message}`.
    ///
    /// With `unguardSimple`, expressions that are a plain path (`.a.b`) or a literal are evaluated
    /// as `[EXPR]` directly: they yield exactly one output or raise, and a raise is handled by
    /// re-running the guarded program on that record.
    static func programText(selector: JQExpression, fields: [(name: String, tree: MappingTree)],
                            leaves: [Leaf], parseAll: Bool, unguardSimple: Bool = false) -> String {
        func slot(_ expression: JQExpression) -> String {
            let program = expression.oceanProgram
            if unguardSimple, isSimple(program) { return "[\(program)]" }
            // The newline before the closing parenthesis ends any `#` comment in the expression.
            // Collected (`[…] | .[0]`) so that no `try` stays on the stack: libjq 1.6's `try` would
            // also catch an error raised by a later field and re-run everything after it, which
            // doubled the work per field on a record where one field raises.
            return "([try _tide_first((\(JQRewrite.for16(program))\n)) catch {\"__tide_error\": .}] | .[0])"
        }
        var text = """
        def _tide_first(f): [label $__tide_out | f | ., break $__tide_out];
        def _tide_value: if type == "array" and (.[0] | type != "number" or (isnan | not)) then .[0] else null end;
        def _tide_problem($i): if type == "array" and length == 1 and .[0] != null and (.[0] | type != "number" or (isnan | not)) then empty else [$i, .] end;
        \(slot(selector)) as $__tide_selector
        | if $__tide_selector == [true]\(parseAll ? " or true" : "") then

        """
        // Unguarded, a simple leaf is written straight into the entity: no variable, no slot, no
        // problem entry (the caller checks those for null), which roughly halves jq's work.
        func inline(_ leaf: Leaf) -> Bool { unguardSimple && isSimple(leaf.expression.oceanProgram) }
        for (index, leaf) in leaves.enumerated() where leaf.compiles && !inline(leaf) {
            text += "\(slot(leaf.expression)) as $__tide_\(index) |\n"
        }
        // Rebuild the mapping's shape with each leaf replaced by its value; `collect` numbered
        // the leaves in this same depth-first order.
        var next = 0
        func shape(_ tree: MappingTree) -> String {
            switch tree {
            case .expression:
                defer { next += 1 }
                let leaf = leaves[next]
                guard leaf.compiles else { return "null" }
                return inline(leaf) ? "(\(JQRewrite.for16(leaf.expression.oceanProgram))\n)" : "($__tide_\(next) | _tide_value)"
            case .object(let members):
                return "{" + members.map { JSON($0.key).serialized() + ": " + shape($0.value) }.joined(separator: ", ") + "}"
            case .array(let items):
                return "[" + items.map(shape).joined(separator: ", ") + "]"
            }
        }
        let entity = "{" + fields.map { JSON($0.name).serialized() + ": " + shape($0.tree) }.joined(separator: ", ") + "}"
        let problems = leaves.indices.filter { leaves[$0].compiles && !inline(leaves[$0]) }
            .map { "($__tide_\($0) | _tide_problem(\($0)))" }.joined(separator: ", ")
        text += "[$__tide_selector, \(entity), [\(problems)]]\nelse [$__tide_selector] end"
        return text
    }
}

/// A path of plain keys (`.fields.status.name`) or a JSON literal: one output or an error, never
/// several or none, so it needs neither `try` nor `first` around it.
func isSimple(_ program: String) -> Bool {
    let trimmed = program.trimmingCharacters(in: .whitespaces)
    if ["true", "false", "null", "."].contains(trimmed) { return true }
    if trimmed.range(of: #"^(\.[A-Za-z_][A-Za-z0-9_]*)+$"#, options: .regularExpression) != nil { return true }
    if trimmed.range(of: #"^"([^"\\]|\\.)*"$"#, options: .regularExpression) != nil { return !trimmed.contains("\\(") }
    return trimmed.range(of: #"^-?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil
}

struct SelectorFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension JSON.Kind {
    /// jq's name for the type, as in its messages.
    public var name: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
