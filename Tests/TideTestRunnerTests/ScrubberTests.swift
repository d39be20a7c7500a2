import Foundation
import Testing
import TideCore
import TideFetch
import TideIntegration
import TideMapping
@testable import TideTestRunner

/// `tide record`'s scrubbing, value by value: made-up values that depend only on what they
/// replace (within a recording), keep the JSON type and shape, and nothing else touched.
@Suite struct ScrubberTests {
    static let secret = "tok-live-7f3a9c2e81d4b6"

    static func scrubber(keys: [String] = [], defaults: Bool = true, paths: [String] = []) -> Scrubber {
        var settings = RecordSettings()
        settings.scrub = paths.map { RecordSettings.ScrubRule(.path(JQExpression($0))) }
        return Scrubber(settings: settings, extraKeys: keys, defaults: defaults, redactor: Redactor(secrets: [secret]),
                        placeholders: [(secret, "recorded-token-placeholder")])
    }

    static func json(_ text: String) throws -> RecordedJSON { try #require(RecordedJSON.parse(text)) }

    static func string(_ json: RecordedJSON?) -> String? {
        if case .string(let text)? = json { return text }
        return nil
    }

    @Test func oneValueGetsOneFakeWhereverItAppearsAndTwoValuesTwo() throws {
        let scrubber = Self.scrubber()
        let first = scrubber.scrub(try Self.json(#"{"emailAddress": "ada@acme.test", "note": "write to ada@acme.test or grace@acme.test"}"#), isResponse: true)
        let second = scrubber.scrub(try Self.json(#"[{"email": "ada@acme.test"}, {"email": "grace@acme.test"}]"#), isResponse: true)
        let ada = try #require(Self.string(first.value(at: [.key("emailAddress")])))
        #expect(ada.wholeMatch(of: /user-[0-9a-f]{8}@example\.com/) != nil, "\(ada)")
        #expect(Self.string(second.value(at: [.index(0), .key("email")])) == ada)
        let grace = try #require(Self.string(second.value(at: [.index(1), .key("email")])))
        #expect(grace != ada && grace.wholeMatch(of: /user-[0-9a-f]{8}@example\.com/) != nil, "\(grace)")
        // Addresses inside other text are replaced by the same fakes, the words around them kept.
        #expect(Self.string(first.value(at: [.key("note")])) == "write to \(ada) or \(grace)")
        // A fake is never scrubbed again, and the map holds one fake per original.
        #expect(scrubber.scrub(ada) == ada)
        #expect(scrubber.fakes.count == 2, "\(scrubber.fakes)")
        // Another scrubber of the same process gives the same fake: it depends on the value only.
        #expect(Self.scrubber().fakeString("ada@acme.test") == ada)
    }

    @Test func aFakeKeepsTheJSONTypeAndShape() throws {
        let scrubber = Self.scrubber(keys: ["employee"])
        let body = try Self.json("""
            {"employee": {"id": 12345678, "ratio": -0.25, "big": 98765432109876543210, "exp": 1.5e10, "active": true, "manager": null,
             "home": "https://people.acme.test/ada", "mail": "ada@acme.test", "phone": "+44 20 7946 0958", "login": "ada",
             "tags": ["x1", "x2"]}}
            """)
        let scrubbed = scrubber.scrub(body, isResponse: true)
        guard case .object(let members)? = scrubbed.value(at: [.key("employee")]) else { Issue.record("\(scrubbed)"); return }
        #expect(members.map(\.key) == ["id", "ratio", "big", "exp", "active", "manager", "home", "mail", "phone", "login", "tags"])
        var compared = 0
        for (key, value) in members {
            let original = try #require(body.value(at: [.key("employee"), .key(key)]))
            compared += 1
            switch (original, value) {
            case let (.number(before), .number(after)):
                // As many digits, in the same places: the sign, point and exponent where they were.
                #expect(after.count == before.count, "\(key): \(before) → \(after)")
                #expect(after.map { $0.isNumber } == before.map { $0.isNumber }, "\(key): \(before) → \(after)")
                #expect(after.filter { !$0.isNumber } == before.filter { !$0.isNumber }, "\(key): \(before) → \(after)")
                #expect(after.first != "0" || before.first == "0", "\(key): \(after)")
                #expect(Double(after) != nil, "\(key): \(after)")
            case (.bool, .bool), (.null, .null):
                #expect(value == original, "\(key)")
            case let (.string(before), .string(after)):
                #expect(after != before, "\(key)")
                switch key {
                case "home": #expect(after.wholeMatch(of: /https:\/\/example\.com\/scrubbed\/[0-9a-f]{8}/) != nil, "\(after)")
                case "mail": #expect(after.wholeMatch(of: /user-[0-9a-f]{8}@example\.com/) != nil, "\(after)")
                case "phone": #expect(after.hasPrefix("+1 555 0"), "\(after)")
                default: #expect(after.wholeMatch(of: /scrubbed-[0-9a-f]{8}/) != nil, "\(key): \(after)")
                }
            case let (.array(before), .array(after)):
                #expect(after.count == before.count && after != before, "\(key)")
            default:
                Issue.record("\(key): \(original) became \(value), another type")
            }
        }
        #expect(compared == 11)
        // The same number gets the same fake, another number another.
        #expect(scrubber.fakeNumber("12345678") == scrubber.fakeNumber("12345678"))
        #expect(scrubber.fakeNumber("12345678") != scrubber.fakeNumber("12345679"))
    }

    @Test func textThatIsNoSecretAndNoChosenFieldIsLeftByteIdentical() throws {
        let scrubber = Self.scrubber()
        let text = #"{"id": 9007199254740993, "price": 1.10, "name": "Grüße, 東京 \u00e9", "url": "https://acme.test/a?b=c", "at": "@home", "list": [1, 2.0, -0, 1E3], "nested": {"z": null, "a": false}}"#
        let body = try Self.json(text)
        let scrubbed = scrubber.scrub(body, isResponse: true)
        #expect(scrubbed == body)
        #expect(scrubbed.text(pretty: false) == body.text(pretty: false))
        #expect(scrubber.fakes.isEmpty)
        var compared = 0
        for line in ["plain words", "user@localhost has no domain", "tok-live-7f3a9c2e81d4b", "a/b?c=d&e=f", "", "  spaced  ", "名前"] {
            compared += 1
            #expect(scrubber.scrub(line) == line, "\(line)")
            #expect(scrubber.propagate(line) == line, "\(line)")
        }
        #expect(compared == 7)
        // Without the built-in rules, members named like personal data and e-mail addresses stay.
        let plain = Self.scrubber(defaults: false)
        let personal = try Self.json(#"{"email": "ada@acme.test", "displayName": "Ada Lovelace", "note": "mail ada@acme.test"}"#)
        #expect(plain.scrub(personal, isResponse: true) == personal)
    }

    @Test func secretsBecomeTheirPlaceholderAndOtherFormsAreMasked() throws {
        let scrubber = Self.scrubber()
        let base64 = Data(Self.secret.utf8).base64EncodedString()
        let body = try Self.json(#"{"auth": "Bearer \#(Self.secret)", "trace": "\#(base64)", "link": "https://acme.test/x?t=\#(Self.secret)&page=2"}"#)
        let scrubbed = scrubber.scrub(body, isResponse: false)
        #expect(Self.string(scrubbed.value(at: [.key("auth")])) == "Bearer recorded-token-placeholder")
        #expect(Self.string(scrubbed.value(at: [.key("trace")])) == Redactor.mask)
        #expect(Self.string(scrubbed.value(at: [.key("link")])) == "https://acme.test/x?t=recorded-token-placeholder&page=2")
        #expect(!scrubbed.text().contains(Self.secret) && !scrubbed.text().contains(base64))
    }

    @Test func aValueReplacedOnceIsReplacedInsideOtherTextButShortOnesOnlyWhereTheyStand() throws {
        let scrubber = Self.scrubber(keys: ["login"])
        let body = scrubber.scrub(try Self.json(#"[{"login": "aturing"}, {"login": "al"}]"#), isResponse: true)
        let long = try #require(Self.string(body.value(at: [.index(0), .key("login")])))
        let short = try #require(Self.string(body.value(at: [.index(1), .key("login")])))
        #expect(long != "aturing" && short != "al")
        #expect(scrubber.propagate("/users/aturing/repos") == "/users/\(long)/repos")
        // "al" (under propagationMinimum) is not looked for elsewhere: "always" and "/al/" stay.
        #expect(scrubber.propagate("always /al/") == "always /al/")
    }

    @Test func aPathRuleReplacesOnlyWhatItNames() throws {
        let scrubber = Self.scrubber(defaults: false, paths: [".values[].owner.name"])
        let body = try Self.json(#"{"values": [{"owner": {"name": "Ada", "id": 7}}, {"owner": {"name": "Grace", "id": 8}}], "name": "Ada"}"#)
        let scrubbed = scrubber.scrub(body, isResponse: true)
        #expect(Self.string(scrubbed.value(at: [.key("values"), .index(0), .key("owner"), .key("name")])) != "Ada")
        #expect(Self.string(scrubbed.value(at: [.key("values"), .index(1), .key("owner"), .key("name")])) != "Grace")
        #expect(scrubbed.value(at: [.key("values"), .index(0), .key("owner"), .key("id")]) == .number("7"))
        #expect(scrubbed.value(at: [.key("name")]) == .string("Ada"))
        // Requests are not matched against response paths.
        #expect(scrubber.scrub(body, isResponse: false) == body)
    }
}
