extension JSONProjection {
    /// What the jq program `program` can read of its input when all it outputs is used whole.
    ///
    /// Conservative by construction: whatever the analysis does not understand (an unknown
    /// construct, a `def`, a parse failure) keeps the whole input, so parsing with the result
    /// (`JSON.parse(bytes:projection:)`) never changes the program's outputs or errors.
    public static func analyzing(_ program: String) -> JSONProjection {
        analyzing(program, outputs: .whole)
    }

    /// What `program` can read when its outputs are themselves read only as `outputs` says:
    /// `analyzing(".issues[]", outputs: mappingTree)` places the mapping's tree under every issue.
    public static func analyzing(_ program: String, outputs: JSONProjection) -> JSONProjection {
        do {
            let syntax = try JQParser.parse(program)
            var analyzer = JQPathAnalyzer()
            return try analyzer.run(syntax, outputs: outputs)
        } catch {
            return .whole
        }
    }

    /// The union of `analyzing(_:)` over several programs run on the same input.
    public static func analyzing(_ programs: [String]) -> JSONProjection {
        programs.reduce(into: JSONProjection.nothing) { tree, program in tree.formUnion(analyzing(program)) }
    }
}

/// Abstract interpretation of a jq program. The abstract value of an expression is the set of
/// input paths whose values can reach its outputs unchanged; everything else an output holds
/// was computed only from values already marked whole (or constants).
///
/// Reads are recorded in `tree`: navigating a path creates its node (type and truthiness are
/// preserved by any projection, so tests like `select(.a)` or `if .a` need nothing more);
/// consuming a value (operators, constructors, builtins, final outputs) marks its node whole.
struct JQPathAnalyzer {
    typealias Path = [PathStep]
    typealias Paths = Set<Path>
    typealias Environment = [String: Paths]

    private(set) var tree = JSONProjection.nothing
    private var work = 0
    private var depth = 0

    mutating func run(_ program: JQAST, outputs: JSONProjection) throws(JQUnsupported) -> JSONProjection {
        let results = try evaluate(program, [[]], [:])
        for path in results { tree.graft(outputs, at: path[...]) }
        return tree
    }

    /// Builtins that test only the type (or null-ness) of their input and output it unchanged.
    private static let typeFilters: Set<String> = [
        "values", "nulls", "booleans", "numbers", "strings", "arrays", "objects", "iterables", "scalars",
    ]
    /// Builtins without arguments that never read their input.
    private static let inputFree: Set<String> = [
        "empty", "env", "now", "builtins", "input_line_number", "halt", "infinite", "nan", "get_search_list",
    ]

    private mutating func evaluate(_ node: JQAST, _ input: Paths, _ environment: Environment) throws(JQUnsupported) -> Paths {
        work += 1
        depth += 1
        defer { depth -= 1 }
        // Long `,` chains nest the tree deeply; stay far from the end of a small thread stack.
        if work > 200_000 || depth > 150 { throw JQUnsupported("program too large to analyse") }
        switch node {
        case .identity:
            return input
        case .recurseAll:
            consume(input)
            return []
        case .field(let term, let key):
            return try navigate(try evaluate(term, input, environment), .key(key))
        case .each(let term):
            return try navigate(try evaluate(term, input, environment), .each)
        case .index(let term, let index):
            // The index is evaluated against the same input as the term.
            consume(try evaluate(index, input, environment))
            consume(try evaluate(term, input, environment))
            return []
        case .slice(let term, let lower, let upper):
            // A slice's elements are the term's elements: keep the term's paths.
            if let lower { consume(try evaluate(lower, input, environment)) }
            if let upper { consume(try evaluate(upper, input, environment)) }
            return try evaluate(term, input, environment)
        case .literal, .numberLiteral, .stringLiteral:
            return []
        case .interpolated(let parts):
            for part in parts { consume(try evaluate(part, input, environment)) }
            return []
        case .format:
            consume(input)
            return []
        case .array(let inner):
            if let inner { consume(try evaluate(inner, input, environment)) }
            return []
        case .object(let entries):
            for entry in entries {
                if let key = entry.key { consume(try evaluate(key, input, environment)) }
                consume(try evaluate(entry.value, input, environment))
            }
            return []
        case .variable(let name):
            if let bound = environment[name] { return bound }
            if name == "ENV" { return [] }
            throw JQUnsupported("unknown variable $\(name)")
        case .call(let name, let arguments):
            return try call(name, arguments, input, environment)
        case .pipe(let first, let second):
            return try evaluate(second, try evaluate(first, input, environment), environment)
        case .comma(let first, let second), .alternative(let first, let second):
            // `//` also tests truthiness of its left side, which projection preserves.
            return try evaluate(first, input, environment).union(try evaluate(second, input, environment))
        case .logic(let first, let second):
            _ = try evaluate(first, input, environment)
            _ = try evaluate(second, input, environment)
            return []
        case .binary(let first, let second):
            consume(try evaluate(first, input, environment))
            consume(try evaluate(second, input, environment))
            return []
        case .negate(let operand):
            consume(try evaluate(operand, input, environment))
            return []
        case .assign(let target, let value):
            // The output is a modified copy of the input.
            consume(input)
            consume(try evaluate(target, input, environment))
            consume(try evaluate(value, input, environment))
            return []
        case .conditional(let condition, let then, let otherwise):
            _ = try evaluate(condition, input, environment)
            let elsePaths = try otherwise.map { branch throws(JQUnsupported) in try evaluate(branch, input, environment) } ?? input
            return try evaluate(then, input, environment).union(elsePaths)
        case .tryCatch(let body, let handler):
            var results = try evaluate(body, input, environment)
            // An error's value comes from consumed values or libjq's messages, which only show
            // values kept whole (a type mismatch keeps the value whole in the parser).
            if let handler { results.formUnion(try evaluate(handler, [], environment)) }
            return results
        case .bind(let source, let pattern, let body):
            let values = try evaluate(source, input, environment)
            let inner = try bind(pattern, to: values, input, environment)
            return try evaluate(body, input, inner)
        case .reduce(let source, let pattern, let initial, let update):
            // Everything that enters the accumulator is consumed, so the accumulator is
            // identical under projection and the update needs no input paths.
            consume(try evaluate(source, input, environment))
            let inner = try bind(pattern, to: [], input, environment)
            consume(try evaluate(initial, input, environment))
            consume(try evaluate(update, [], inner))
            return []
        case .foreach(let source, let pattern, let initial, let update, let extract):
            consume(try evaluate(source, input, environment))
            let inner = try bind(pattern, to: [], input, environment)
            consume(try evaluate(initial, input, environment))
            consume(try evaluate(update, [], inner))
            if let extract { consume(try evaluate(extract, [], inner)) }
            return []
        case .label(let body):
            return try evaluate(body, input, environment)
        case .breakLabel:
            return []
        }
    }

    private mutating func call(_ name: String, _ arguments: [JQAST], _ input: Paths, _ environment: Environment) throws(JQUnsupported) -> Paths {
        switch (name, arguments.count) {
        case ("not", 0):
            return []
        case ("select", 1):
            _ = try evaluate(arguments[0], input, environment)
            return input
        case ("first", 1), ("last", 1):
            return try evaluate(arguments[0], input, environment)
        case ("limit", 2):
            consume(try evaluate(arguments[0], input, environment))
            return try evaluate(arguments[1], input, environment)
        case ("first", 0), ("last", 0):
            return try navigate(input, .each)
        case ("map", 1):
            consume(try evaluate(arguments[0], try navigate(input, .each), environment))
            return []
        case ("error", 1), ("range", 1), ("range", 2), ("range", 3):
            for argument in arguments { consume(try evaluate(argument, input, environment)) }
            return []
        case (_, 0) where Self.typeFilters.contains(name):
            return input
        case (_, 0) where Self.inputFree.contains(name):
            return []
        default:
            // Any other builtin is a function of its input and its arguments' outputs: consume
            // them all. (Arguments a builtin runs on something derived from its input see values
            // that are then whole, so evaluating them on the input over-approximates.)
            consume(input)
            for argument in arguments { consume(try evaluate(argument, input, environment)) }
            return []
        }
    }

    private mutating func bind(_ pattern: JQPattern, to values: Paths, _ input: Paths, _ environment: Environment) throws(JQUnsupported) -> Environment {
        var inner = environment
        switch pattern {
        case .variable(let name):
            inner[name] = values
        case .destructure(let names, let keyExpressions):
            consume(values)
            for name in names { inner[name] = [] }
            for key in keyExpressions {
                // A key may use the outer variables or ones the pattern bound before it.
                consume(try evaluate(key, input, environment))
                consume(try evaluate(key, input, inner))
            }
        }
        return inner
    }

    private mutating func navigate(_ paths: Paths, _ step: PathStep) throws(JQUnsupported) -> Paths {
        var results = Paths()
        for path in paths {
            guard path.count < 256 else { throw JQUnsupported("path too deep") }
            let extended = path + [step]
            tree.graft(.nothing, at: extended[...])
            results.insert(extended)
        }
        if results.count > 5_000 { throw JQUnsupported("too many paths") }
        return results
    }

    private mutating func consume(_ paths: Paths) {
        for path in paths { tree.graft(.whole, at: path[...]) }
    }
}
