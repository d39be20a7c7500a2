import Foundation
import Testing
import TideFetch
import TideJQ
import TideTesting

@Suite struct PaginationTests {
    static func offsetKind(_ pagination: String, records: String = ".values") -> String {
        """
        item:
          request: {path: /items}
          records: \(records)
          pagination: \(pagination)
        """
    }

    @Test func offsetStopsWhenTheTotalIsReached() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: offset, offsetParam: startAt, limitParam: maxResults, limit: 2, total: .total}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["startAt": "0", "maxResults": "2"]), response: page([1, 2], extra: #""total": 4"#)),
            Fixture(match: get("/items", ["startAt": "2", "maxResults": "2"]), response: page([3, 4], extra: #""total": 4"#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4"])
        #expect(outcome.pages.map(\.number) == [1, 2])
        #expect(harness.server.requests.count == 2)
        #expect(harness.server.unmatchedRequests.isEmpty)
        await harness.stop()
    }

    /// Once page 1 tells the total, the next pages are requested without waiting for each other,
    /// and still come back in order, each requested once.
    @Test func pagesAheadOfTheirTurnWhenTheTotalIsKnown() async throws {
        for strategy in ["{type: offset, offsetParam: startAt, limitParam: maxResults, limit: 2, total: .total}",
                         "{type: page, pageParam: p, sizeParam: maxResults, size: 2, total: '(.total / 2)'}"] {
            let isOffset = strategy.contains("offset")
            let fixtures = (0..<10).map { index -> Fixture in
                var response = page([index * 2 + 1, index * 2 + 2], extra: #""total": 20"#)
                response.delay = .milliseconds(40)
                let query = isOffset ? ["startAt": String(index * 2)] : ["p": String(index + 1)]
                return Fixture(match: get("/items", query), response: response)
            }
            let harness = try await Harness.start(integrationYAML(kinds: Self.offsetKind(strategy)), fixtures: fixtures)
            let outcome = try await harness.fetchAll("item")
            #expect(outcome.error == nil)
            #expect(outcome.ids == (1...20).map(String.init), "\(strategy)")
            #expect(outcome.pages.map(\.number) == Array(1...10))
            let positions = harness.server.requests.compactMap { $0.queryValue(isOffset ? "startAt" : "p") }
            #expect(positions.count == 10 && Set(positions).count == 10, "each page requested once: \(positions)")
            #expect(harness.server.maxConcurrentRequests > 1, "pages overlapped")
            #expect(harness.server.unmatchedRequests.isEmpty)
            await harness.stop()
        }
    }

    /// A page that ends the run early (empty, whatever the total said) ends it exactly there.
    @Test func anEmptyPageEndsTheRunEvenWithPagesAhead() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: offset, offsetParam: startAt, limit: 2, total: .total}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["startAt": "0"]), response: page([1, 2], extra: #""total": 12"#)),
            Fixture(match: get("/items", ["startAt": "2"]), response: page([3, 4], extra: #""total": 12"#)),
            Fixture(match: get("/items", ["startAt": "4"]), response: page([], extra: #""total": 12"#)),
            Fixture(match: get("/items", ["startAt": "6"]), response: page([7, 8], extra: #""total": 12"#)),
            Fixture(match: get("/items", ["startAt": "8"]), response: page([9, 10], extra: #""total": 12"#)),
            Fixture(match: get("/items", ["startAt": "10"]), response: page([11, 12], extra: #""total": 12"#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4"])
        #expect(outcome.pages.map(\.number) == [1, 2, 3], "the empty page is the last one read, as without pages ahead")
        await harness.stop()
    }

    @Test func offsetStopsOnAnIsLastStyleStop() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: offset, offsetParam: startAt, limitParam: maxResults, limit: 2, stop: .isLast}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["startAt": "0"]), response: page([1, 2], extra: #""isLast": false"#)),
            Fixture(match: get("/items", ["startAt": "2"]), response: page([3, 4], extra: #""isLast": true"#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4"])
        #expect(harness.server.requests.count == 2)
        await harness.stop()
    }

    @Test func offsetStopsOnAShortPage() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: offset, limit: 3, start: 10}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["offset": "10", "limit": "3"]), response: page([1, 2, 3])),
            Fixture(match: get("/items", ["offset": "13", "limit": "3"]), response: page([4])),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4"])
        #expect(harness.server.requests.count == 2)
        await harness.stop()
    }

    @Test func pageNumbersWithTotalPagesFromAHeader() async throws {
        let kind = #"""
        item:
          request: {path: /items}
          records: .
          pagination:
            type: page
            pageParam: p
            sizeParam: per_page
            size: 2
            total: '$headers["x-total-pages"] | tonumber'
        """#
        let pages = TestHeader("X-Total-Pages", "3")
        let harness = try await Harness.start(integrationYAML(kinds: kind), fixtures: [
            Fixture(match: get("/items", ["p": "1", "per_page": "2"]), response: .json(#"[{"id": 1}, {"id": 2}]"#, headers: [pages])),
            Fixture(match: get("/items", ["p": "2", "per_page": "2"]), response: .json(#"[{"id": 3}, {"id": 4}]"#, headers: [pages])),
            Fixture(match: get("/items", ["p": "3", "per_page": "2"]), response: .json(#"[{"id": 5}, {"id": 6}]"#, headers: [pages])),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4", "5", "6"])
        #expect(harness.server.requests.count == 3)
        await harness.stop()
    }

    @Test func cursorInTheQuery() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: cursor, cursor: .next, param: cursor}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["cursor": "abc"]), response: page([3], extra: #""next": "d e/f""#)),
            Fixture(match: get("/items", ["cursor": "d e/f"]), response: page([4], extra: #""next": null"#)),
            Fixture(match: get("/items"), response: page([1, 2], extra: #""next": "abc""#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4"])
        let uris = harness.server.requests.map(\.uri)
        #expect(uris == ["/items", "/items?cursor=abc", "/items?cursor=d%20e%2Ff"])
        await harness.stop()
    }

    /// Jira Cloud's `POST /rest/api/3/search/jql`: the token goes back in the JSON body.
    @Test func cursorInTheBodyAsJiraSearchDoes() async throws {
        let kind = #"""
        issue:
          selector:
            jql: {type: string, default: "project = DEF"}
            fields: {type: string, default: "*all"}
            expand: {type: string}
          request:
            method: POST
            path: /rest/api/3/search/jql
            retryable: true
            body:
              jql: "{{ .selector.jql }}"
              fields: "{{ .selector.fields | split(\",\") }}"
              expand: "{{ .selector.expand }}"
              maxResults: 2
          records: .issues
          pagination: {type: cursor, cursor: .nextPageToken, param: nextPageToken, in: body, stop: .isLast}
        """#
        let search = "/rest/api/3/search/jql"
        let harness = try await Harness.start(integrationYAML(kinds: kind), fixtures: [
            Fixture(match: FixtureMatch(method: "POST", path: search, jsonBody: #"{"nextPageToken": "t2"}"#),
                    response: page([3, 4], key: "issues", extra: #""nextPageToken": "t3", "isLast": false"#)),
            Fixture(match: FixtureMatch(method: "POST", path: search, jsonBody: #"{"nextPageToken": "t3"}"#),
                    response: page([5], key: "issues", extra: #""nextPageToken": "t4", "isLast": true"#)),
            Fixture(match: FixtureMatch(method: "POST", path: search, jsonBody: #"{"jql": "project = ABC", "maxResults": 2}"#),
                    response: page([1, 2], key: "issues", extra: #""nextPageToken": "t2", "isLast": false"#)),
        ])
        let outcome = try await harness.fetchAll("issue", selector: ["jql": jsonString("project = ABC"), "fields": jsonString("key,summary")])
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4", "5"])
        let requests = harness.server.requests
        #expect(requests.count == 3)
        let first = try JSON(parsing: requests[0].bodyText)
        // The selector overrides the defaults; a null template drops its key; no token on the first page.
        #expect(first.serialized() == #"{"jql":"project = ABC","fields":["key","summary"],"maxResults":2}"#)
        #expect(requests[0].header("Content-Type") == "application/json")
        let second = try JSON(parsing: requests[1].bodyText)
        #expect(second["nextPageToken"]?.stringValue == "t2")
        #expect(second["jql"]?.stringValue == "project = ABC")
        await harness.stop()
    }

    @Test func nextURLAbsoluteAndRelativeWithoutReaddingTheQuery() async throws {
        let server = try await FixtureServer.start([])
        server.add(Fixture(match: get("/items/page2", ["after": "1"]),
                           response: page([2], extra: #""next": "/items/page3?after=2""#)))
        server.add(Fixture(match: get("/items/page3", ["after": "2"]), response: page([3], extra: #""next": "?after=3""#)))
        server.add(Fixture(match: get("/items/page3", ["after": "3"]), response: page([4], extra: #""next": null"#)))
        server.add(Fixture(match: get("/items", ["q": "x y"]),
                           response: page([1], extra: "\"next\": \"\(server.url("/items/page2?after=1"))\"")))
        let kind = """
        item:
          request: {path: /items, query: {q: "x y"}}
          records: .values
          pagination: {type: nextUrl, next: .next}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kind), server: server)
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3", "4"])
        #expect(server.requests.map(\.uri) == ["/items?q=x%20y", "/items/page2?after=1", "/items/page3?after=2", "/items/page3?after=3"])
        await harness.stop()
    }

    @Test func linkHeaderWithSeveralLinksQuotedParametersAndRelativeURLs() async throws {
        let server = try await FixtureServer.start([])
        server.add(Fixture(match: get("/repos", ["page": "2"]), response: page([2], headers: [
            TestHeader("Link", #"</repos?page=1>; rel="prev first""#),
            TestHeader("Link", #"</repos?page=3>; title="a, b; rel=next"; rel="next last""#),
        ])))
        server.add(Fixture(match: get("/repos", ["page": "3"]), response: page([3], headers: [
            TestHeader("Link", #"</repos?page=2>; rel="prev", </repos?page=1>; rel=first"#),
        ])))
        server.add(Fixture(match: get("/repos"), response: page([1], headers: [
            TestHeader("Link", "<\(server.url("/repos?page=3"))>; rel=\"last\", <\(server.url("/repos?page=2"))>; rel=\"next\""),
        ])))
        let kind = """
        repo:
          request: {path: /repos}
          records: .values
          pagination: {type: linkHeader}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kind), server: server)
        let outcome = try await harness.fetchAll("repo")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3"])
        #expect(server.requests.map(\.uri) == ["/repos", "/repos?page=2", "/repos?page=3"])
        await harness.stop()
    }

    @Test func exceedingMaxPagesIsAnError() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: cursor, cursor: .next, param: c, maxPages: 3}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["c": "1"]), response: page([2], extra: #""next": "2""#)),
            Fixture(match: get("/items", ["c": "2"]), response: page([3], extra: #""next": "3""#)),
            Fixture(match: get("/items", ["c": "3"]), response: page([4], extra: #""next": "4""#)),
            Fixture(match: get("/items"), response: page([1], extra: #""next": "1""#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.ids == ["1", "2", "3"])
        let error = try #require(outcome.error)
        #expect(error.reason == .tooManyPages)
        #expect(error.page == 4)
        #expect(error.description.contains("more than 3 pages"))
        #expect(harness.server.requests.count == 3)
        await harness.stop()
    }

    @Test func aRepeatedCursorFailsTheKind() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: cursor, cursor: .next, param: c}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["c": "a"]), response: page([2], extra: #""next": "b""#)),
            Fixture(match: get("/items", ["c": "b"]), response: page([3], extra: #""next": "a""#)),
            Fixture(match: get("/items"), response: page([1], extra: #""next": "a""#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.ids == ["1", "2"])
        let error = try #require(outcome.error)
        #expect(error.reason == .repeatedCursor)
        #expect(error.page == 3)
        #expect(error.description.contains(#"kind "item", page 3"#))
        #expect(error.description.contains(#""a""#))
        #expect(harness.server.requests.count == 3)
        await harness.stop()
    }

    @Test func aRepeatedNextURLFailsTheKind() async throws {
        let kind = """
        item:
          request: {path: /items}
          records: .values
          pagination: {type: nextUrl, next: .next}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kind), fixtures: [
            Fixture(match: get("/items", ["after": "1"]), response: page([2], extra: #""next": "/items?after=2""#)),
            Fixture(match: get("/items", ["after": "2"]), response: page([3], extra: #""next": "items?after=1""#)),
            Fixture(match: get("/items"), response: page([1], extra: #""next": "/items?after=1""#)),
        ])
        let outcome = try await harness.fetchAll("item")
        // Page 3 points back at page 2's URL: the loop is caught before it is followed.
        #expect(outcome.ids == ["1", "2"])
        let error = try #require(outcome.error)
        #expect(error.reason == .repeatedURL)
        #expect(error.page == 3)
        #expect(error.description.contains("/items?after=1"))
        await harness.stop()
    }

    @Test func anEmptyPageAlwaysStops() async throws {
        let yaml = integrationYAML(kinds: Self.offsetKind("{type: cursor, cursor: .next, param: c, stop: .done}"))
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/items", ["c": "a"]), response: page([], extra: #""next": "b", "done": false"#)),
            Fixture(match: get("/items"), response: page([1], extra: #""next": "a", "done": false"#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.pages.map(\.ids) == [["1"], []])
        #expect(harness.server.requests.count == 2)
        await harness.stop()
    }

    @Test func noPaginationSendsOneRequestAndRecordsMayBeAnObjectOrNullWhenTheKindSaysSo() async throws {
        let kinds = """
        me:
          request: {path: /me}
          objectIsOneRecord: true
        nothing:
          request: {path: /nothing}
          records: .missing
          nullIsEmpty: true
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/me"), response: .json(#"{"id": "me"}"#)),
            Fixture(match: get("/nothing"), response: .json(#"{"other": 1}"#)),
        ])
        let me = try await harness.fetchAll("me")
        #expect(me.error == nil)
        #expect(me.ids == ["me"])
        let nothing = try await harness.fetchAll("nothing")
        #expect(nothing.error == nil)
        #expect(nothing.ids.isEmpty)
        #expect(harness.server.requests.count == 2)
        await harness.stop()
    }
}
