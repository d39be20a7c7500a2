import Foundation
import TideCore
import TideFetch
import TideIntegration
import TideJQ
import TideMapping

/// What `tide record` does to every text it writes: secrets become placeholders, and chosen
/// fields (`record.scrub`, the built-in rules, `--scrub`) become made-up values.
///
/// A made-up value depends only on the value it replaces (within one recording), so one e-mail
/// address gets one fake in every body, request and setting, and identifiers and relations stay
/// consistent. Fakes come from a hash keyed per process (Swift's `Hasher`), so the same address
/// gets another fake in the next recording and a fake cannot be traced back by hashing guesses.
/// A fake keeps the JSON type: a string stays a string (an e-mail an e-mail, a URL a URL), a
/// number a number of as many digits; true, false and null are left as they are.
final class Scrubber {
    /// Names of members whose values are personal data, compared without case, `_` or `-`.
    static let defaultKeys = ["email", "emailAddress", "displayName", "avatarUrl", "avatarUrls", "avatar", "phone",
                              "phoneNumber", "mobile", "firstName", "lastName", "fullName"]
    /// Shorter values are replaced where they stand but not looked for elsewhere: "Al" would
    /// change unrelated words.
    static let propagationMinimum = 4

    private let keys: Set<String>
    private let paths: [JQExpression]
    private let emails: Bool
    /// Raw secrets and their placeholders, longest first.
    private let placeholders: [(secret: String, placeholder: String)]
    private let redactor: Redactor
    /// Original string → fake, and the fakes given, so a fake is never scrubbed again.
    private(set) var fakes: [String: String] = [:]
    private var given: Set<String> = []

    init(settings: RecordSettings, extraKeys: [String], defaults: Bool, redactor: Redactor, placeholders: [(String, String)]) {
        let names = settings.scrub.compactMap { rule -> String? in
            if case .key(let key) = rule.target { return key }
            return nil
        } + extraKeys + (defaults ? Self.defaultKeys : [])
        keys = Set(names.map(Self.normalized))
        paths = settings.scrub.compactMap { rule in
            if case .path(let expression) = rule.target { return expression }
            return nil
        }
        emails = defaults
        self.redactor = redactor
        self.placeholders = placeholders.sorted { $0.0.utf8.count > $1.0.utf8.count }.map { (secret: $0.0, placeholder: $0.1) }
    }

    static func normalized(_ key: String) -> String {
        key.lowercased().filter { $0 != "_" && $0 != "-" }
    }

    // MARK: Bodies

    /// A body with its chosen fields replaced, and secrets and e-mail addresses in every string.
    func scrub(_ body: RecordedJSON, isResponse: Bool) -> RecordedJSON {
        var body = body
        if isResponse, !paths.isEmpty, let parsed = try? JSON(parsing: body.text(pretty: false)) {
            for expression in paths {
                guard let program = try? JQProgram("[path(\(expression.source)\n)]"), let found = try? program.first(parsed) else { continue }
                for path in found.arrayElements {
                    let steps: [FetchRecording.PathStep] = path.arrayElements.compactMap { step in
                        if let key = step.stringValue { return FetchRecording.PathStep.key(key) }
                        return step.numberValue.map { FetchRecording.PathStep.index(Int($0)) }
                    }
                    guard steps.count == path.arrayElements.count, let value = body.value(at: steps[...]) else { continue }
                    _ = body.set(fake(value), at: steps[...])
                }
            }
        }
        return body.rewritten { value, key, _ in
            if let key, keys.contains(Self.normalized(key)) { return fake(value) }
            if case .string(let text) = value { return .string(scrub(text)) }
            return nil
        }
    }

    /// A made-up value of the same JSON type, for a value chosen whole.
    func fake(_ value: RecordedJSON) -> RecordedJSON {
        switch value {
        case .string(let text): return .string(fakeString(text))
        case .number(let text): return .number(fakeNumber(text))
        case .array(let elements): return .array(elements.map(fake))
        case .object(let members): return .object(members.map { ($0.key, fake($0.value)) })
        case .null, .bool: return value
        }
    }

    // MARK: Text

    /// Secrets replaced by their placeholders (any other form of one masked), then e-mail
    /// addresses by fakes. Text that holds neither is returned as it is.
    func scrub(_ text: String) -> String {
        var text = secretsReplaced(text)
        if emails, text.contains("@") {
            text = text.replacing(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/) { match in
                let address = String(match.output)
                return given.contains(address) ? address : fakeString(address)
            }
        }
        return text
    }

    func secretsReplaced(_ text: String) -> String {
        guard redactor.containsSecret(text) else { return text }
        var text = text
        for (secret, placeholder) in placeholders {
            text = Self.replacing(secret, with: placeholder, in: text)
        }
        // A secret in a form no placeholder stands for (base64, percent-encoded): masked.
        return redactor.containsSecret(text) ? redactor.redact(text) : text
    }

    /// Every value replaced so far, wherever else it appears in `text` (a login inside a URL, a
    /// name inside a JQL query), so the written files never show it; e-mails and secrets too.
    func propagate(_ text: String) -> String {
        var text = scrub(text)
        for (original, fake) in fakes.sorted(by: { $0.key.utf8.count > $1.key.utf8.count })
        where original.utf8.count >= Self.propagationMinimum && text.contains(original) {
            text = Self.replacing(original, with: fake, in: text)
        }
        return text
    }

    /// `target` replaced where it stands: anywhere when it is 8 bytes or more, else only as a
    /// whole word, as the redactor matches (so a short value never changes part of a word).
    static func replacing(_ target: String, with replacement: String, in text: String) -> String {
        guard !target.isEmpty, text.contains(target) else { return text }
        if target.utf8.count >= Redactor.substringMinimum { return text.replacingAll(target, with: replacement) }
        func isWord(_ character: Character?) -> Bool { character.map { $0.isLetter || $0.isNumber } ?? false }
        var result = ""
        var rest = text[...]
        while let range = rest.range(of: target) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            let bounded = !(isWord(target.first) && isWord(before)) && !(isWord(target.last) && isWord(after))
            result += rest[..<range.lowerBound]
            result += bounded ? replacement : String(rest[range])
            rest = rest[range.upperBound...]
        }
        return result + rest
    }

    // MARK: Fakes

    private func hash(_ text: String, salt: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(salt)
        hasher.combine(text)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    func fakeString(_ original: String) -> String {
        if let known = fakes[original] { return known }
        if given.contains(original) || original.isEmpty { return original }
        var attempt = 0
        var fake: String
        repeat {
            let code = String(hash(original, salt: "string\(attempt)") & 0xFFFF_FFFF, radix: 16)
            let tag = String(repeating: "0", count: 8 - code.count) + code
            if original.hasPrefix("http://") || original.hasPrefix("https://") {
                fake = "https://example.com/scrubbed/\(tag)"
            } else if original.wholeMatch(of: /[^@\s\/?]+@[^@\s\/?]+\.[A-Za-z]{2,}/) != nil {
                fake = "user-\(tag)@example.com"
            } else if original.wholeMatch(of: /\+?[0-9 ()\-.]{6,}/) != nil {
                fake = "+1 555 0" + String(hash(original, salt: "phone\(attempt)") % 1_000_000)
            } else {
                fake = "scrubbed-\(tag)"
            }
            attempt += 1
        } while given.contains(fake) && attempt < 100
        fakes[original] = fake
        given.insert(fake)
        return fake
    }

    /// As many digits (and the same sign, fraction and exponent shape), so an integer stays an integer.
    func fakeNumber(_ text: String) -> String {
        var seed = hash(text, salt: "number")
        var out = ""
        var leading = true
        for character in text {
            if character.isNumber {
                var digit = Int(seed % 10)
                seed = seed / 10 &+ 7_919
                if leading, digit == 0 { digit = 1 }
                leading = false
                out.append(Character(String(digit)))
            } else {
                if character == "." || character == "e" || character == "E" { leading = true }
                out.append(character)
            }
        }
        return out
    }
}
