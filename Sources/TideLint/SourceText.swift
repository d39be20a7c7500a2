import TideCore
import TideYAML

/// A file's text by lines of Unicode scalars (the unit of YAML columns), to place findings
/// inside a scalar: the `{{ … }}` of a template, the third line of a block-scalar jq program.
struct SourceText {
    let file: String
    let lines: [[Unicode.Scalar]]

    init(file: String, bytes: [UInt8]) {
        self.file = file
        var lines: [[Unicode.Scalar]] = [[]]
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            if scalar == "\n" { lines.append([]) } else if scalar != "\r" { lines[lines.count - 1].append(scalar) }
        }
        self.lines = lines
    }

    /// Where the character at `offset` (in Unicode scalars) of a scalar node's text was written.
    /// Falls back to the node's own position when the text cannot be traced back to the source.
    func location(of node: YAMLNode, offset: Int) -> SourceLocation {
        guard offset > 0 || node.scalar?.style != .plain, let positions = positions(of: node), offset < positions.count else {
            return node.location
        }
        return SourceLocation(file: node.location.file, line: positions[offset].line + 1, column: positions[offset].column + 1)
    }

    /// 0-based (line, column) of every scalar of the node's text, found by walking the source and
    /// the text side by side: equal characters pair up, a YAML escape pairs with what it means,
    /// and whitespace in the text pairs with any whitespace or line break (folding, indentation).
    func positions(of node: YAMLNode) -> [(line: Int, column: Int)]? {
        guard let scalar = node.scalar else { return nil }
        var line = node.location.line - 1, column = node.location.column - 1
        guard line >= 0, line < lines.count else { return nil }
        // Skip properties (`!!str`, `&anchor`) written before the value.
        while column < lines[line].count, lines[line][column] == "!" || lines[line][column] == "&" {
            while column < lines[line].count, lines[line][column] != " " { column += 1 }
            while column < lines[line].count, lines[line][column] == " " { column += 1 }
        }
        switch scalar.style {
        case .singleQuoted, .doubleQuoted: column += 1
        case .literal, .folded:
            line += 1
            column = 0
        case .plain: break
        }
        let text = Array(scalar.text.unicodeScalars)
        var result: [(line: Int, column: Int)] = []
        result.reserveCapacity(text.count)
        // A bound on skipped source characters, so a text that does not trace back cannot run away.
        var budget = text.count * 4 + 256
        for wanted in text {
            while true {
                guard line < lines.count, budget > 0 else { return nil }
                budget -= 1
                let row = lines[line]
                let (found, width) = character(at: column, in: row, style: scalar.style)
                let matches = found == wanted || (Self.isSpace(found) && Self.isSpace(wanted))
                let here = (line: line, column: column)
                if found == "\n" {
                    line += 1
                    column = 0
                } else {
                    column += width
                }
                if matches {
                    result.append(here)
                    break
                }
            }
        }
        return result
    }

    /// The character the source holds at `column` (a line end reads as "\n") and how many source
    /// characters it takes: YAML escapes in double quotes, `''` in single quotes.
    private func character(at column: Int, in row: [Unicode.Scalar], style: YAMLScalar.Style) -> (Unicode.Scalar, Int) {
        guard column < row.count else { return ("\n", 1) }
        let here = row[column]
        if style == .singleQuoted, here == "'", column + 1 < row.count, row[column + 1] == "'" { return ("'", 2) }
        guard style == .doubleQuoted, here == "\\", column + 1 < row.count else { return (here, 1) }
        let code = row[column + 1]
        func hex(_ digits: Int) -> (Unicode.Scalar, Int) {
            let end = min(row.count, column + 2 + digits)
            let text = String(String.UnicodeScalarView(row[(column + 2)..<end]))
            return (UInt32(text, radix: 16).flatMap(Unicode.Scalar.init) ?? "?", 2 + digits)
        }
        switch code {
        case "n": return ("\n", 2)
        case "t", "\t": return ("\t", 2)
        case "r": return ("\r", 2)
        case "0": return ("\0", 2)
        case "a": return ("\u{07}", 2)
        case "b": return ("\u{08}", 2)
        case "e": return ("\u{1B}", 2)
        case "f": return ("\u{0C}", 2)
        case "v": return ("\u{0B}", 2)
        case "N": return ("\u{85}", 2)
        case "_": return ("\u{A0}", 2)
        case "L": return ("\u{2028}", 2)
        case "P": return ("\u{2029}", 2)
        case "x": return hex(2)
        case "u": return hex(4)
        case "U": return hex(8)
        default: return (code, 2)  // \" \\ \/ and "\ " stand for themselves
        }
    }

    private static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r"
    }
}
