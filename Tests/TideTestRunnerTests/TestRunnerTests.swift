import Foundation
import Testing
import TideTestRunner

/// The runner on small throwaway integrations: what a failing case reports.
@Suite struct TestRunnerTests {
    /// An integration with one kind, `item`, over `/items` (one page), mapped to `widget` entities.
    func integration(cases: [String: String]) throws -> String {
        let files: [String: String] = [
            "integration.yml": """
            name: widgets
            configuration:
              - {name: apiUrl, type: url, required: true}
            http:
              baseUrl: "{{ .config.apiUrl }}"
            kinds:
              item:
                selector:
                  color: {type: string, default: any}
                request:
                  path: /items
                  query: {color: "{{ .selector.color }}"}
                records: .items
            """,
            ".port/resources/port-app-config.yml": """
            resources:
              - kind: item
                selector: {query: 'true'}
                port:
                  entity:
                    mappings:
                      identifier: .id
                      title: .name
                      blueprint: '"widget"'
                      properties: {size: .size, color: .color}
            """,
            "fixtures/config.yml": "apiUrl: https://api.example.com\n",
            "fixtures/items.json": #"{"items": [{"id": "w1", "name": "One", "size": 3, "color": "red"}, {"id": "w2", "name": "Two", "size": 5, "color": "blue"}]}"#,
        ]
        return try writeIntegration(files, cases: cases)
    }

    static let itemsFixture = """
        fixtures:
          - name: items
            request: {path: /items, query: {color: any}}
            response: {body: ../fixtures/items.json}
        """

    func run(_ text: String) async throws -> TestCaseResult {
        try await runOnlyCase(in: try integration(cases: ["case": text]))
    }

    @Test func anExactListThatMatchesPasses() async throws {
        let result = try await run(Self.itemsFixture + """

            expect:
              entities:
                - {blueprint: widget, identifier: w1, title: One, properties: {size: 3, color: red}}
                - {blueprint: widget, identifier: w2, title: Two, properties: {size: 5, color: blue}}
              counts: {widget: 2}
            """)
        #expect(result.status == .passed, "\(result.failures)")
        #expect(result.entityCount == 2)
        #expect(result.requestCount == 1)
    }

    @Test func aDifferenceIsShownAsAUnifiedDiff() async throws {
        let result = try await run(Self.itemsFixture + """

            expect:
              entities:
                - {blueprint: widget, identifier: w1, title: One, properties: {size: 4, color: red}}
            """)
        #expect(result.status == .failed)
        let report = result.failures.joined(separator: "\n")
        #expect(report.contains("--- expected\n+++ actual"))
        #expect(report.contains("-    \"size\": 4\n+    \"size\": 3"))
        // The entity that was not expected at all shows as added.
        #expect(report.contains("+  \"identifier\": \"w2\","))
    }

    @Test func aSubsetComparesOnlyTheListedEntitiesAndKeys() async throws {
        let passing = try await run(Self.itemsFixture + """

            expect:
              subset: true
              entities:
                - {blueprint: widget, identifier: w2, properties: {color: blue}}
            """)
        #expect(passing.status == .passed, "\(passing.failures)")

        let failing = try await run(Self.itemsFixture + """

            expect:
              subset: true
              entities:
                - {blueprint: widget, identifier: w2, properties: {color: green}}
                - {blueprint: widget, identifier: w9}
            """)
        #expect(failing.status == .failed)
        let report = failing.failures.joined(separator: "\n")
        #expect(report.contains("-    \"color\": \"green\""))
        #expect(report.contains("+    \"color\": \"blue\""))
        #expect(report.contains("-  \"identifier\": \"w9\""))
        // Keys the expectation does not list are not compared, so not shown.
        #expect(!report.contains("\"size\""))
    }

    @Test func anUnmatchedRequestIsPrintedWithItsQuery() async throws {
        let result = try await run("""
            fixtures:
              - name: items in red
                request: {path: /items, query: {color: red}}
                response: {json: {items: []}}
            expect:
              counts: {widget: 0}
            """)
        #expect(result.status == .failed)
        let report = result.failures.joined(separator: "\n")
        #expect(report.contains("no fixture matched this request:\n  GET /items?color=any"))
        // The nearest fixture is named with its position and why it did not match.
        #expect(report.contains("nearest fixture: "), "\(report)")
        #expect(report.contains("tests/case.yml:2:5: items in red: query color=any, not red"), "\(report)")
        #expect(report.contains("never requested"))
        #expect(report.contains("items in red"))
        // The 404 fails the kind too, which the case did not expect.
        #expect(report.contains("kind \"item\" failed"))
    }

    /// An integration whose one kind, `item`, is `kind` (its keys under `kinds.item`), mapped to
    /// `item` entities by `.id`, with the one case `testCase`.
    func oneKindIntegration(_ kind: String, testCase: String) throws -> String {
        try writeIntegration([
            "integration.yml": """
            name: one
            configuration:
              - {name: apiUrl, type: url, required: true}
            http:
              baseUrl: "{{ .config.apiUrl }}"
            kinds:
              item:
            \(kind.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """,
            ".port/resources/port-app-config.yml": """
            resources:
              - kind: item
                selector: {query: 'true'}
                port: {entity: {mappings: {identifier: .id, blueprint: '"item"'}}}
            """,
            "fixtures/config.yml": "apiUrl: https://api.example.com\n",
        ], cases: ["case": testCase])
    }

    /// A body that differs from the nearest fixture's is named by the first key that differs.
    @Test func theNearestFixtureSaysWhichBodyKeyDiffers() async throws {
        let folder = try oneKindIntegration("""
            request:
              method: POST
              path: /search
              body: {query: "status = open", limit: 50}
            records: .items
            """, testCase: """
            fixtures:
              - name: the search
                request: {method: POST, path: /search, body: {query: status = closed, limit: 50}}
                response: {json: {items: []}}
              - name: something else
                request: {path: /other}
                response: {json: {items: []}}
            allowUnusedFixtures: true
            expect:
              counts: {item: 0}
            """)
        let result = try await runOnlyCase(in: folder)
        let report = result.failures.joined(separator: "\n")
        #expect(report.contains("nearest fixture: ") && report.contains("the search: body.query is \"status = open\", not \"status = closed\""), "\(report)")
        #expect(!report.contains("nearest fixture: something else"))
    }

    /// Pagination that loops names the fixture that answered more than once.
    @Test func aLoopingPaginationNamesTheFixtureThatAnsweredTwice() async throws {
        let folder = try oneKindIntegration("""
            request: {path: /items}
            records: .items
            pagination: {type: cursor, cursor: .next, param: after}
            """, testCase: """
            fixtures:
              - name: every page
                request: {path: /items}
                response: {json: {items: [{id: a}], next: same}}
            expect:
              counts: {item: 1}
            """)
        let result = try await runOnlyCase(in: folder)
        let report = result.failures.joined(separator: "\n")
        #expect(report.contains("pagination would loop"), "\(report)")
        #expect(report.contains("tests/case.yml:2:5: every page answered 2 requests"), "\(report)")
    }

    @Test func anUnusedFixtureFailsUnlessAllowed() async throws {
        let extra = Self.itemsFixture + """

              - name: never asked
                request: {path: /other}
                response: {json: []}
            """
        let failing = try await run(extra + "\nexpect: {counts: {widget: 2}}\n")
        #expect(failing.status == .failed)
        #expect(failing.failures.joined().contains("this fixture was never requested"))
        #expect(failing.failures.joined().contains("never asked (GET /other)"))

        let allowed = try await run(extra + "\nallowUnusedFixtures: true\nexpect: {counts: {widget: 2}}\n")
        #expect(allowed.status == .passed, "\(allowed.failures)")
    }

    @Test func selectorOverridesReachTheRequestAndExpectedErrorsAreMatched() async throws {
        let result = try await run("""
            selectors:
              item: {color: red}
            fixtures:
              - request: {path: /items, query: {color: red}}
                response: {status: 500, json: {message: boom}}
            expect:
              errors:
                - {kind: item, message: "500"}
            """)
        #expect(result.status == .passed, "\(result.failures)")
    }

    @Test func anInvalidCaseIsReportedWithItsPosition() async throws {
        let directory = try integration(cases: ["broken": """
            fixtures: []
            expect:
              entitys: []
            """])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = await TestRunner.run(directory: directory)
        let result = try #require(report.cases.first)
        #expect(result.status == .invalid)
        #expect(!report.isUsable)
        let message = result.failures.joined()
        #expect(message.contains("broken.yml:3:3: error: unknown key \"entitys\" in expect (did you mean \"entities\"?)"))
    }
}
