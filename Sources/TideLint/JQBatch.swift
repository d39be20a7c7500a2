import Foundation
import TideCore
import TideIntegration
import TideJQ
import TideYAML

/// Every jq expression and template of one file, compiled together.
///
/// libjq re-reads its builtins (and Tide's prelude) on every compile, a few milliseconds each, so
/// compiling each of a file's dozens of expressions alone would take most of a second. Instead
/// each becomes a `def` of one program: when that compiles, they all do. Only when it fails is
/// each compiled alone, templates through `CompiledTemplate` itself, to say which and where.
struct JQBatch {
    let source: SourceText

    private enum Entry {
        case expression(text: String, program: String, location: SourceLocation?, field: String, seesResponse: Bool, seesParent: Bool)
        case template(location: SourceLocation?, text: String, pieces: [JQScan.Piece]?, field: String)
    }
    private var entries: [Entry] = []

    init(source: SourceText) { self.source = source }

    /// A jq expression written as the whole scalar; `program` is what is compiled (Ocean's
    /// quote rewrite of it, for mappings). Pagination fields see `$headers` and `$page`, a kind's
    /// `records` sees `$parent`.
    mutating func expression(_ text: String, program: String? = nil, at location: SourceLocation?, field: String, seesResponse: Bool = false,
                             seesParent: Bool = false) {
        entries.append(.expression(text: text, program: program ?? text, location: location, field: field, seesResponse: seesResponse,
                                   seesParent: seesParent))
    }

    mutating func template(at location: SourceLocation?, text: String, pieces: [JQScan.Piece]?, field: String) {
        entries.append(.template(location: location, text: text, pieces: pieces, field: field))
    }

    /// The compile errors, each where the user wrote the failing expression.
    func check() -> [Diagnostic] {
        guard !entries.isEmpty else { return [] }
        var program = ""
        for (index, entry) in entries.enumerated() {
            guard let body = Self.batchBody(entry) else { return entries.flatMap(diagnostics) }
            program += "def _tide_lint_\(index): \(body)\n;\n"
        }
        program += "."
        if (try? JQProgram(program)) != nil { return [] }
        return entries.flatMap(diagnostics)
    }

    /// The program an entry compiles to, as a def body; nil when only the slow path can tell.
    private static func batchBody(_ entry: Entry) -> String? {
        switch entry {
        case .expression(_, let program, _, _, let seesResponse, let seesParent):
            return wrap(program, seesResponse: seesResponse, seesParent: seesParent)
        case .template(_, _, let pieces, _):
            // CompiledTemplate compiles a lone expression as it is, and several as interpolations
            // in one string (the literal text between them cannot fail, so it is left out here).
            guard let pieces else { return nil }
            if pieces.count == 1 { return pieces[0].expression }
            return "\"" + pieces.map { "\\(\($0.expression)\n)" }.joined() + "\""
        }
    }

    /// The binding prefix sits on the expression's first line, so libjq's line numbers stay the user's.
    private static func wrap(_ program: String, seesResponse: Bool, seesParent: Bool) -> String {
        if seesResponse { return "null as $headers | null as $page | (\(program)\n)" }
        return seesParent ? "null as $parent | (\(program)\n)" : program
    }

    private func diagnostics(_ entry: Entry) -> [Diagnostic] {
        switch entry {
        case .expression(let text, let program, let location, let field, let seesResponse, let seesParent):
            let wrapped = Self.wrap(program, seesResponse: seesResponse, seesParent: seesParent)
            return compile(text, program: wrapped, at: location, offset: 0, field: field).map { [$0] } ?? []
        case .template(let location, let text, let pieces, let field):
            do {
                _ = try CompiledTemplate(TemplateSource(text, location: location))
                return []
            } catch {
                guard error.rule == LintRule.jqCompile, let pieces else {
                    return [Diagnostic(at: error.location, "\(field): \(error.message)", rule: error.rule)]
                }
                // Place the failure at the expression that fails on its own.
                let found = pieces.compactMap { compile($0.expression, program: $0.expression, text: text, at: location, offset: $0.offset, field: field) }
                return found.isEmpty ? [error] : found
            }
        }
    }

    /// Compiles one expression; on failure, a diagnostic at the line libjq blamed.
    /// `text` is the whole scalar the expression is part of, at `offset`, written at `location`.
    private func compile(_ expression: String, program: String, text: String? = nil, at location: SourceLocation?, offset: Int,
                         field: String) -> Diagnostic? {
        do {
            _ = try JQProgram(program)
            return nil
        } catch {
            var lineOffset = offset
            if let line = error.line, line > 1 {
                // Inside a multi-line (block scalar) expression, point at the line libjq blamed.
                var seen = 1
                for (index, scalar) in expression.unicodeScalars.enumerated() where scalar == "\n" {
                    seen += 1
                    if seen == line {
                        lineOffset = offset + index + 1
                        break
                    }
                }
            }
            let shown = expression.contains("\n") || expression.unicodeScalars.count > 60 ? "" : " \"\(expression)\""
            return Diagnostic(at: source.location(of: location, text: text ?? expression, offset: lineOffset),
                              "\(field): jq\(shown) does not compile: \(Self.clean(error.message))", rule: LintRule.jqCompile)
        }
    }

    /// libjq's message without the position it counts from the program's start (the diagnostic's
    /// location already says where, in the file's terms).
    static func clean(_ message: String) -> String {
        message.replacingOccurrences(of: #",? at <top-level>, line \d+"#, with: "", options: .regularExpression)
    }
}
