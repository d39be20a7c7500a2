/// A jq syntax tree, only as detailed as the path analysis (`JQPaths.swift`) needs: operators
/// that merely combine values are one case, keys are bytes. It follows libjq 1.6's grammar
/// (src/parser.y, src/lexer.l) for precedence, since a misparse could hide a read. Anything the
/// analysis does not model (`def`, modules, `?//`) stops the parse: the caller then keeps the
/// whole input.
indirect enum JQAST {
    case identity
    /// `..`
    case recurseAll
    case field(JQAST, [UInt8])
    /// `term[]`, or `term[n]` with a literal number.
    case each(JQAST)
    /// `term[expr]` with anything but a literal string or number.
    case index(JQAST, JQAST)
    case slice(JQAST, JQAST?, JQAST?)
    /// `true`, `false`, `null`, `$__loc__`.
    case literal
    case numberLiteral
    /// A string without interpolation.
    case stringLiteral([UInt8])
    /// A string with interpolations (`"\(.a)"`, `@base64 "…\(.a)"`).
    case interpolated([JQAST])
    /// `@base64` alone: formats its input.
    case format
    case array(JQAST?)
    case object([(key: JQAST?, value: JQAST)])
    case variable(String)
    case call(String, [JQAST])
    case pipe(JQAST, JQAST)
    case comma(JQAST, JQAST)
    /// `a // b`
    case alternative(JQAST, JQAST)
    /// `and`, `or`: only truthiness is read.
    case logic(JQAST, JQAST)
    /// Arithmetic and comparisons: both sides are consumed.
    case binary(JQAST, JQAST)
    case negate(JQAST)
    /// `=`, `|=`, `+=`, `//=`…
    case assign(JQAST, JQAST)
    case conditional(JQAST, JQAST, JQAST?)
    /// `try a catch b`, `a?` (no handler).
    case tryCatch(JQAST, JQAST?)
    case bind(JQAST, JQPattern, JQAST)
    case reduce(JQAST, JQPattern, JQAST, JQAST)
    case foreach(JQAST, JQPattern, JQAST, JQAST, JQAST?)
    case label(JQAST)
    case breakLabel
}

/// A binding pattern: `$x`, or destructuring (`[$a, $b]`, `{a: $x, (expr): $y}`).
enum JQPattern {
    case variable(String)
    case destructure(names: [String], keyExpressions: [JQAST])
}

/// Why a program is not analysed; the analysis then keeps the whole input.
struct JQUnsupported: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Recursive descent over libjq 1.6's grammar, lexed and extended as jq 1.7+ reads it (`.e1` is a
/// field, `.a.[0]` an index, `if` needs no `else`): Tide runs programs rewritten into 1.6 syntax
/// (`JQRewrite`), so the analysis must read them as Ocean's jq does. Precedence, loosest first:
/// `|` (right), `,`, `//` (right), assignments (non-assoc), `or`, `and`, comparisons (non-assoc),
/// `+ -`, `* / %`, unary `-`, postfix (`.a`, `[…]`, `?`). `Term as $x | body`, `label $l | body`
/// take everything to their right; `try`/`catch` bind one postfix term.
struct JQParser {
    enum Token: Equatable {
        case dot, recurse, field([UInt8]), ident(String), keyword(String), number, stringStart, format
        case op(String)
        case end
    }

    private let bytes: [UInt8]
    private var position = 0
    private var lookahead: (token: Token, start: Int, end: Int)?
    private var depth = 0
    /// Parsing an object value's own expression (not one nested in parentheses).
    private var inObjectValue = false
    /// Where the last token taken by `next()` started and ended.
    private var lastStart = 0
    private var lastEnd = 0
    /// Text changes that turn the program into libjq 1.6 syntax with jq 1.8's meaning (`JQRewrite`).
    private(set) var edits: [JQEdit] = []

    static let keywords: Set<String> = [
        "as", "import", "include", "module", "def", "if", "then", "else", "elif", "and", "or", "end",
        "reduce", "foreach", "try", "catch", "label", "break", "__loc__",
    ]

    init(_ source: String) {
        bytes = Array(source.utf8)
    }

    static func parse(_ source: String) throws(JQUnsupported) -> JQAST {
        try parseWithEdits(source).ast
    }

    static func parseWithEdits(_ source: String) throws(JQUnsupported) -> (ast: JQAST, edits: [JQEdit]) {
        var parser = JQParser(source)
        let program = try parser.parsePipe()
        guard try parser.peek() == .end else { throw JQUnsupported("unexpected text after the program") }
        return (program, parser.edits)
    }

    private mutating func edit(at offset: Int, _ kind: JQEdit.Kind, _ text: String, deleting: Int = 0) {
        edits.append(JQEdit(offset: offset, kind: kind, text: text, deleting: deleting, sequence: edits.count))
    }

    /// Where the next token starts.
    private mutating func peekStart() throws(JQUnsupported) -> Int {
        _ = try peek()
        return lookahead!.start
    }

    // MARK: Lexer (lexer.l: longest match, earlier rule on ties)

    private mutating func peek() throws(JQUnsupported) -> Token {
        if let lookahead { return lookahead.token }
        let scanned = try scan(from: position)
        lookahead = scanned
        return scanned.token
    }

    @discardableResult
    private mutating func next() throws(JQUnsupported) -> Token {
        let token = try peek()
        lastStart = lookahead!.start
        lastEnd = lookahead!.end
        position = lookahead!.end
        lookahead = nil
        return token
    }

    private mutating func expect(_ token: Token) throws(JQUnsupported) {
        guard try next() == token else { throw JQUnsupported("expected \(token)") }
    }

    private static func isIdentStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
    private static func isIdentByte(_ byte: UInt8) -> Bool { isIdentStart(byte) || isDigit(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func byte(_ index: Int) -> UInt8 { index < bytes.count ? bytes[index] : 0 }

    /// Length of `[a-zA-Z_][a-zA-Z_0-9]*` at `index` (0 if none).
    private func identLength(at index: Int) -> Int {
        guard Self.isIdentStart(byte(index)) else { return 0 }
        var end = index + 1
        while Self.isIdentByte(byte(end)) { end += 1 }
        return end - index
    }

    /// Length of jq 1.7's number, `([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`, at `index`
    /// (0 if none). libjq 1.6 lexes `[0-9.]+…`, so it reads `.e1` as a (bad) number where 1.7
    /// reads the field `e1`; the rewrite quotes such fields.
    private func numberLength(at index: Int) -> Int {
        var end = index
        while Self.isDigit(byte(end)) { end += 1 }
        if byte(end) == UInt8(ascii: ".") {
            if end > index {
                end += 1
                while Self.isDigit(byte(end)) { end += 1 }
            } else if Self.isDigit(byte(end + 1)) {
                end += 1
                while Self.isDigit(byte(end)) { end += 1 }
            }
        }
        guard end > index else { return 0 }
        if byte(end) | 0x20 == UInt8(ascii: "e") {
            var exponent = end + 1
            if byte(exponent) == UInt8(ascii: "+") || byte(exponent) == UInt8(ascii: "-") { exponent += 1 }
            if Self.isDigit(byte(exponent)) {
                while Self.isDigit(byte(exponent)) { exponent += 1 }
                end = exponent
            }
        }
        return end - index
    }

    private func scan(from start: Int) throws(JQUnsupported) -> (token: Token, start: Int, end: Int) {
        var index = start
        // Whitespace and comments (`#` to the end of the line).
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                index += 1
            } else if byte == UInt8(ascii: "#") {
                while index < bytes.count, bytes[index] != 0x0A, bytes[index] != 0x0D { index += 1 }
            } else {
                break
            }
        }
        guard index < bytes.count else { return (.end, index, index) }
        let (token, end) = try scanToken(at: index)
        return (token, index, end)
    }

    private func scanToken(at index: Int) throws(JQUnsupported) -> (token: Token, end: Int) {
        let first = bytes[index]

        if first == UInt8(ascii: ".") || Self.isDigit(first) {
            // Candidates in lexer.l's rule order: "..", ".", number, field.
            let recurseLength = first == UInt8(ascii: ".") && byte(index + 1) == UInt8(ascii: ".") ? 2 : 0
            let dotLength = first == UInt8(ascii: ".") ? 1 : 0
            let number = numberLength(at: index)
            let fieldName = first == UInt8(ascii: ".") ? identLength(at: index + 1) : 0
            let fieldLength = fieldName > 0 ? fieldName + 1 : 0
            let longest = max(recurseLength, dotLength, number, fieldLength)
            if recurseLength == longest { return (.recurse, index + 2) }
            if dotLength == longest { return (.dot, index + 1) }
            if number == longest { return (.number, index + number) }
            return (.field(Array(bytes[(index + 1)..<(index + fieldLength)])), index + fieldLength)
        }
        if Self.isIdentStart(first) {
            // ([a-zA-Z_][a-zA-Z_0-9]*::)*[a-zA-Z_][a-zA-Z_0-9]*
            var end = index + identLength(at: index)
            while byte(end) == UInt8(ascii: ":"), byte(end + 1) == UInt8(ascii: ":"), identLength(at: end + 2) > 0 {
                end += 2 + identLength(at: end + 2)
            }
            let text = String(decoding: bytes[index..<end], as: UTF8.self)
            return (Self.keywords.contains(text) ? .keyword(text) : .ident(text), end)
        }
        if first == UInt8(ascii: "\"") { return (.stringStart, index + 1) }
        if first == UInt8(ascii: "@") {
            var end = index + 1
            while Self.isIdentByte(byte(end)) { end += 1 }
            guard end > index + 1 else { throw JQUnsupported("stray @") }
            return (.format, end)
        }
        for candidate in ["?//", "//=", "!=", "==", "//", "|=", "+=", "-=", "*=", "/=", "%=", "<=", ">="] {
            let utf8 = Array(candidate.utf8)
            if index + utf8.count <= bytes.count, Array(bytes[index..<(index + utf8.count)]) == utf8 {
                return (.op(candidate), index + utf8.count)
            }
        }
        if "?=;,:|+-*/%$<>[{(]})".utf8.contains(first) {
            return (.op(String(UnicodeScalar(first))), index + 1)
        }
        throw JQUnsupported("unexpected character")
    }

    // MARK: Expressions

    private mutating func enter() throws(JQUnsupported) {
        // Mappings nest a few levels; the cap keeps parsing and analysis recursion far from the
        // end of a small thread stack.
        depth += 1
        if depth > 64 { throw JQUnsupported("nesting too deep") }
    }

    mutating func parsePipe() throws(JQUnsupported) -> JQAST {
        try enter()
        // A nested pipe (in parentheses, brackets, arguments…) is a whole expression again.
        let outerObjectValue = inObjectValue
        inObjectValue = false
        defer { depth -= 1; inObjectValue = outerObjectValue }
        // A loop, not recursion, so long pipelines do not count as nesting.
        var segments = [try parseComma()]
        while try peek() == .op("|") {
            try next()
            segments.append(try parseComma())
        }
        var result = segments.removeLast()
        while let segment = segments.popLast() { result = .pipe(segment, result) }
        return result
    }

    private mutating func parseComma() throws(JQUnsupported) -> JQAST {
        var left = try parseAlternative()
        while try peek() == .op(",") {
            try next()
            left = .comma(left, try parseAlternative())
        }
        return left
    }

    private mutating func parseAlternative() throws(JQUnsupported) -> JQAST {
        let left = try parseAssignment()
        if try peek() == .op("//") {
            try next()
            return .alternative(left, try parseAlternative())
        }
        return left
    }

    private static let assignments: Set<String> = ["=", "|=", "+=", "-=", "*=", "/=", "%=", "//="]
    private static let comparisons: Set<String> = ["==", "!=", "<", "<=", ">", ">="]

    private mutating func parseAssignment() throws(JQUnsupported) -> JQAST {
        let left = try parseOr()
        if case .op(let op) = try peek(), Self.assignments.contains(op) {
            try next()
            return .assign(left, try parseOr())
        }
        return left
    }

    private mutating func parseOr() throws(JQUnsupported) -> JQAST {
        var left = try parseAnd()
        while try peek() == .keyword("or") {
            try next()
            left = .logic(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(JQUnsupported) -> JQAST {
        var left = try parseComparison()
        while try peek() == .keyword("and") {
            try next()
            left = .logic(left, try parseComparison())
        }
        return left
    }

    private mutating func parseComparison() throws(JQUnsupported) -> JQAST {
        let left = try parseAdditive()
        if case .op(let op) = try peek(), Self.comparisons.contains(op) {
            try next()
            return .binary(left, try parseAdditive())
        }
        return left
    }

    private mutating func parseAdditive() throws(JQUnsupported) -> JQAST {
        var left = try parseMultiplicative()
        while case .op(let op) = try peek(), op == "+" || op == "-" {
            try next()
            left = .binary(left, try parseMultiplicative())
        }
        return left
    }

    private mutating func parseMultiplicative() throws(JQUnsupported) -> JQAST {
        var left = try parseUnary()
        while case .op(let op) = try peek(), op == "*" || op == "/" || op == "%" {
            try next()
            left = .binary(left, try parseUnary())
        }
        return left
    }

    private mutating func parseUnary() throws(JQUnsupported) -> JQAST {
        if try peek() == .op("-") {
            try next()
            try enter()
            defer { depth -= 1 }
            return .negate(try parseMultiplicative())
        }
        return try parsePostfix(allowBinding: true)
    }

    /// A term with its suffixes; with `allowBinding`, `term as $x | body` too.
    private mutating func parsePostfix(allowBinding: Bool) throws(JQUnsupported) -> JQAST {
        try enter()
        defer { depth -= 1 }
        let start = try peekStart()
        var term = try parsePrimary()
        // 1.7 made `if … end` a term (`if … end[0]`, `if … end.a`); 1.6 needs it in parentheses.
        if case .conditional = term {
            let suffixed: Bool
            switch try peek() {
            case .field, .dot, .op("["): suffixed = true
            default: suffixed = false
            }
            if suffixed {
                edit(at: start, .open, "(")
                edit(at: lastEnd, .close, ")")
            }
        }
        // Where the last index step (`.b`, `[e]`, `[]`, `."s"`) started, if the term ends with one:
        // `?` after it guards that step only (`.a.b?` does not hide an error from `.a`).
        var lastStep: (start: Int, bracket: Bool)?
        suffixes: while true {
            let suffixStart = try peekStart()
            switch try peek() {
            case .field(let name):
                lastStep = (suffixStart, false)
                try next()
                quoteIfNumberIn16(name)
                term = .field(term, name)
            case .dot:
                // `term."key"`, or 1.7's `term.[…]` (1.6 only knows `term[…]`: the dot goes).
                try next()
                lastStep = (suffixStart, false)
                if try peek() == .op("[") {
                    lastStep = (suffixStart, true)
                    edit(at: lastStart, .replace, "", deleting: 1)
                    try next()
                    // 1.8 has no `term.[a:b]`: leave it to libjq to reject.
                    if try peek() == .op(":") { throw JQUnsupported("a slice after '.'") }
                    term = try parseBracketSuffix(term)
                    if case .slice = term { throw JQUnsupported("a slice after '.'") }
                    continue
                }
                guard try peek() == .stringStart else { throw JQUnsupported("'.' not followed by a name") }
                try next()
                term = Self.indexed(term, by: try parseString())
            case .op("["):
                lastStep = (suffixStart, true)
                try next()
                term = try parseBracketSuffix(term)
            case .op("?"):
                try next()
                // `term?` as `try term`, isolated from what follows (see JQRewrite); after an
                // index step, `(rest | try .step)`.
                if let step = lastStep {
                    edit(at: start, .open, "(")
                    edit(at: step.start, .open, " | try (" + (step.bracket ? "." : ""))
                } else {
                    edit(at: start, .open, "(try (")
                }
                edit(at: lastStart, .close, " | _tide_pass) catch _tide_caught(empty))", deleting: 1)
                lastStep = nil
                term = .tryCatch(term, nil)
            default:
                break suffixes
            }
        }
        if allowBinding, try peek() == .keyword("as") {
            // 1.8 refuses `{a: 1 as $x | $x}`; left as written, 1.6 refuses it too.
            if inObjectValue { throw JQUnsupported("a binding in an object value") }
            try next()
            let pattern = try parsePatterns()
            try expect(.op("|"))
            return .bind(term, pattern, try parsePipe())
        }
        return term
    }

    /// After `term[`: `]`, `expr]`, `expr:expr]`, `expr:]`, `:expr]`.
    private mutating func parseBracketSuffix(_ term: JQAST) throws(JQUnsupported) -> JQAST {
        if try peek() == .op("]") {
            try next()
            return .each(term)
        }
        if try peek() == .op(":") {
            try next()
            let upper = try parsePipe()
            try expect(.op("]"))
            return .slice(term, nil, upper)
        }
        let index = try parsePipe()
        // jq 1.8 truncates a fractional index (`.[1.5]` is `.[1]`); 1.6 answers null.
        switch index {
        case .numberLiteral, .negate(.numberLiteral):
            if try peek() == .op("]") { truncateIndexLiteral(from: lastStart, to: lastEnd) }
        default: break
        }
        if try peek() == .op(":") {
            try next()
            var upper: JQAST?
            if try peek() != .op("]") { upper = try parsePipe() }
            try expect(.op("]"))
            return .slice(term, index, upper)
        }
        try expect(.op("]"))
        return Self.indexed(term, by: index)
    }

    /// `term[index]`: a literal string names a member, a literal number means some element.
    private static func indexed(_ term: JQAST, by index: StringOrExpression) -> JQAST {
        switch index {
        case .constant(let key): .field(term, key)
        case .expression(let expression): .index(term, expression)
        }
    }

    private static func indexed(_ term: JQAST, by index: JQAST) -> JQAST {
        switch index {
        case .numberLiteral, .negate(.numberLiteral): .each(term)
        case .stringLiteral(let key): .field(term, key)
        default: .index(term, index)
        }
    }

    private mutating func parsePrimary() throws(JQUnsupported) -> JQAST {
        let token = try next()
        switch token {
        case .dot:
            if try peek() == .stringStart {
                try next()
                return Self.indexed(.identity, by: try parseString())
            }
            return .identity
        case .recurse:
            return .recurseAll
        case .field(let name):
            quoteIfNumberIn16(name)
            return .field(.identity, name)
        case .number:
            return .numberLiteral
        case .stringStart:
            return try parseString().ast
        case .format:
            if try peek() == .stringStart {
                try next()
                return try parseString().ast
            }
            return .format
        case .op("("):
            let inner = try parsePipe()
            try expect(.op(")"))
            return inner
        case .op("["):
            if try peek() == .op("]") {
                try next()
                return .array(nil)
            }
            let inner = try parsePipe()
            try expect(.op("]"))
            return .array(inner)
        case .op("{"):
            return try parseObject()
        case .op("$"):
            switch try next() {
            case .keyword("__loc__"):
                // The expression's own line: a mapping field is compiled inside a larger program.
                edit(at: lastStart - 1, .replace, location(at: lastStart - 1), deleting: lastEnd - lastStart + 1)
                return .literal
            case .ident(let name): return .variable(name)
            default: throw JQUnsupported("bad variable")
            }
        case .ident(let name):
            if name == "true" || name == "false" || name == "null" { return .literal }
            var arguments: [JQAST] = []
            if try peek() == .op("(") {
                try next()
                arguments.append(try parsePipe())
                while try peek() == .op(";") {
                    try next()
                    arguments.append(try parsePipe())
                }
                try expect(.op(")"))
            }
            return .call(name, arguments)
        case .keyword("if"):
            return try parseConditional()
        case .keyword("try"):
            // `try B catch H` as `try (B | _tide_pass) catch _tide_caught(H)` (see JQRewrite).
            let bodyStart = try peekStart()
            let body = try parseTryOperand()
            edit(at: bodyStart, .open, "(")
            edit(at: lastEnd, .close, " | _tide_pass)")
            var handler: JQAST?
            if try peek() == .keyword("catch") {
                try next()
                let handlerStart = try peekStart()
                handler = try parseTryOperand()
                edit(at: handlerStart, .open, "_tide_caught(")
                edit(at: lastEnd, .close, ")")
            } else {
                edit(at: lastEnd, .close, " catch _tide_caught(empty)")
            }
            return .tryCatch(body, handler)
        case .keyword("reduce"):
            let source = try parsePostfix(allowBinding: false)
            try expect(.keyword("as"))
            let pattern = try parsePatterns()
            try expect(.op("("))
            let initial = try parsePipe()
            try expect(.op(";"))
            let update = try parsePipe()
            try expect(.op(")"))
            return .reduce(source, pattern, initial, update)
        case .keyword("foreach"):
            let source = try parsePostfix(allowBinding: false)
            try expect(.keyword("as"))
            let pattern = try parsePatterns()
            try expect(.op("("))
            let initial = try parsePipe()
            try expect(.op(";"))
            let update = try parsePipe()
            var extract: JQAST?
            if try peek() == .op(";") {
                try next()
                extract = try parsePipe()
            }
            try expect(.op(")"))
            return .foreach(source, pattern, initial, update, extract)
        case .keyword("label"):
            if inObjectValue { throw JQUnsupported("label in an object value") }
            try expect(.op("$"))
            guard case .ident = try next() else { throw JQUnsupported("bad label") }
            try expect(.op("|"))
            return .label(try parsePipe())
        case .keyword("break"):
            try expect(.op("$"))
            guard case .ident = try next() else { throw JQUnsupported("bad break") }
            return .breakLabel
        case .keyword("def"):
            throw JQUnsupported("function definitions are not analysed")
        default:
            throw JQUnsupported("unexpected token \(token)")
        }
    }

    /// `$__loc__` as jq gives it for the program alone.
    private func location(at offset: Int) -> String {
        let line = bytes[..<offset].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        return "{\"file\": \"<top-level>\", \"line\": \(line)}"
    }

    /// libjq 1.6 lexes `.e1` (a name of `e` and digits) as a number: quote it as `."e1"`.
    private mutating func quoteIfNumberIn16(_ name: [UInt8]) {
        guard name.count >= 2, name[0] | 0x20 == UInt8(ascii: "e"), name.dropFirst().allSatisfy(Self.isDigit) else { return }
        edit(at: lastStart, .replace, ".\"" + String(decoding: name, as: UTF8.self) + "\"", deleting: lastEnd - lastStart)
    }

    /// Replaces a fractional number literal used as an index by its truncation, as jq 1.8 reads it.
    private mutating func truncateIndexLiteral(from start: Int, to end: Int) {
        let text = String(decoding: bytes[start..<end], as: UTF8.self)
        guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let value = Double(text),
              value.isFinite, abs(value) < 9e15 else { return }
        let truncated = Int64(value.rounded(.towardZero))
        if Double(truncated) == value && !text.contains(".") { return }
        edit(at: start, .replace, String(truncated), deleting: end - start)
    }

    /// `try`'s body and `catch`'s handler: one postfix term (or a negation), as in parser.y.
    private mutating func parseTryOperand() throws(JQUnsupported) -> JQAST {
        if try peek() == .op("-") {
            try next()
            return .negate(try parseMultiplicative())
        }
        return try parsePostfix(allowBinding: true)
    }

    private mutating func parseConditional() throws(JQUnsupported) -> JQAST {
        let condition = try parsePipe()
        try expect(.keyword("then"))
        let then = try parsePipe()
        switch try next() {
        case .keyword("elif"):
            return .conditional(condition, then, try parseConditional())
        case .keyword("else"):
            let otherwise = try parsePipe()
            try expect(.keyword("end"))
            return .conditional(condition, then, otherwise)
        case .keyword("end"):
            // 1.7's `if … then … end` is `… else . end`.
            edit(at: lastStart, .open, "else . ")
            return .conditional(condition, then, nil)
        default:
            throw JQUnsupported("bad if")
        }
    }

    /// Object construction (parser.y's MkDict). Values are ExpD: terms joined by `|`, or negated.
    private mutating func parseObject() throws(JQUnsupported) -> JQAST {
        var entries: [(key: JQAST?, value: JQAST)] = []
        if try peek() == .op("}") {
            try next()
            return .object([])
        }
        while true {
            let token = try next()
            switch token {
            case .ident(let name), .keyword(let name):
                if try peek() == .op(":") {
                    try next()
                    entries.append((nil, try parseObjectValue()))
                } else if case .ident = token {
                    // `{a}` is `{a: .a}`
                    entries.append((nil, .field(.identity, Array(name.utf8))))
                } else {
                    throw JQUnsupported("keyword as a shorthand key")
                }
            case .op("$"):
                let dollar = lastStart
                let name = try next()
                if name == .keyword("__loc__") {
                    // 1.7's `{$__loc__}`.
                    edit(at: dollar, .replace, "\"__loc__\": " + location(at: dollar), deleting: lastEnd - dollar)
                    entries.append((nil, .literal))
                    break
                }
                guard case .ident(let name) = name else { throw JQUnsupported("bad variable key") }
                entries.append((nil, .variable(name)))
            case .stringStart, .format:
                if token == .format { try expect(.stringStart) }
                let key = try parseString()
                if try peek() == .op(":") {
                    try next()
                    entries.append((key.keyAST, try parseObjectValue()))
                } else {
                    // `{"a"}` is `{"a": .["a"]}`
                    entries.append((key.keyAST, Self.indexed(.identity, by: key)))
                }
            case .op("("):
                let key = try parsePipe()
                try expect(.op(")"))
                try expect(.op(":"))
                entries.append((key, try parseObjectValue()))
            default:
                throw JQUnsupported("bad object key")
            }
            let separator = try next()
            if separator == .op("}") { return .object(entries) }
            guard separator == .op(",") else { throw JQUnsupported("bad object") }
        }
    }

    /// An object value as jq 1.8 reads it: any expression but `,` (which ends the pair), `as`
    /// bindings, `label` and `def` — `{a: .x | . * 2 // 0, b: try f catch g}`. 1.6 takes only
    /// terms joined by `|`, so the value is parenthesised.
    private mutating func parseObjectValue() throws(JQUnsupported) -> JQAST {
        try enter()
        let outerObjectValue = inObjectValue
        inObjectValue = true
        defer { depth -= 1; inObjectValue = outerObjectValue }
        let start = try peekStart()
        var value = try parseAlternative()
        while try peek() == .op("|") {
            try next()
            value = .pipe(value, try parseAlternative())
        }
        edit(at: start, .open, "(")
        edit(at: lastEnd, .close, ")")
        return value
    }

    /// `$x`, `[…]`, `{…}`; alternatives (`?//`) are not analysed.
    private mutating func parsePatterns() throws(JQUnsupported) -> JQPattern {
        var names: [String] = []
        var keys: [JQAST] = []
        let simple = try parsePattern(names: &names, keys: &keys)
        if try peek() == .op("?//") { throw JQUnsupported("destructuring alternatives are not analysed") }
        if simple, let name = names.first { return .variable(name) }
        return .destructure(names: names, keyExpressions: keys)
    }

    /// Returns true for a plain `$name`.
    private mutating func parsePattern(names: inout [String], keys: inout [JQAST]) throws(JQUnsupported) -> Bool {
        try enter()
        defer { depth -= 1 }
        switch try next() {
        case .op("$"):
            guard case .ident(let name) = try next() else { throw JQUnsupported("bad pattern variable") }
            names.append(name)
            return true
        case .op("["):
            while true {
                _ = try parsePattern(names: &names, keys: &keys)
                let separator = try next()
                if separator == .op("]") { return false }
                guard separator == .op(",") else { throw JQUnsupported("bad array pattern") }
            }
        case .op("{"):
            while true {
                let token = try next()
                switch token {
                case .op("$"):
                    guard case .ident(let name) = try next() else { throw JQUnsupported("bad pattern variable") }
                    names.append(name)
                    if try peek() == .op(":") {
                        try next()
                        _ = try parsePattern(names: &names, keys: &keys)
                    }
                case .ident, .keyword:
                    try expect(.op(":"))
                    _ = try parsePattern(names: &names, keys: &keys)
                case .stringStart, .format:
                    if token == .format { try expect(.stringStart) }
                    if let key = try parseString().keyAST { keys.append(key) }
                    try expect(.op(":"))
                    _ = try parsePattern(names: &names, keys: &keys)
                case .op("("):
                    keys.append(try parsePipe())
                    try expect(.op(")"))
                    try expect(.op(":"))
                    _ = try parsePattern(names: &names, keys: &keys)
                default:
                    throw JQUnsupported("bad object pattern")
                }
                let separator = try next()
                if separator == .op("}") { return false }
                guard separator == .op(",") else { throw JQUnsupported("bad object pattern") }
            }
        default:
            throw JQUnsupported("bad pattern")
        }
    }

    // MARK: Strings

    enum StringOrExpression {
        case constant([UInt8])
        case expression(JQAST)

        var ast: JQAST {
            switch self {
            case .constant(let bytes): .stringLiteral(bytes)
            case .expression(let expression): expression
            }
        }

        /// As an object key: nil when constant (nothing to evaluate).
        var keyAST: JQAST? {
            if case .expression(let expression) = self { return expression }
            return nil
        }
    }

    /// After the opening quote. Interpolations are parsed as expressions; `\u` escapes make the
    /// string non-constant (rather than decode them as libjq does, their keys are not trusted).
    private mutating func parseString() throws(JQUnsupported) -> StringOrExpression {
        guard lookahead == nil else { throw JQUnsupported("string after a lookahead") }
        var text: [UInt8] = []
        var parts: [JQAST] = []
        var constant = true
        var index = position
        while true {
            guard index < bytes.count else { throw JQUnsupported("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                lastEnd = position
                break
            }
            guard byte == UInt8(ascii: "\\") else {
                text.append(byte)
                index += 1
                continue
            }
            let escaped = self.byte(index + 1)
            index += 2
            switch escaped {
            case UInt8(ascii: "("):
                position = index
                parts.append(try parsePipe())
                try expect(.op(")"))
                index = position
                constant = false
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
            case UInt8(ascii: "b"): text.append(0x08)
            case UInt8(ascii: "f"): text.append(0x0C)
            case UInt8(ascii: "n"): text.append(0x0A)
            case UInt8(ascii: "r"): text.append(0x0D)
            case UInt8(ascii: "t"): text.append(0x09)
            default: constant = false
            }
        }
        if constant && parts.isEmpty { return .constant(text) }
        return .expression(.interpolated(parts))
    }
}

/// One change to a program's text (see `JQRewrite`).
struct JQEdit {
    enum Kind: Int {
        /// Ends a construct: at one offset, closes come first, innermost (earliest) first.
        case close = 0
        /// Starts a construct: after closes, outermost (latest) first.
        case open = 1
        /// Replaces a token: last, so the constructs that start at it open before it.
        case replace = 2
    }
    var offset: Int
    var kind: Kind
    var text: String
    var deleting: Int
    var sequence: Int
}
