import TideCore
import Foundation

/// Which requests a fixture answers. Every field given must match; fields left empty match anything.
public struct FixtureMatch: Sendable, Hashable, CustomStringConvertible {
    /// `GET`, `POST`, … or nil for any method.
    public var method: String?
    /// The exact path (percent-decoded, without the query).
    public var path: String
    /// Parameters that must be present with these values; other parameters are allowed.
    public var query: [String: String]
    /// Headers that must be present with these values (names case-insensitive).
    public var headers: [String: String]
    /// JSON the request body must contain: objects match when every given key matches (extra keys
    /// allowed), arrays element by element with equal length, scalars by equality.
    public var jsonBody: String?

    public init(method: String? = nil, path: String, query: [String: String] = [:],
                headers: [String: String] = [:], jsonBody: String? = nil)
    {
        self.method = method?.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.jsonBody = jsonBody
    }

    public func matches(_ request: RecordedRequest) -> Bool {
        if let method, method != request.method { return false }
        guard path == request.path else { return false }
        for (name, value) in query where !request.query.contains(where: { $0.name == name && ($0.value ?? "") == value }) {
            return false
        }
        for (name, value) in headers where !request.headerValues(name).contains(value) { return false }
        if let jsonBody {
            guard let expected = JSONValue.parse(Array(jsonBody.utf8)),
                  let actual = JSONValue.parse(request.body),
                  expected.isSubset(of: actual) else { return false }
        }
        return true
    }

    /// Why `request` does not match, one reason per field that differs (empty when it matches):
    /// what `tide test` says of the nearest fixture when no fixture answered a request.
    public func mismatches(_ request: RecordedRequest) -> [String] {
        var reasons: [String] = []
        if let method, method != request.method { reasons.append("method \(request.method), not \(method)") }
        if path != request.path {
            // Paths are compared percent-decoded: say so when the request was sent encoded.
            let sent = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
            let decoded = sent == request.path ? "" : " (sent as \(sent), compared decoded)"
            reasons.append("path \(request.path)\(decoded), not \(path)")
        }
        for (name, value) in query.sorted(by: { $0.key < $1.key }) {
            let sent = request.query.filter { $0.name == name }.map { $0.value ?? "" }
            if sent.contains(value) { continue }
            reasons.append(sent.isEmpty ? "no query parameter \(name) (the fixture wants \(name)=\(value))"
                                        : "query \(name)=\(sent.joined(separator: ",")), not \(value)")
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) where !request.headerValues(name).contains(value) {
            let sent = request.headerValues(name)
            reasons.append(sent.isEmpty ? "no header \(name)" : "header \(name): \(sent.joined(separator: ", ")), not \(value)")
        }
        if let jsonBody, let expected = JSONValue.parse(Array(jsonBody.utf8)) {
            if request.body.isEmpty {
                reasons.append("no body (the fixture wants one ⊇ \(jsonBody))")
            } else if let actual = JSONValue.parse(request.body) {
                if let difference = expected.firstDifference(from: actual, at: "body") { reasons.append(difference) }
            } else {
                reasons.append("the body is not JSON")
            }
        }
        return reasons
    }

    public var description: String {
        var text = "\(method ?? "*") \(path)"
        if !query.isEmpty { text += "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&") }
        if let jsonBody { text += " body ⊇ \(jsonBody)" }
        return text
    }
}

/// A canned answer for matching requests. With several responses the fixture answers them in
/// turn (first call → 503, second → 200, …); after the last one it repeats it, or, when
/// `repeatsLast` is false, stops matching so later fixtures (or the 404) take over.
public struct Fixture: Sendable, Hashable {
    public var name: String
    public var match: FixtureMatch
    public var responses: [TestResponse]
    public var repeatsLast: Bool

    public init(_ name: String? = nil, match: FixtureMatch, responses: [TestResponse], repeatsLast: Bool = true) {
        self.name = name ?? match.description
        self.match = match
        self.responses = responses
        self.repeatsLast = repeatsLast
    }

    public init(_ name: String? = nil, match: FixtureMatch, response: TestResponse) {
        self.init(name, match: match, responses: [response])
    }
}

/// A test server that answers from a list of fixtures: the first fixture (in the order given)
/// that matches a request and still has a response answers it. Anything else gets a 404 whose
/// JSON body describes the request, and is listed in `unmatchedRequests` so a test (or
/// `tide test`) can fail on it; fixtures never called are listed in `unusedFixtures`.
public final class FixtureServer: Sendable {
    private struct Book {
        var fixtures: [Fixture]
        var calls: [Int]
        var unmatched: [RecordedRequest] = []
    }

    public let server: TestHTTPServer
    private let book: Locked<Book>

    public static func start(_ fixtures: [Fixture], host: String = "127.0.0.1", port: Int = 0) async throws -> FixtureServer {
        let book = Locked(Book(fixtures: fixtures, calls: Array(repeating: 0, count: fixtures.count)))
        let server = try await TestHTTPServer.start(host: host, port: port) { request in
            FixtureServer.answer(request, book: book)
        }
        return FixtureServer(server: server, book: book)
    }

    private init(server: TestHTTPServer, book: Locked<Book>) {
        self.server = server
        self.book = book
    }

    public var baseURL: String { server.baseURL }
    public func url(_ path: String) -> String { server.url(path) }
    public var requests: [RecordedRequest] { server.requests }
    /// The most requests ever answered at the same moment.
    public var maxConcurrentRequests: Int { server.maxConcurrentRequests }

    /// Appends a fixture; it is consulted after the ones already there.
    public func add(_ fixture: Fixture) {
        book.withLock { book in
            book.fixtures.append(fixture)
            book.calls.append(0)
        }
    }

    /// Requests no fixture answered, in arrival order.
    public var unmatchedRequests: [RecordedRequest] { book.withLock { $0.unmatched } }

    /// Fixtures that never answered a request.
    public var unusedFixtures: [Fixture] {
        book.withLock { book in book.fixtures.indices.filter { book.calls[$0] == 0 }.map { book.fixtures[$0] } }
    }

    /// How many requests each fixture answered, by name.
    public var callCounts: [String: Int] {
        book.withLock { book in
            var counts: [String: Int] = [:]
            for (index, fixture) in book.fixtures.enumerated() { counts[fixture.name, default: 0] += book.calls[index] }
            return counts
        }
    }

    public func stop() async { await server.stop() }

    private static func answer(_ request: RecordedRequest, book: Locked<Book>) -> TestResponse {
        book.withLock { book in
            for index in book.fixtures.indices where book.fixtures[index].match.matches(request) {
                let fixture = book.fixtures[index]
                let used = book.calls[index]
                if used >= fixture.responses.count && (!fixture.repeatsLast || fixture.responses.isEmpty) { continue }
                book.calls[index] += 1
                return fixture.responses[min(used, fixture.responses.count - 1)]
            }
            book.unmatched.append(request)
            return unmatchedResponse(for: request)
        }
    }

    private struct Unmatched: Encodable {
        var error = "no fixture matched this request"
        var method: String
        var path: String
        var query: [String: [String]]
        var body: String?
    }

    static func unmatchedResponse(for request: RecordedRequest) -> TestResponse {
        var query: [String: [String]] = [:]
        for item in request.query { query[item.name, default: []].append(item.value ?? "") }
        let description = Unmatched(method: request.method, path: request.path, query: query,
                                    body: request.body.isEmpty ? nil : request.bodyText)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(description)).map { Array($0) } ?? Array("{}".utf8)
        return TestResponse(status: 404, headers: [TestHeader("Content-Type", "application/json")], body: body)
    }
}

extension FixtureServer {
    /// The fixture nearest to matching `request`, with why it does not: the same path first, then
    /// the fewest differences (nil when there are no fixtures).
    public func nearest(to request: RecordedRequest) -> (fixture: Fixture, reasons: [String])? {
        let fixtures = book.withLock { $0.fixtures }
        return fixtures.map { ($0, $0.match.mismatches(request)) }
            .min { lhs, rhs in
                let left = (lhs.0.match.path == request.path ? 0 : 1, lhs.1.count)
                let right = (rhs.0.match.path == request.path ? 0 : 1, rhs.1.count)
                return left < right
            }
    }
}

extension JSONValue {
    /// The first place where `actual` does not contain this value, as the fixture format compares
    /// (objects by the keys given, arrays element by element), in words; nil when it does.
    func firstDifference(from actual: JSONValue, at path: String) -> String? {
        switch (self, actual) {
        case let (.object(expected), .object(given)):
            for key in expected.keys.sorted() {
                guard let value = given[key] else { return "\(path).\(key) is missing" }
                if let difference = expected[key]!.firstDifference(from: value, at: "\(path).\(key)") { return difference }
            }
            return nil
        case let (.array(expected), .array(given)):
            guard expected.count == given.count else { return "\(path) has \(given.count) elements, not \(expected.count)" }
            for index in expected.indices {
                if let difference = expected[index].firstDifference(from: given[index], at: "\(path)[\(index)]") { return difference }
            }
            return nil
        default:
            guard self != actual else { return nil }
            return "\(path) is \(actual.compactText), not \(compactText)"
        }
    }

    /// Short JSON-ish text for messages.
    var compactText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return text.count > 120 ? String(text.prefix(117)) + "…" : text
    }
}

extension JSONValue {
    /// Whether every key written here is in `other` with an equal (or, recursively, subset) value.
    func isSubset(of other: JSONValue) -> Bool {
        switch (self, other) {
        case let (.object(expected), .object(actual)):
            return expected.allSatisfy { key, value in actual[key].map { value.isSubset(of: $0) } ?? false }
        case let (.array(expected), .array(actual)):
            return expected.count == actual.count && zip(expected, actual).allSatisfy { $0.isSubset(of: $1) }
        default:
            return self == other
        }
    }
}
