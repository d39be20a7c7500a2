import Foundation
import TideCore
import TideJQ

/// A `{{ jq }}` template compiled into one jq program.
///
/// `"{{ .config.host }}/api"` compiles to the jq string `"\(.config.host)/api"`; a template that is
/// exactly one `{{ … }}` compiles to the expression itself, so its result keeps its JSON type.
/// Not thread-safe (it owns a jq program).
public final class CompiledTemplate {
    public let source: TemplateSource
    /// True when the template is a single expression whose JSON type is kept.
    public let keepsType: Bool
    /// True when the text has no `{{ … }}` at all: rendering returns it unchanged, without jq.
    public let isLiteral: Bool
    private let program: JQProgram?

    public init(_ source: TemplateSource, options: JQOptions = JQOptions()) throws(Diagnostic) {
        self.source = source
        let parts: [Part]
        do { parts = try Self.split(source.text) } catch {
            throw Diagnostic(at: source.location, "template \"\(source.text)\": \(error.message)", rule: "template")
        }
        isLiteral = !parts.contains { if case .expression = $0 { true } else { false } }
        if case .expression(let only)? = parts.first, parts.count == 1 {
            keepsType = true
            program = try Self.compile(only, source: source, options: options)
        } else if isLiteral {
            keepsType = false
            program = nil
        } else {
            keepsType = false
            let text = "\"" + parts.map { part in
                switch part {
                case .text(let text): JSONText.escaped(text)
                case .expression(let expression): "\\(\(expression)\n)"
                }
            }.joined() + "\""
            program = try Self.compile(text, source: source, options: options)
        }
    }

    private static func compile(_ text: String, source: TemplateSource, options: JQOptions) throws(Diagnostic) -> JQProgram {
        do { return try JQProgram(text, options: options) } catch {
            throw Diagnostic(at: source.location, "template \"\(source.text)\" does not compile: \(error.message)", rule: "jq-compile")
        }
    }

    /// The result for this context; nil when it is null (the caller drops the parameter).
    public func render(_ context: JSON) throws(TemplateError) -> JSON? {
        guard let program else { return JSON(source.text) }
        let value: JSON?
        do { value = try program.first(context) } catch {
            throw TemplateError(template: source, message: error.description)
        }
        guard let value, !value.isNull else { return nil }
        return value
    }

    /// The result as text: strings as they are, anything else as JSON; nil for null.
    public func renderString(_ context: JSON) throws(TemplateError) -> String? {
        guard let value = try render(context) else { return nil }
        return value.stringValue ?? value.serialized()
    }

    enum Part {
        case text(String)
        case expression(String)
    }

    struct SplitError: Error { var message: String }

    /// Splits text into literal runs and `{{ … }}` expressions. An expression ends at the first
    /// `}}` outside jq string literals and outside braces it opened, so `{{ {a: {b: 1}} }}` works.
    static func split(_ text: String) throws(SplitError) -> [Part] {
        var parts: [Part] = []
        var literal = ""
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            if characters[index] == "{", index + 1 < characters.count, characters[index + 1] == "{" {
                var cursor = index + 2
                var depth = 0
                var inString = false
                var expression = ""
                var closed = false
                while cursor < characters.count {
                    let character = characters[cursor]
                    if inString {
                        expression.append(character)
                        if character == "\\", cursor + 1 < characters.count {
                            expression.append(characters[cursor + 1])
                            cursor += 2
                            continue
                        }
                        if character == "\"" { inString = false }
                    } else if character == "\"" {
                        inString = true
                        expression.append(character)
                    } else if character == "{" {
                        depth += 1
                        expression.append(character)
                    } else if character == "}" {
                        if depth == 0, cursor + 1 < characters.count, characters[cursor + 1] == "}" {
                            closed = true
                            break
                        }
                        depth -= 1
                        expression.append(character)
                    } else {
                        expression.append(character)
                    }
                    cursor += 1
                }
                guard closed else { throw SplitError(message: "a {{ has no matching }}") }
                let trimmed = expression.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { throw SplitError(message: "{{ }} holds no expression") }
                if !literal.isEmpty { parts.append(.text(literal)) }
                literal = ""
                parts.append(.expression(trimmed))
                index = cursor + 2
            } else {
                literal.append(characters[index])
                index += 1
            }
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        return parts
    }
}

public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public var template: TemplateSource
    public var message: String
    public var description: String {
        let place = template.location.map { "\($0): " } ?? ""
        return "\(place)template \"\(template.text)\" failed: \(message)"
    }
}

