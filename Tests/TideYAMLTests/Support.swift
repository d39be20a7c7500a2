import TideCore
import TideYAML

let testFile = "test.yml"

func load(_ text: String, limits: YAMLLimits = .default) throws(Diagnostic) -> YAMLNode {
    try YAML.parse(text, file: testFile, limits: limits)
}

/// The Diagnostic a document fails with, or nil when it loads.
func failure(_ text: String, limits: YAMLLimits = .default) -> Diagnostic? {
    do {
        _ = try YAML.parse(text, file: testFile, limits: limits)
        return nil
    } catch {
        return error
    }
}

func failure(bytes: [UInt8]) -> Diagnostic? {
    do {
        _ = try YAML.parse(bytes: bytes, file: testFile)
        return nil
    } catch {
        return error
    }
}

func loc(_ line: Int, _ column: Int, file: String = testFile) -> SourceLocation {
    SourceLocation(file: file, line: line, column: column)
}
