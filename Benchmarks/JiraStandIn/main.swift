import Foundation
import TideCore
import TideTesting

// A loopback stand-in for Jira Cloud: issue search (POST /rest/api/3/search/jql) serving N
// generated issues of about 3 KB in pages that follow `nextPageToken`, the project list
// (GET /rest/api/3/project/search, with each project's issue count), the approximate count of a
// search (POST /rest/api/3/search/approximate-count, exact here) and the three users the
// issues name (GET /rest/api/3/users/search). Pages are rendered from a template split around
// the values that vary, so serving costs far less than Tide's work on them.
//
// The JQL is read for what a partitioned or narrowed search needs, and the rest of it ignored:
//   key = "P3-7"                    that issue alone (webhook refetches)
//   project = "P3"                  that project's issues
//   project in ("P1", "P2")         those projects' issues, in issue order
// Issue n belongs to project (n-1) mod K of the K projects (`--projects`); with one project (the
// default) every issue is PRJ-n, as before.
//
// Like a real API it can be slow and limited:
//   --latency-ms MS     every answer waits MS milliseconds (default 0)
//   --rate-limit N      at most N requests per window (default 0: none); more are answered 429
//                       with Retry-After, and every answer says what is left
//   --rate-window S     the window in seconds (default 1), fixed and aligned on the clock
//   --rate-headers H    how what is left is said: x (X-RateLimit-Limit/-Remaining/-Reset, as Jira
//                       and GitHub; the default), ietf (RateLimit and RateLimit-Policy), or none
//                       (only 429 and Retry-After)
//
// usage: tide-jira-standin --issues N [--page-size 100] [--projects 1] [--port 0] [options above]
// Prints "listening <base URL>" on standard output, then serves until killed; on SIGTERM or
// SIGINT it prints a line of counts (requests served, answered 429) to standard error first.

func option(_ name: String, _ fallback: Int) -> Int {
    guard let text = text(name) else { return fallback }
    guard let value = Int(text) else { fail("\(name) takes a whole number, got \"\(text)\"") }
    return value
}

func text(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tide-jira-standin: \(message)\n".utf8))
    exit(2)
}

let total = option("--issues", 10_000)
let pageSize = max(1, option("--page-size", 100))
let port = option("--port", 0)
let projectCount = max(1, option("--projects", 1))
let latency = Duration.milliseconds(max(0, option("--latency-ms", 0)))
let rateLimit = max(0, option("--rate-limit", 0))
let rateWindow: Double = {
    guard let text = text("--rate-window") else { return 1 }
    guard let value = Double(text), value > 0 else { fail("--rate-window takes a number of seconds, got \"\(text)\"") }
    return value
}()
enum RateHeaders: String { case x, ietf, none }
let rateHeaders: RateHeaders = {
    guard let text = text("--rate-headers") else { return .x }
    guard let value = RateHeaders(rawValue: text) else { fail("--rate-headers takes x, ietf or none; got \"\(text)\"") }
    return value
}()

/// Project keys: PRJ alone by default, else P1…PK.
let projectKeys = projectCount == 1 ? ["PRJ"] : (1...projectCount).map { "P\($0)" }
let projectIndex = Dictionary(uniqueKeysWithValues: projectKeys.enumerated().map { ($0.element, $0.offset) })

/// One issue with `#N#` where its number goes, `#P#` its project's key and `#I#` its project's id.
let issueTemplate = #"""
{"expand":"renderedFields,names,schema","id":"#N#","self":"https://example.atlassian.net/rest/api/3/issue/#N#","key":"#P#-#N#","fields":{"summary":"Issue #N#: fix the thing — ünïcode ✓","status":{"self":"https://example.atlassian.net/rest/api/3/status/3","name":"In Progress","id":"3","statusCategory":{"key":"indeterminate","name":"In Progress"}},"issuetype":{"name":"Bug","subtask":false,"id":"10001"},"priority":{"name":"High","id":"2"},"labels":["backend","tech-debt"],"components":[{"name":"api","id":"10000"}],"created":"2024-03-01T10:00:00.000+0000","updated":"2024-03-05T12:30:00.000+0000","resolutiondate":null,"creator":{"accountId":"5b10ac8d82e05b22cc7d4ef5","emailAddress":"creator@example.com","displayName":"Creator","active":true,"timeZone":"Europe/Berlin","avatarUrls":{"48x48":"https://avatar.example.com/48.png","24x24":"https://avatar.example.com/24.png"}},"reporter":{"accountId":"5b10ac8d82e05b22cc7d4ef6","emailAddress":"reporter@example.com","displayName":"Reporter","active":true},"assignee":{"accountId":"5b10ac8d82e05b22cc7d4ef7","emailAddress":"assignee@example.com","displayName":"Assignee","active":true},"project":{"key":"#P#","name":"Project","id":"#I#"},"subtasks":[{"key":"#P#-#N#1","id":"#N#1"}],"description":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Steps to reproduce: lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet"}]}]},"customfield_10020":null,"watches":{"watchCount":3,"isWatching":false}}}
"""#

/// The template as literal pieces, each followed by the placeholder that comes after it (nil last).
let pieces: [(literal: [UInt8], hole: Character?)] = {
    var pieces: [(literal: [UInt8], hole: Character?)] = []
    var rest = Substring(issueTemplate)
    while let range = rest.range(of: #"#[NPI]#"#, options: .regularExpression) {
        pieces.append((Array(rest[..<range.lowerBound].utf8), rest[rest.index(after: range.lowerBound)]))
        rest = rest[range.upperBound...]
    }
    pieces.append((Array(rest.utf8), nil))
    return pieces
}()
let projectKeyBytes = projectKeys.map { Array($0.utf8) }
let projectIDBytes = projectKeys.indices.map { Array(String(10_000 + $0).utf8) }

func project(of number: Int) -> Int { (number - 1) % projectCount }

func render(_ number: Int, into body: inout [UInt8]) {
    let digits = Array(String(number).utf8)
    let index = project(of: number)
    for piece in pieces {
        body += piece.literal
        switch piece.hole {
        case "N": body += digits
        case "P": body += projectKeyBytes[index]
        case "I": body += projectIDBytes[index]
        default: break
        }
    }
}

/// The issues a search selects, in issue order: every issue, or those of some projects.
struct Selection {
    /// Sorted project indices; nil: all projects.
    var projects: [Int]?

    var count: Int {
        guard let projects else { return total }
        return projects.reduce(0) { $0 + ($1 < total ? (total - $1 + projectCount - 1) / projectCount : 0) }
    }

    /// The number of the `position`-th selected issue (0-based).
    func number(at position: Int) -> Int {
        guard let projects else { return position + 1 }
        return (position / projects.count) * projectCount + projects[position % projects.count] + 1
    }
}

func page(_ index: Int, of selection: Selection) -> [UInt8] {
    let count = selection.count
    let first = index * pageSize
    let last = min(count, first + pageSize)
    var body = Array(#"{"issues":["#.utf8)
    body.reserveCapacity(max(0, last - first) * 3_200 + 100)
    if first < last {
        for position in first..<last {
            if position > first { body.append(UInt8(ascii: ",")) }
            render(selection.number(at: position), into: &body)
        }
    }
    body += last < count ? Array(#"],"nextPageToken":"\#(index + 1)","isLast":false}"#.utf8) : Array(#"],"isLast":true}"#.utf8)
    return body
}

/// The parts of a JQL query the stand-in honours.
enum Query {
    case key(project: String, number: Int)
    case projects([String])
    case all

    init(_ jql: String) {
        func match(_ pattern: String) -> [String]? {
            guard let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]),
                  let found = regex.firstMatch(in: jql, range: NSRange(jql.startIndex..., in: jql)) else { return nil }
            return (1..<found.numberOfRanges).map { index in
                Range(found.range(at: index), in: jql).map { String(jql[$0]) } ?? ""
            }
        }
        if let parts = match(#"\bkey\s*=\s*"?([A-Za-z][A-Za-z0-9_]*)-(\d+)"?"#), let number = Int(parts[1]) {
            self = .key(project: parts[0].uppercased(), number: number)
        } else if let parts = match(#"\bproject\s+in\s*\(([^)]*)\)"#) {
            self = .projects(parts[0].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")).uppercased()
            })
        } else if let parts = match(#"\bproject\s*=\s*"?([A-Za-z][A-Za-z0-9_]*)"?"#) {
            self = .projects([parts[0].uppercased()])
        } else {
            self = .all
        }
    }
}

/// A fixed-window request counter aligned on the wall clock, as APIs count.
final class Limiter: Sendable {
    private let counts = Locked((window: -1, used: 0, served: 0, refused: 0))

    /// Whether the request may be served, and the headers that say what is left.
    func admit() -> (allowed: Bool, headers: [TestHeader]) {
        let now = Date().timeIntervalSince1970
        let window = Int(now / rateWindow)
        let resetAt = Double(window + 1) * rateWindow
        let (allowed, remaining) = counts.withLock { state -> (Bool, Int) in
            if state.window != window { state.window = window; state.used = 0 }
            guard rateLimit == 0 || state.used < rateLimit else { state.refused += 1; return (false, 0) }
            state.used += 1
            state.served += 1
            return (true, rateLimit - state.used)
        }
        guard rateLimit > 0 else { return (true, []) }
        let left = max(0, resetAt - now)
        let seconds = Int(left.rounded(.up))
        var headers: [TestHeader] = []
        switch rateHeaders {
        case .x:
            // GitHub's form: the reset as a Unix time (whole seconds when the window is).
            let reset = resetAt == resetAt.rounded() ? String(Int(resetAt)) : String(format: "%.3f", resetAt)
            headers = [TestHeader("X-RateLimit-Limit", String(rateLimit)), TestHeader("X-RateLimit-Remaining", String(remaining)),
                       TestHeader("X-RateLimit-Reset", reset)]
        case .ietf:
            headers = [TestHeader("RateLimit-Policy", #""default";q=\#(rateLimit);w=\#(Int(rateWindow.rounded(.up)))"#),
                       TestHeader("RateLimit", #""default";r=\#(remaining);t=\#(seconds)"#)]
        case .none:
            break
        }
        if !allowed { headers.append(TestHeader("Retry-After", String(max(1, seconds)))) }
        return (allowed, headers)
    }

    var figures: (served: Int, refused: Int) { counts.withLock { ($0.served, $0.refused) } }
}

let limiter = Limiter()

func json(_ body: [UInt8], headers: [TestHeader] = [], status: Int = 200) -> TestResponse {
    TestResponse(status: status, headers: [TestHeader("Content-Type", "application/json")] + headers, body: body,
                 delay: latency > .zero ? latency : nil)
}

func search(_ request: RecordedRequest, headers: [TestHeader]) -> TestResponse {
    let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
    let jql = object["jql"] as? String ?? ""
    // The token is the page number; the first request has none.
    let index = (object["nextPageToken"] as? String).flatMap { Int($0) } ?? 0
    switch Query(jql) {
    case .key(let key, let number):
        // A read of one issue by key (a webhook refetch: `key = "PRJ-7" AND (…)`): that issue alone.
        var body = Array(#"{"issues":["#.utf8)
        if number >= 1, number <= total, projectIndex[key] == project(of: number) { render(number, into: &body) }
        body += Array(#"],"isLast":true}"#.utf8)
        return json(body, headers: headers)
    case .projects(let keys):
        let indices = Array(Set(keys.compactMap { projectIndex[$0] })).sorted()
        return json(page(index, of: Selection(projects: indices)), headers: headers)
    case .all:
        return json(page(index, of: Selection(projects: nil)), headers: headers)
    }
}

/// Jira's approximate count of a search (POST /rest/api/3/search/approximate-count), exact here.
func approximateCount(_ request: RecordedRequest, headers: [TestHeader]) -> TestResponse {
    let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
    let count: Int
    switch Query(object["jql"] as? String ?? "") {
    case .key(let key, let number): count = number >= 1 && number <= total && projectIndex[key] == project(of: number) ? 1 : 0
    case .projects(let keys): count = Selection(projects: Array(Set(keys.compactMap { projectIndex[$0] })).sorted()).count
    case .all: count = total
    }
    return json(Array("{\"count\":\(count)}".utf8), headers: headers)
}

func projects(_ request: RecordedRequest, headers: [TestHeader]) -> TestResponse {
    let startAt = max(0, request.queryValue("startAt").flatMap { Int($0) } ?? 0)
    let maxResults = max(1, min(100, request.queryValue("maxResults").flatMap { Int($0) } ?? 50))
    let slice = projectKeys.indices.dropFirst(startAt).prefix(maxResults)
    let values = slice.map { index in
        let id = 10_000 + index, key = projectKeys[index]
        let issues = Selection(projects: [index]).count
        return #"{"self":"https://example.atlassian.net/rest/api/3/project/\#(id)","id":"\#(id)","key":"\#(key)","name":"Project \#(key)","projectTypeKey":"software","insight":{"totalIssueCount":\#(issues),"lastIssueUpdateTime":"2024-03-05T12:30:00.000+0000"}}"#
    }
    let isLast = startAt + slice.count >= projectKeys.count
    let body = #"{"startAt":\#(startAt),"maxResults":\#(maxResults),"total":\#(projectKeys.count),"isLast":\#(isLast),"values":[\#(values.joined(separator: ","))]}"#
    return json(Array(body.utf8), headers: headers)
}

/// The three people every issue names (creator, reporter, assignee), on the first page.
func users(_ request: RecordedRequest, headers: [TestHeader]) -> TestResponse {
    let startAt = max(0, request.queryValue("startAt").flatMap { Int($0) } ?? 0)
    guard startAt == 0 else { return json(Array("[]".utf8), headers: headers) }
    let people = [("5b10ac8d82e05b22cc7d4ef5", "Creator", "creator"), ("5b10ac8d82e05b22cc7d4ef6", "Reporter", "reporter"),
                  ("5b10ac8d82e05b22cc7d4ef7", "Assignee", "assignee")]
    let values = people.map { id, name, mail in
        #"{"self":"https://example.atlassian.net/rest/api/3/user?accountId=\#(id)","accountId":"\#(id)","accountType":"atlassian","emailAddress":"\#(mail)@example.com","avatarUrls":{"48x48":"https://avatar.example.com/48.png"},"displayName":"\#(name)","active":true,"timeZone":"Europe/Berlin","locale":"en_US"}"#
    }
    return json(Array("[\(values.joined(separator: ","))]".utf8), headers: headers)
}

let server = try await TestHTTPServer.start(port: port, recordsRequests: false) { request in
    let (allowed, headers) = limiter.admit()
    guard allowed else {
        return json(Array(#"{"errorMessages":["Rate limit exceeded."]}"#.utf8), headers: headers, status: 429)
    }
    switch (request.method, request.path) {
    case ("POST", "/rest/api/3/search/jql"): return search(request, headers: headers)
    case ("POST", "/rest/api/3/search/approximate-count"): return approximateCount(request, headers: headers)
    case ("GET", "/rest/api/3/project/search"): return projects(request, headers: headers)
    case ("GET", "/rest/api/3/users/search"): return users(request, headers: headers)
    default: return json(Array(#"{"errorMessages":["not served by the stand-in"]}"#.utf8), headers: headers, status: 404)
    }
}
FileHandle.standardOutput.write(Data("listening \(server.baseURL)\n".utf8))

// The counts on the way out, for benchmarks that compare requests sent with requests refused.
nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []
for signal in [SIGTERM, SIGINT] {
    Foundation.signal(signal, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
    source.setEventHandler {
        let figures = limiter.figures
        FileHandle.standardError.write(Data("tide-jira-standin: served \(figures.served), answered 429 \(figures.refused)\n".utf8))
        exit(0)
    }
    source.resume()
    signalSources.append(source)
}
while true { try await Task.sleep(for: .seconds(3600)) }
