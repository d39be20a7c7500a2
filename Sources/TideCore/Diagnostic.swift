/// One finding about a user's input: where, how bad, what, and which rule said so.
/// Every user-facing error in Tide is rendered through this type so they all read alike.
public struct Diagnostic: Error, Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Comparable {
        case error, warning, note
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int { switch self { case .error: 0; case .warning: 1; case .note: 2 } }
    }

    public var location: SourceLocation?
    public var severity: Severity
    public var message: String
    /// A stable identifier such as `yaml-syntax` or `jq-compile`, for filtering and docs.
    public var rule: String
    /// What the user can do about it, when the message alone does not say.
    public var hint: String?

    public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String,
                rule: String, hint: String? = nil) {
        self.location = location
        self.severity = severity
        self.message = message
        self.rule = rule
        self.hint = hint
    }

    /// `file:line:col: error: message [rule]`, the format compilers use and editors parse.
    public var description: String {
        var text = ""
        if let location { text += "\(location): " }
        text += "\(severity.rawValue): \(message) [\(rule)]"
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        switch (a.location, b.location) {
        case let (x?, y?) where x != y: return x < y
        case (nil, _?): return true
        case (_?, nil): return false
        default: return (a.severity, a.rule, a.message) < (b.severity, b.rule, b.message)
        }
    }
}

/// Several diagnostics raised together (a file with three bad keys reports all three).
public struct Diagnostics: Error, Sendable, CustomStringConvertible {
    public var items: [Diagnostic]
    public init(_ items: [Diagnostic]) { self.items = items.sorted() }
    public var description: String { items.map(\.description).joined(separator: "\n") }
    public var hasErrors: Bool { items.contains { $0.severity == .error } }
}
