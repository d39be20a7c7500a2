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

    /// - Parameter pathSegments: for a URL path. Each `{{ … }}` value becomes one percent-encoded
    ///   segment, so a record's `../admin?x#` cannot change the path (a list gives one segment per
    ///   element); null is an error, never `/projects/null/…`. Literal text is kept as written.
    public init(_ source: TemplateSource, options: JQOptions = JQOptions(), pathSegments: Bool = false) throws(Diagnostic) {
        self.source = source
        let parts: [Part]
        do { parts = try Self.split(source.text) } catch {
            throw Diagnostic(at: source.location, "template \"\(source.text)\": \(error.message)", rule: "template")
        }
        isLiteral = !parts.contains { if case .expression = $0 { true } else { false } }
        // Definitions go on the first line, so libjq's line numbers stay the template's.
        let prefix = pathSegments ? Self.segmentDefinitions : ""
        func value(_ expression: String) -> String { pathSegments ? "(\(expression)\n) | __tide_segments" : expression }
        if case .expression(let only)? = parts.first, parts.count == 1 {
            keepsType = !pathSegments
            if !pathSegments, let steps = JSONPath.plainSteps(only) {
                program = JQProgram(value(only), plainPath: steps, options: options)  // `{{ .config.host }}`: no jq
            } else {
                program = try Self.compile(prefix + value(only), source: source, options: options)
            }
        } else if isLiteral {
            keepsType = false
            program = nil
        } else {
            keepsType = false
            let text = "\"" + parts.map { part in
                switch part {
                case .text(let text): JSONText.escaped(text)
                case .expression(let expression): "\\(\(value(expression))\n)"
                }
            }.joined() + "\""
            program = try Self.compile(prefix + text, source: source, options: options)
        }
    }

    /// jq that turns a path value into segments: strings percent-encoded as RFC 3986 unreserved
    /// bytes only (so `/`, `?`, `#` and `%` are escaped, and `.`/`..` become `%2E`s).
    static let segmentDefinitions = #"def __tide_segment: if type == "string" then (if . == "." then "%2E" elif . == ".." then "%2E%2E" else @uri end) elif type == "number" or type == "boolean" then tostring elif type == "null" then error("a value in the request path is null (a request path cannot hold null: is the field missing?)") else error("a value in the request path is \(type); give a string, a number or a list of segments") end; def __tide_segments: if type == "array" then map(__tide_segment) | join("/") else __tide_segment end; "#

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

    /// Drops what the program still holds of the last context (`JQProgram.releaseInput`).
    public func releaseInput() { program?.releaseInput() }

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

/// The one rule a `path` template must follow besides compiling: since each `{{ … }}` in a path is
/// one percent-encoded segment, a path cannot start with one (a whole path computed in jq would
/// be sent as a single segment, `/%2Fitems%2F42`).
public enum PathTemplate {
    public static func problem(_ text: String) -> (message: String, hint: String)? {
        guard text.trimmingCharacters(in: .whitespaces).hasPrefix("{{") else { return nil }
        return ("starts with {{ … }}, but each {{ … }} in a path is one percent-encoded segment, so a path computed whole would be sent as one segment",
                #"start it with "/" and give several segments as a list: '/{{ ["items", (.selector.id // empty)] }}'"#)
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
