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

/// One resource's selector and entity mapping, evaluated per record in one pass.
///
/// Plain paths (`.fields.status.name`) and literals, most of a real mapping, are read natively
/// from the record; everything else runs as one jq program that yields the selector and each
/// remaining field, guarded so that a field that raises becomes null. The entity's JSON is then
/// written here, in the mapping's order. A record on which a natively read path would raise (a
/// key read from a string) is evaluated again entirely in jq, so the error reads as jq's own.
///
/// Not thread-safe (it owns libjq programs and values): make one per thread.
public final class ResourceMapper {
    public let resource: ResourceConfig
    public let options: MappingOptions
    /// Leaves of the mapping in evaluation order.
    package let leaves: [Leaf]
    /// Fields whose expression does not compile: always null, always reported.
    public let compileProblems: [FieldProblem]
    /// The selector and every field that compiles, all in jq: the reference evaluation.
    private let program: JQProgram?
    /// Whether plain paths and literals are read natively (something is, and the rest compiles).
    private let fastPath: Bool
    /// The program without the natively read leaves (and selector); nil when nothing is left.
    private let fastProgram: JQProgram?
    /// Per leaf: read natively on the fast path, or nil for a slot of `fastProgram`.
    private let nativeLeaves: [NativeRead?]
    /// The selector read natively, or nil when it runs in `fastProgram`.
    private let nativeSelector: NativeRead?
    /// Set when the selector itself does not compile: every record is then an error.
    private let selectorCompileError: String?
    package let expander: ItemsExpander?
    private var writer = JSONWriter()

    package struct Leaf {
        package var path: String
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
            Self.collect(field.tree, path: field.name, into: &leaves)
        }
        let jqOptions = JQOptions(allowEnvironment: options.allowEnvironment, timeout: options.timeout)
        let allLeaves = Array(leaves.indices)

        var selectorError: String?
        var program = try? JQProgram(Self.programText(selector: resource.selector.query, slots: allLeaves, leaves: leaves,
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
                program = try? JQProgram(Self.programText(selector: resource.selector.query, slots: allLeaves, leaves: leaves,
                                                          parseAll: options.parseAll), options: jqOptions)
                if program == nil { selectorError = "the mapping could not be compiled as one program" }
            }
        }
        self.leaves = leaves
        self.program = program
        selectorCompileError = selectorError

        // The fast path exists when something can be read natively and the rest compiles alone.
        let native = leaves.map { $0.compiles ? NativeRead($0.expression, options: jqOptions) : nil }
        let selector = NativeRead(resource.selector.query, options: jqOptions)
        let slots = leaves.indices.filter { leaves[$0].compiles && native[$0] == nil }
        var fast: JQProgram?
        var fastPath = program != nil && (selector != nil || slots.count < leaves.filter(\.compiles).count)
        if fastPath, selector == nil || !slots.isEmpty {
            fast = try? JQProgram(Self.programText(selector: selector == nil ? resource.selector.query : nil, slots: slots,
                                                   leaves: leaves, parseAll: options.parseAll), options: jqOptions)
            fastPath = fast != nil
        }
        self.fastPath = fastPath
        fastProgram = fast
        nativeLeaves = fastPath ? native : leaves.map { _ in nil }
        nativeSelector = fastPath ? selector : nil
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

    private static func collect(_ tree: MappingTree, path: String, into leaves: inout [Leaf]) {
        switch tree {
        case .expression(let expression): leaves.append(Leaf(path: path, expression: expression))
        case .object(let members):
            for member in members { collect(member.value, path: path + "." + member.key, into: &leaves) }
        case .array(let items):
            for (index, item) in items.enumerated() { collect(item, path: "\(path)[\(index)]", into: &leaves) }
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
        let evaluation: Evaluation
        do throws(JQRuntimeError) {
            var evaluated = try evaluateFast(item)
            if evaluated == nil { evaluated = try evaluate(item, with: program) }
            guard let evaluated else { return .error("the mapping produced no output") }
            evaluation = evaluated
        } catch {
            return .error(error.description)
        }
        switch selectorVerdict(evaluation.selector) {
        case .failure(let failure): return .error(failure.message)
        case .success(let passed):
            if !passed && !options.parseAll { return .filtered }
            for problem in compileProblems { report.note(problem) }
            var values: [JSON] = []
            values.reserveCapacity(leaves.count)
            for (index, slot) in evaluation.leaves.enumerated() {
                let (value, problem) = slot.fieldValue
                values.append(value)
                if let problem { report.note(FieldProblem(path: leaves[index].path, expression: leaves[index].expression, problem: problem)) }
            }
            let outcome = makeEntity(values, report: &report)
            if case .entity(let entity, _) = outcome {
                return passed ? outcome : .entity(entity, passedSelector: false)
            }
            return outcome
        }
    }

    /// The selector's and each leaf's result for one item (a leaf that does not compile is `[]`
    /// here and reported from `compileProblems`).
    private struct Evaluation {
        var selector: Slot
        var leaves: [Slot]
    }

    /// Natively read leaves plus `fastProgram`; nil when a native read would raise, so that the
    /// whole item runs in jq instead.
    private func evaluateFast(_ item: JSON) throws(JQRuntimeError) -> Evaluation? {
        guard fastPath else { return nil }
        var selector: Slot?
        if let nativeSelector {
            guard let value = nativeSelector.read(item) else { return nil }
            selector = .value(value)
            if value.boolValue != true && !options.parseAll { return Evaluation(selector: .value(value), leaves: []) }
        }
        var slots: JSON?
        if let fastProgram {
            let output: JSON?
            do { output = try fastProgram.first(item) } catch {
                // Only a timeout or the memory limit is final; any other raise came from outside a
                // field's guard, which the reference program reports field by field.
                switch error {
                case .timeout, .memoryLimit: throw error
                case .error, .halted: return nil
                }
            }
            guard let output else { return nil }
            if selector == nil {
                let verdict = Slot(output[0])
                selector = verdict
                guard case .value(let value) = verdict, value.boolValue == true || options.parseAll else {
                    return Evaluation(selector: verdict, leaves: [])
                }
            }
            slots = output[1]
        }
        var next = 0
        var results: [Slot] = []
        results.reserveCapacity(leaves.count)
        for index in leaves.indices {
            if !leaves[index].compiles {
                results.append(.compileError)
            } else if let native = nativeLeaves[index] {
                guard let value = native.read(item) else { return nil }
                results.append(.value(value))
            } else {
                results.append(Slot(slots?[next]))
                next += 1
            }
        }
        return Evaluation(selector: selector ?? .noOutput, leaves: results)
    }

    /// Everything in jq.
    private func evaluate(_ item: JSON, with program: JQProgram) throws(JQRuntimeError) -> Evaluation? {
        guard let output = try program.first(item) else { return nil }
        let selector = Slot(output[0])
        let slots = output[1]
        var next = 0
        let results = leaves.map { leaf -> Slot in
            guard leaf.compiles else { return .compileError }
            defer { next += 1 }
            return Slot(slots?[next])
        }
        return Evaluation(selector: selector, leaves: results)
    }

    /// Ocean requires the selector's first output to be a JSON boolean; anything else is an error.
    private func selectorVerdict(_ slot: Slot) -> Result<Bool, SelectorFailure> {
        let query = resource.selector.query.source
        switch slot {
        case .error(let message): return .failure(SelectorFailure("selector query \(query) failed: \(message)"))
        case .noOutput, .compileError:
            return .failure(SelectorFailure("selector query \(query) produced no output; it must produce true or false"))
        case .value(let value):
            guard let verdict = value.boolValue else {
                return .failure(SelectorFailure("Expected boolean value for selector query \(query), got \(value.serialized()) of type \(value.kind.name) instead"))
            }
            return .success(verdict)
        }
    }

    /// Forms the entity from the leaves' values (null for each problem), writing each top-level
    /// field's JSON in the mapping's order.
    private func makeEntity(_ values: [JSON], report: inout MappingReport) -> ItemOutcome {
        var next = 0
        var identifier: (JSON, RawJSON)?, blueprint: JSON?, icon: JSON?, team: JSON?
        var title: RawJSON?, properties: RawJSON?, relations: RawJSON?
        for field in resource.port.entity.fields {
            let text = text(of: field.tree, values: values, next: &next)
            switch field.name {
            case "identifier": identifier = (json(of: field.tree, at: next, values: values, text: text), text)
            case "blueprint": blueprint = json(of: field.tree, at: next, values: values, text: text)
            case "title": title = text
            case "icon": icon = json(of: field.tree, at: next, values: values, text: text)
            case "team": team = json(of: field.tree, at: next, values: values, text: text)
            case "properties": properties = text
            case "relations": relations = text
            default: break
            }
        }
        let identifierValue = identifier?.0 ?? .null
        guard identifierValue.isTruthyInPython else {
            return .skipped(reason: "identifier evaluated to \(identifierValue.serialized())")
        }
        let blueprintValue = blueprint ?? .null
        guard blueprintValue.isTruthyInPython else {
            return .skipped(reason: "blueprint evaluated to \(blueprintValue.serialized())")
        }
        guard let blueprintName = blueprintValue.stringValue else {
            return .skipped(reason: "blueprint evaluated to \(blueprintValue.serialized()), not a string")
        }
        // Only an entity that forms is validated further (Ocean's model checks icon and team then).
        var entity = Entity(identifier: identifier?.1 ?? .null, blueprint: blueprintName)
        entity.title = title
        entity.icon = icon.map { pythonString($0, field: "icon", allowCollections: false, report: &report) }
        entity.team = team.map { pythonString($0, field: "team", allowCollections: true, report: &report) }
        entity.properties = properties
        entity.relations = relations
        return .entity(entity, passedSelector: true)
    }

    /// A field's JSON text; `next` is the index of its first leaf and moves past its last.
    private func text(of tree: MappingTree, values: [JSON], next: inout Int) -> RawJSON {
        func write(_ tree: MappingTree) {
            switch tree {
            case .expression:
                writer.value(values[next])
                next += 1
            case .object(let members):
                writer.raw("{")
                for (position, member) in members.enumerated() {
                    if position > 0 { writer.raw(",") }
                    writer.string(member.key)
                    writer.raw(":")
                    write(member.value)
                }
                writer.raw("}")
            case .array(let items):
                writer.raw("[")
                for (position, item) in items.enumerated() {
                    if position > 0 { writer.raw(",") }
                    write(item)
                }
                writer.raw("]")
            }
        }
        write(tree)
        return RawJSON(writer.take())
    }

    /// A field's value: the leaf's own, or (for an object or array written in the mapping, rare
    /// where the value is inspected) its text read back. `end` is the index after its last leaf.
    private func json(of tree: MappingTree, at end: Int, values: [JSON], text: RawJSON) -> JSON {
        if case .expression = tree { return values[end - 1] }
        return (try? text.json()) ?? .null
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

    /// The jq program: `[selector, [field, …]]` for a record that passes (or every record, with
    /// parseAll), `[selector]` for one that is filtered out; `[null, [field, …]]` when the
    /// selector is read natively. Each slot is `[value]`, `[]` (no output) or
    /// `{"__tide_error": message}`.
    static func programText(selector: JQExpression?, slots: [Int], leaves: [Leaf], parseAll: Bool) -> String {
        func slot(_ expression: JQExpression) -> String {
            // The newline before the closing parenthesis ends any `#` comment in the expression.
            // Collected (`[…] | .[0]`) so that no `try` stays on the stack: libjq 1.6's `try` would
            // also catch an error raised by a later field and re-run everything after it, which
            // doubled the work per field on a record where one field raises.
            "([try _tide_first((\(JQRewrite.for16(expression.oceanProgram))\n)) catch {\"__tide_error\": .}] | .[0])"
        }
        let fields = "[" + slots.filter { leaves[$0].compiles }.map { slot(leaves[$0].expression) }.joined(separator: ",\n") + "]"
        var text = "def _tide_first(f): [label $__tide_out | f | ., break $__tide_out];\n"
        if let selector {
            text += """
            \(slot(selector)) as $__tide_selector
            | if $__tide_selector == [true]\(parseAll ? " or true" : "") then [$__tide_selector, \(fields)]
            else [$__tide_selector] end
            """
        } else {
            text += "[null, \(fields)]"
        }
        return text
    }
}

/// One result as the program gives it, or as read natively.
enum Slot {
    case value(JSON)
    case noOutput
    case error(String)
    /// The leaf does not compile (reported once per item from `compileProblems`).
    case compileError

    init(_ slot: JSON?) {
        guard let slot else { self = .noOutput; return }
        if let message = slot["__tide_error"] {
            self = .error(message.stringValue ?? message.serialized())
        } else if let value = slot[0] {
            self = .value(value)
        } else {
            self = .noOutput
        }
    }

    /// The value an entity gets and the problem to report: null, NaN (null in JSON), no output
    /// and errors all become null.
    var fieldValue: (JSON, FieldProblem.Problem?) {
        switch self {
        case .value(let value):
            if value.isNull { return (value, .null) }
            if let number = value.numberValue, number.isNaN { return (.null, .null) }
            return (value, nil)
        case .noOutput: return (.null, .noOutput)
        case .error(let message): return (.null, .error(message))
        case .compileError: return (.null, nil)
        }
    }
}

/// A leaf read without jq: a plain path, or a literal evaluated once.
enum NativeRead {
    case path(JSONPath)
    case constant(JSON)

    init?(_ expression: JQExpression, options: JQOptions) {
        let program = expression.oceanProgram.trimmingCharacters(in: .whitespaces)
        guard isSimple(program) else { return nil }
        if program == "." {
            self = .path(JSONPath([]))
        } else if program.hasPrefix(".") {
            self = .path(JSONPath(program.split(separator: ".").map { .key(String($0)) }))
        } else {
            // jq's own reading of the literal, so `1.0`, escapes and the like are as jq has them.
            guard let value = try? JQProgram(program, options: options).first(.null) else { return nil }
            self = .constant(value)
        }
    }

    /// The value, or nil where jq would raise.
    func read(_ item: JSON) -> JSON? {
        switch self {
        case .path(let path): path.read(in: item)
        case .constant(let value): value
        }
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
