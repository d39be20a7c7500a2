import TideJQ

/// Static reading of jq text: the `{{ … }}` of templates with their offsets, and the
/// `.config.X` / `.selector.X` paths an expression reads.
enum JQScan {
    /// One `{{ jq }}` of a template: the trimmed expression and where it starts in the text
    /// (an offset in Unicode scalars).
    struct Piece {
        var expression: String
        var offset: Int
    }

    /// The expressions of a template, by the rule `CompiledTemplate` compiles them with: an
    /// expression ends at the first `}}` outside jq strings and outside braces it opened. nil
    /// when a `{{` is not closed (the template itself reports that).
    ///
    /// This keeps offsets, which `CompiledTemplate.split` does not expose; the linter still
    /// compiles every template with `CompiledTemplate`, so the two cannot disagree on validity.
    static func pieces(of text: String) -> [Piece]? {
        let c = Array(text.unicodeScalars)
        var pieces: [Piece] = []
        var index = 0
        while index < c.count {
            guard c[index] == "{", index + 1 < c.count, c[index + 1] == "{" else {
                index += 1
                continue
            }
            var cursor = index + 2, depth = 0, inString = false, closed = false
            while cursor < c.count {
                let character = c[cursor]
                if inString {
                    if character == "\\" { cursor += 2; continue }
                    if character == "\"" { inString = false }
                } else if character == "\"" {
                    inString = true
                } else if character == "{" {
                    depth += 1
                } else if character == "}" {
                    if depth == 0, cursor + 1 < c.count, c[cursor + 1] == "}" {
                        closed = true
                        break
                    }
                    depth -= 1
                }
                cursor += 1
            }
            guard closed else { return nil }
            var start = index + 2, end = cursor
            while start < end, c[start].properties.isWhitespace { start += 1 }
            while end > start, c[end - 1].properties.isWhitespace { end -= 1 }
            if start < end {
                pieces.append(Piece(expression: String(String.UnicodeScalarView(c[start..<end])), offset: start))
            }
            index = cursor + 2
        }
        return pieces
    }

    /// A path such as `.config.jiraHost` read from the expression's input.
    struct Reference: Equatable {
        /// `config` or `selector`.
        var root: String
        var name: String
        /// Offset of the leading `.` in the expression (Unicode scalars).
        var offset: Int
    }

    /// Every `.ROOT.NAME`, `.ROOT."NAME"` and `.ROOT["NAME"]` (with optional `?`) that starts a
    /// path in code, string interpolations included, for the given roots.
    ///
    /// A static scan, not an evaluation: it assumes such a path reads the template's context,
    /// which holds unless the expression first rebinds `.` (`.items[] | .config.x`); paths built
    /// at run time (`.config[$name]`, `getpath`) and reads through variables (`.config as $c |
    /// $c.x`) are not seen. Both limits err towards saying nothing.
    static func references(in text: String, roots: Set<String> = ["config", "selector"]) -> [Reference] {
        let c = Array(text.unicodeScalars)
        var references: [Reference] = []
        // Each frame is code (with its open parentheses) or a string; `\(` in a string opens code.
        enum Frame { case code(parens: Int), string }
        var stack: [Frame] = [.code(parens: 0)]
        var index = 0
        func isIdentifier(_ s: Unicode.Scalar) -> Bool { s.properties.isAlphabetic || s.properties.numericType != nil || s == "_" }
        /// Whether a `.` at `at` begins a path from the input rather than continuing one
        /// (`.a.config`, `$x.config`, `f(x).config`, `1.5`); a keyword before it begins a term.
        func startsTerm(_ at: Int) -> Bool {
            var i = at - 1
            while i >= 0, c[i] == " " || c[i] == "\t" || c[i] == "\n" { i -= 1 }
            guard i >= 0 else { return true }
            if "])}.?\"$".unicodeScalars.contains(c[i]) { return false }
            guard isIdentifier(c[i]) else { return true }
            var start = i
            while start > 0, isIdentifier(c[start - 1]) { start -= 1 }
            if start > 0, c[start - 1] == "$" { return false }
            return keywords.contains(String(String.UnicodeScalarView(c[start...i])))
        }
        func word(at start: Int) -> (String, Int)? {
            var end = start
            while end < c.count, isIdentifier(c[end]) { end += 1 }
            guard end > start else { return nil }
            return (String(String.UnicodeScalarView(c[start..<end])), end)
        }
        func stringLiteral(at start: Int) -> (String, Int)? {
            guard start < c.count, c[start] == "\"" else { return nil }
            var end = start + 1, value = ""
            while end < c.count, c[end] != "\"" {
                if c[end] == "\\" { return nil }  // escapes or interpolation: not a plain name
                value.unicodeScalars.append(c[end])
                end += 1
            }
            return end < c.count ? (value, end + 1) : nil
        }
        while index < c.count {
            switch stack[stack.count - 1] {
            case .string:
                if c[index] == "\\", index + 1 < c.count {
                    if c[index + 1] == "(" { stack.append(.code(parens: 0)) }
                    index += 2
                } else {
                    if c[index] == "\"" { stack.removeLast() }
                    index += 1
                }
            case .code(let parens):
                let character = c[index]
                if character == "\"" {
                    stack.append(.string)
                    index += 1
                } else if character == "#" {
                    while index < c.count, c[index] != "\n" { index += 1 }
                } else if character == "(" {
                    stack[stack.count - 1] = .code(parens: parens + 1)
                    index += 1
                } else if character == ")" {
                    if parens == 0, stack.count > 1 { stack.removeLast() } else { stack[stack.count - 1] = .code(parens: max(0, parens - 1)) }
                    index += 1
                } else if character == ".", startsTerm(index), let (root, afterRoot) = word(at: index + 1), roots.contains(root) {
                    var cursor = afterRoot
                    if cursor < c.count, c[cursor] == "?" { cursor += 1 }
                    var name: String?
                    if cursor + 1 < c.count, c[cursor] == "." {
                        name = word(at: cursor + 1)?.0 ?? stringLiteral(at: cursor + 1)?.0
                    } else if cursor < c.count, c[cursor] == "[" {
                        var inner = cursor + 1
                        while inner < c.count, c[inner] == " " { inner += 1 }
                        if let (value, after) = stringLiteral(at: inner) {
                            var close = after
                            while close < c.count, c[close] == " " { close += 1 }
                            if close < c.count, c[close] == "]" { name = value }
                        }
                    }
                    if let name { references.append(Reference(root: root, name: name, offset: index)) }
                    index = afterRoot
                } else {
                    index += 1
                }
            }
        }
        return references
    }

    /// Words after which a `.` starts a new term.
    static let keywords: Set<String> = ["if", "then", "elif", "else", "and", "or", "not", "reduce", "foreach", "try",
                                        "catch", "label", "import", "include", "def", "as", "end"]

    /// The value of an expression that is nothing but a JSON literal (`"jiraIssue"`, `42`,
    /// `true`), after trimming; nil for anything that computes.
    static func literal(_ text: String) -> JSON? {
        let trimmed = text.trimmingWhitespace
        guard let first = trimmed.unicodeScalars.first,
              first == "\"" || first == "-" || first == "[" || first == "{" || ("0"..."9").contains(first)
                || trimmed == "true" || trimmed == "false" || trimmed == "null" else { return nil }
        return try? JSON(parsing: trimmed)
    }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
