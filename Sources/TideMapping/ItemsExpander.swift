import Foundation
import TideJQ

/// Ocean's `itemsToParse`: one record fans out into one item per element of an array in it,
/// each item being the record (minus that array, by default) with the element under
/// `itemsToParseName`.
package struct ItemsExpander {
    package enum Expansion {
        case items([JSON])
        /// The record produced nothing, with Ocean's reason.
        case skipped(String)
    }

    let expression: JQExpression
    let name: String
    let program: JQProgram?
    let compileError: String?

    init(expression: JQExpression, name: String, topLevelTransform: Bool, options: JQOptions) {
        self.expression = expression
        self.name = name
        // One run yields [items, parent]: the parent is the record without the parsed array, so
        // the items do not each carry a copy of it.
        let transform = topLevelTransform
            ? "([try _tide_first(. | del(\(JQRewrite.for16(Self.deletionPath(expression.source) ?? ".")))) catch []] | .[0][0])"
            : "."
        // Each part collected, so no `try` of the first stays on the stack while the second runs.
        let text = """
        def _tide_first(f): [label $__tide_out | f | ., break $__tide_out];
        [([try _tide_first((\(JQRewrite.for16(expression.oceanProgram))
        )) catch []] | .[0][0]), \(transform)]
        """
        do {
            program = try JQProgram(text, options: options)
            compileError = nil
        } catch {
            program = nil
            compileError = (try? JQProgram(expression.oceanProgram, options: options)) == nil
                ? Self.message(expression, options) : error.message
        }
    }

    private static func message(_ expression: JQExpression, _ options: JQOptions) -> String {
        do {
            _ = try JQProgram(expression.oceanProgram, options: options)
            return "does not compile"
        } catch { return error.message }
    }

    package func expand(_ record: JSON) -> Expansion {
        guard let program else {
            return .skipped("itemsToParse \(expression.source) does not compile: \(compileError ?? "")")
        }
        let result: JSON
        do {
            guard let output = try program.first(record) else { return .skipped("itemsToParse produced nothing") }
            result = output
        } catch {
            return .skipped("itemsToParse \(expression.source) failed: \(error)")
        }
        guard let parent = result[1], !parent.isNull else {
            return .skipped("the top-level transform removed the whole record, skipping it (itemsToParse \(expression.source) names no path to delete)")
        }
        guard let items = result[0], items.kind == .array else {
            let kind = result[0]?.kind.name ?? "null"
            return .skipped("itemsToParse \(expression.source) expected a list but got \(kind), skipping the record")
        }
        return .items(items.arrayElements.map { parent.setting(name, to: $0) })
    }

    /// The path Ocean deletes from the parent: the first simple path (`.a.b`, `.a[0]`, `.["x"]`)
    /// among the expression's pipe segments, skipping `. as $x`, `.` and `$var` segments.
    /// Like Ocean, it looks only inside the first parenthesised group when the expression starts
    /// with one, and splits on every `|`.
    static func deletionPath(_ source: String) -> String? {
        var chain = source.trimmingCharacters(in: .whitespacesAndNewlines)
        if chain.hasPrefix("(") {
            guard let close = chain.firstIndex(of: ")") else { return nil }
            chain = String(chain[chain.index(after: chain.startIndex)..<close]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for rawSegment in chain.split(separator: "|", omittingEmptySubsequences: false) {
            let segment = rawSegment.trimmingCharacters(in: .whitespacesAndNewlines)
            if segment.range(of: #"^\.\s+as\s+\$\w+"#, options: .regularExpression) != nil { continue }
            if segment == "." || segment.hasPrefix("$") { continue }
            let pattern = #"^(\.\w+|\.\[[^\]]+\])(\.\w+|\[[^\]]+\]|\.\[[^\]]+\])*"#
            if let range = segment.range(of: pattern, options: .regularExpression) {
                return String(segment[range]).trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
