import Foundation
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

    /// The file as it is now (the loader has just parsed it); nil when it cannot be read.
    init?(file: String) {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        self.init(file: file, bytes: [UInt8](data))
    }

    /// Where the character at `offset` (in Unicode scalars) of a scalar's text was written, the
    /// scalar being the model value `text` read from `location`. Falls back to `location` itself
    /// when the text cannot be traced back to the source.
    func location(of location: SourceLocation?, text: String, offset: Int) -> SourceLocation? {
        guard let location, location.file == file, let (style, positions) = positions(of: text, at: location),
              offset > 0 || style != .plain, offset < positions.count else {
            return location
        }
        return SourceLocation(file: location.file, line: positions[offset].line + 1, column: positions[offset].column + 1)
    }

    /// The style of the scalar written at (0-based) `line`, `column`, from its first character.
    private func style(line: Int, column: Int) -> YAMLScalar.Style {
        guard column < lines[line].count else { return .plain }
        switch lines[line][column] {
        case "\"": return .doubleQuoted
        case "'": return .singleQuoted
        case "|": return .literal
        case ">": return .folded
        default: return .plain
        }
    }

    /// 0-based (line, column) of every scalar of the text, found by walking the source and the
    /// text side by side: equal characters pair up, a YAML escape pairs with what it means, and
    /// whitespace in the text pairs with any whitespace or line break (folding, indentation).
    func positions(of text: String, at location: SourceLocation) -> (YAMLScalar.Style, [(line: Int, column: Int)])? {
        var line = location.line - 1, column = location.column - 1
        guard line >= 0, line < lines.count, column >= 0 else { return nil }
        // Skip properties (`!!str`, `&anchor`) written before the value.
        while column < lines[line].count, lines[line][column] == "!" || lines[line][column] == "&" {
            while column < lines[line].count, lines[line][column] != " " { column += 1 }
            while column < lines[line].count, lines[line][column] == " " { column += 1 }
        }
        let style = style(line: line, column: column)
        switch style {
        case .singleQuoted, .doubleQuoted: column += 1
        case .literal, .folded:
            line += 1
            column = 0
        case .plain: break
        }
        let text = Array(text.unicodeScalars)
        var result: [(line: Int, column: Int)] = []
        result.reserveCapacity(text.count)
        // A bound on skipped source characters, so a text that does not trace back cannot run away.
        var budget = text.count * 4 + 256
        for wanted in text {
            while true {
                guard line < lines.count, budget > 0 else { return nil }
                budget -= 1
                let row = lines[line]
                let (found, width) = character(at: column, in: row, style: style)
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
        return (style, result)
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
