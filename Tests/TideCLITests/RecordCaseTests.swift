import Foundation
import Testing
import TideCore
import TideTesting

/// What `tide record` writes beyond the pages: the case's sample past --max-entities, and a token
/// the run learned from a login, which must be in no written byte.
@Suite(.timeLimit(.minutes(3)))
struct RecordCaseTests {
    /// Two kinds, offset-paginated two a page, with many more records than two pages hold.
    static let twoKinds = """
        name: acme
        configuration:
          - {name: apiUrl, type: url, required: true}
        http:
          baseUrl: "{{ .config.apiUrl }}"
        kinds:
          item:
            request: {path: /items}
            records: .
            pagination: {type: offset, limit: 3}
          tag:
            request: {path: /tags}
            records: .
            pagination: {type: offset, limit: 3}
        """

    @Test func pastMaxEntitiesTheCaseListsASampleOfEachBlueprintAndEveryCount() async throws {
        let folder = try RecordingFolder(integrationYAML: Self.twoKinds, resources: [("item", "acmeItem"), ("tag", "acmeTag")])
        defer { folder.remove() }
        let server = try await TestHTTPServer.start { request in
            let kind = request.path == "/api/v2/items" ? "item" : request.path == "/api/v2/tags" ? "tag" : ""
            guard !kind.isEmpty else { return .json(#"{"error": "no such path"}"#, status: 404) }
            let offset = Int(request.queryValue("offset") ?? "0") ?? 0
            return jsonResponse((offset..<min(offset + 3, 20)).map { ["id": "\(kind)-\($0)", "title": "\(kind) \($0)"] })
        }
        // Two pages of three per kind: 12 entities, 5 allowed, so two of each blueprint.
        let result = try await folder.record(server, ["--max-entities", "5"])
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("the case lists 4 of 12 entities"), "\(result.stdout)")

        let testCase = try folder.testCase
        let lines = testCase.split(separator: "\n").map(String.init)
        #expect(lines.contains("  subset: true"), "\(testCase)")
        #expect(lines.contains(#"  counts: {"acmeItem": 6, "acmeTag": 6}"#), "\(testCase)")
        let listed = lines.filter { $0.hasPrefix("    - ") }
        #expect(listed.count == 4, "\(testCase)")
        #expect(listed.filter { $0.contains(#""blueprint": "acmeItem""#) }.count == 2, "\(listed)")
        #expect(listed.filter { $0.contains(#""blueprint": "acmeTag""#) }.count == 2, "\(listed)")

        let test = try await folder.replay()
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.lines.last == "1 of 1 case passed", "\(test.stdout)")

        // The counts are checked, not only written: one more entity than recorded fails the case.
        try testCase.replacingOccurrences(of: #""acmeTag": 6"#, with: #""acmeTag": 7"#)
            .write(to: folder.integration.appendingPathComponent("tests/recorded.yml"), atomically: true, encoding: .utf8)
        let wrong = try await folder.replay()
        #expect(wrong.status != 0, "\(wrong.stdout)")
    }

    // MARK: A learned token

    static let password = "pw-live-3e9d1c7b5a"
    /// Characters that change when percent-encoded, so every form differs.
    static let learnedToken = "lrn-8c1f0e9b/7a6d+5c4b3a29"

    static let loginIntegration = """
        name: acme
        configuration:
          - {name: apiUrl, type: url, required: true}
          - {name: username, type: string, required: true}
          - {name: password, type: string, required: true, sensitive: true}
        http:
          baseUrl: "{{ .config.apiUrl }}"
          auth:
            type: login
            request:
              method: POST
              path: /session
              body: {user: "{{ .config.username }}", password: "{{ .config.password }}"}
            token: .session.token
        kinds:
          item:
            request: {path: /items}
            records: .data
            pagination: {type: cursor, cursor: .next, param: cursor}
        """

    @Test func aTokenLearnedFromALoginIsInNoWrittenByteAndTheRecordingReplays() async throws {
        let folder = try RecordingFolder(integrationYAML: Self.loginIntegration, resources: [("item", "acmeItem")])
        defer { folder.remove() }
        let logins = Locked(0)
        let server = try await TestHTTPServer.start { request in
            if request.path == "/api/v2/session" {
                let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
                guard request.method == "POST", body["user"] as? String == "ada", body["password"] as? String == Self.password else {
                    return .json(#"{"error": "bad credentials"}"#, status: 401)
                }
                logins.withLock { $0 += 1 }
                return jsonResponse(["session": ["token": Self.learnedToken, "user": "ada"]])
            }
            guard request.header("Authorization") == "Bearer \(Self.learnedToken)" else { return .json(#"{"error": "bad token"}"#, status: 401) }
            guard request.path == "/api/v2/items" else { return .json(#"{"error": "no such path"}"#, status: 404) }
            let start = Int(request.queryValue("cursor") ?? "0") ?? 0
            let items = (start..<(start + 2)).map { ["id": "item-\($0)", "title": "Item \($0)"] }
            // The API echoes the token raw, base64-encoded and percent-encoded inside a URL.
            // (Foundation's .alphanumerics encoding, and Python's quote, which keeps "/").
            let encoded = Self.learnedToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let quoted = Self.learnedToken.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "-._~/").union(.alphanumerics))!
            return jsonResponse(["data": items, "next": String(start + 2), "echo": "Bearer \(Self.learnedToken)",
                                 "trace": Data(Self.learnedToken.utf8).base64EncodedString(),
                                 "self": "\(origin(of: request))/api/v2/items?access_token=\(encoded)",
                                 "python": "\(origin(of: request))/api/v2/items?sig=\(quoted)"])
        }
        let result = try await folder.record(server, ["--config", "username=ada"],
                                             environment: ["OCEAN__INTEGRATION__CONFIG__PASSWORD": Self.password])
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(logins.current >= 1)
        #expect(!result.stdout.contains(Self.learnedToken) && !result.stderr.contains(Self.learnedToken))

        // No form of the token or the password in any byte written.
        let files = folder.writtenFiles
        #expect(files.count == 6, "\(files)") // fixtures.yml, config.yml, three bodies (the login, two pages), the case
        var compared = 0
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for value in [Self.learnedToken, Self.password] {
                let quoted = value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "-._~/").union(.alphanumerics))!
                for form in RecordCommandTests.forms(value) + [quoted] {
                    compared += 1
                    #expect(!text.contains(form), "\(file.lastPathComponent) holds \(form)")
                }
            }
        }
        #expect(compared == files.count * 2 * 6)

        // Where the replay needs it, a placeholder: the login's answer gives the replay a token,
        // and its request is matched with the password's placeholder from config.yml.
        let bodies = try folder.bodies()
        let sessions = bodies.values.compactMap { ($0 as? [String: Any])?["session"] as? [String: Any] }
        #expect(sessions.count == 1)
        let session = try #require(sessions.first)
        let placeholder = try #require(session["token"] as? String)
        #expect(placeholder.wholeMatch(of: /recorded-secret-[0-9]+/) != nil, "\(session)")
        let pages = bodies.values.compactMap { $0 as? [String: Any] }.filter { $0["data"] != nil }
        #expect(pages.count == 2)
        for page in pages {
            // The header as sent ("Bearer …") is a secret of its own, with its own placeholder.
            #expect((page["echo"] as? String)?.wholeMatch(of: /(Bearer )?recorded-secret-[0-9]+/) != nil, "\(page)")
            #expect(page["trace"] as? String == "***", "\(page)")
            #expect((page["self"] as? String)?.hasSuffix("?access_token=***") == true, "\(page)")
            #expect((page["python"] as? String)?.hasSuffix("?sig=***") == true, "\(page)")
        }
        let index = try folder.fixturesIndex
        #expect(index.contains(#""password": "recorded-password-placeholder""#), "\(index)")
        let config = try String(contentsOf: folder.fixtures.appendingPathComponent("config.yml"), encoding: .utf8)
        #expect(config.contains(#""password": "recorded-password-placeholder""#), "\(config)")

        let test = try await folder.replay()
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.lines.last == "1 of 1 case passed", "\(test.stdout)")
        #expect(try folder.testCase.contains(#""acmeItem": 4"#))
    }
}
