import Foundation
import Testing
import TideCore

@Suite struct RedactorTests {
    @Test func shortSecretsNeverAlterOtherWords() {
        let redactor = Redactor(secrets: ["t", "ab", "e"])
        let texts = [
            "identifier: project[0]: fetching table abc",
            #"{"identifier":"PROJ-1","title":"tablet"}"#,
            "kind \"issue\", page 3: GET https://example.atlassian.net/rest/api/3/search",
        ]
        for text in texts { #expect(redactor.redact(text) == text) }
        // Where the value stands as a word of its own, it is the secret and goes.
        #expect(redactor.redact("token=ab; user t") == "token=***; user ***")
        #expect(redactor.shortSecrets.sorted() == ["ab", "e", "t"])
        #expect(texts.count == 3)
    }

    @Test func longSecretsGoWhereverTheyAreInEveryEncoding() {
        let secret = #"s3cr3t/T0KEN+"quoted"="#
        let redactor = Redactor(secrets: [secret])
        let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let jsonEscaped = String(decoding: try! JSONSerialization.data(withJSONObject: [secret]), as: UTF8.self)
        let base64 = Data(secret.utf8).base64EncodedString()
        let forms = [secret, encoded, jsonEscaped, base64, "glued\(secret)glued"]
        var compared = 0
        for form in forms {
            let out = redactor.redact("before \(form) after")
            #expect(!out.contains("s3cr3t") && !out.contains("czNjcjN0"), "\(form) → \(out)")
            #expect(out.hasPrefix("before ") && out.hasSuffix(" after"))
            compared += 1
        }
        #expect(compared == forms.count)
    }

    /// Encoders disagree on what to leave: RFC 3986 keeps `-._~`, Python's quote keeps `/` too,
    /// Foundation's .alphanumerics keeps only letters and digits. Every form is masked.
    @Test func aSecretIsMaskedHoweverItWasPercentEncoded() {
        let secret = "lrn-8c1f.0e9b/7a6d+5c4b_3a29"
        let redactor = Redactor(secrets: [secret])
        let keeps: [CharacterSet] = [CharacterSet(charactersIn: "-._~"), CharacterSet(charactersIn: "-._~/"), CharacterSet()]
        var forms: Set<String> = []
        for kept in keeps { forms.insert(secret.addingPercentEncoding(withAllowedCharacters: kept.union(.alphanumerics))!) }
        #expect(forms.count == 3)
        // The same with lower-case hex digits (%2f), which RFC 3986 allows and some encoders write.
        for form in Array(forms) { forms.insert(form.replacing(/%[0-9A-F]{2}/) { $0.output.lowercased() }) }
        #expect(forms.count == 6)
        for form in forms {
            #expect(redactor.redact("?sig=\(form)&page=2") == "?sig=***&page=2", "\(form)")
        }
        // Text that only looks like an escape is left alone.
        #expect(redactor.redact("100%2fine and %2F") == "100%2fine and %2F")
    }

    @Test func excerptsAreCutAfterRedactionSoNoPrefixLeaks() {
        let secret = Data("me@example.com:api-token-0123456789".utf8).base64EncodedString()
        let redactor = Redactor(secrets: [secret])
        var compared = 0
        // Put the secret across the cut at every offset around it.
        for padding in 470...500 {
            let text = String(repeating: "x", count: padding) + "Authorization: Basic " + secret + " and more"
            let excerpt = redactor.excerpt(text, limit: 500)
            for length in 4...secret.count {
                #expect(!excerpt.contains(secret.prefix(length)), "padding \(padding): \(excerpt.suffix(40))")
            }
            #expect(excerpt.utf8.count <= 500 + "…".utf8.count)
            compared += 1
        }
        #expect(compared == 31)
    }

    @Test func redactedJSONStaysValidJSON() throws {
        let redactor = Redactor(secrets: ["1234567890123", "tok-abcdef-ghijkl", "ab"])
        let text = #"{"identifier":"x","properties":{"n":1234567890123,"s":"Bearer tok-abcdef-ghijkl","k":"ab","t":"table","m":-12.5e3}}"#
        let out = redactor.redactJSON(text)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let properties = try #require(object["properties"] as? [String: Any])
        #expect(properties["n"] as? String == "***")
        #expect(properties["s"] as? String == "Bearer ***")
        #expect(properties["k"] as? String == "***")
        #expect(properties["t"] as? String == "table")
        #expect(properties["m"] as? Double == -12500)
        #expect(object["identifier"] as? String == "x")
    }

    @Test func aStoreLearnsSecretsForEveryReader() {
        let store = SecretStore(["configured-secret-1"])
        let before = store.redactor
        store.add(["learned-token-abcdef"])
        #expect(before.redact("learned-token-abcdef") == "learned-token-abcdef")
        #expect(store.redact("configured-secret-1 learned-token-abcdef") == "*** ***")
    }
}
