import Foundation
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// `tide record`'s hold on fetching: each pagination run stops after `pagesPerRun` pages, and
/// for every run it cut short the fetcher says how the recorded responses must be changed so
/// that a replay of them stops at the same page (the replay has no page limit). Installed as a
/// task local around one resync; nil (the default) changes nothing.
public final class FetchRecording: Sendable {
    /// A request as the fetcher sent it: what a recorded exchange is matched with.
    public struct RequestKey: Hashable, Sendable {
        public var method: String
        public var url: String
        public var body: [UInt8]
        public init(method: String, url: String, body: [UInt8]?) {
            self.method = method.uppercased()
            self.url = url
            self.body = body ?? []
        }
    }

    /// A step of a path into a JSON body, as jq's `path(…)` gives it.
    public enum PathStep: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    /// A change to one recorded response.
    public enum Edit: Hashable, Sendable {
        /// Puts this JSON (text) at the path in the body.
        case setBody(path: [PathStep], json: String)
        /// Replaces a response header's value (a total read from `$headers`).
        case setHeader(name: String, value: String)
        /// Removes the links of this relation from the `Link` header.
        case dropLink(rel: String)
        /// The string at the path is a next page's URL: written relative to the API's base, as a
        /// replay serves the API at another address.
        case rebaseURL(path: [PathStep])
    }

    /// What a recorded response must become, and why (said in the fixture's name).
    public struct PageEdit: Sendable {
        public var kind: String
        public var request: RequestKey
        public var edits: [Edit]
        public var note: String
    }

    /// A response that was never requested live: the page after the last one kept, emptied, so
    /// that the replay's next request gets no records and the run ends there.
    public struct SyntheticPage: Sendable {
        public var kind: String
        public var request: RequestKey
        public var status: Int
        public var headers: HTTPHeaders
        /// JSON text.
        public var body: String
        public var note: String
    }

    public let pagesPerRun: Int
    private struct State {
        var edits: [PageEdit] = []
        var synthetic: [SyntheticPage] = []
        var truncatedRuns: [String: Int] = [:]
        var problems: [String] = []
    }
    private let state = Locked(State())

    public init(pagesPerRun: Int) { self.pagesPerRun = max(1, pagesPerRun) }

    /// The recording of the task that is fetching, if any.
    @TaskLocal public static var current: FetchRecording?

    public var edits: [PageEdit] { state.withLock { $0.edits } }
    public var syntheticPages: [SyntheticPage] { state.withLock { $0.synthetic } }
    /// Runs cut short, by kind.
    public var truncatedRuns: [String: Int] { state.withLock { $0.truncatedRuns } }
    /// Runs that were cut short but whose replay could not be made to stop there, each a sentence.
    public var problems: [String] { state.withLock { $0.problems } }

    func add(_ edit: PageEdit) { state.withLock { $0.edits.append(edit) } }
    func add(_ page: SyntheticPage) { state.withLock { $0.synthetic.append(page) } }
    func truncated(_ kind: String) { state.withLock { $0.truncatedRuns[kind, default: 0] += 1 } }
    func problem(_ text: String) { state.withLock { $0.problems.append(text) } }

    // MARK: Paths into a response

    /// The paths `expression` reads in the body (with `$headers`, `$page` and `$parent` bound as
    /// pagination and records see them), or nil when it is not a path expression (jq refuses
    /// `path(…)` of a computed value).
    static func paths(of expression: String, in input: JSON) -> [[PathStep]]? {
        let source = ".headers as $headers | .page as $page | .parent as $parent | .body | [path(\(expression)\n)]"
        guard let program = try? JQProgram(source), let found = try? program.first(input), found.kind == .array else { return nil }
        var paths: [[PathStep]] = []
        for path in found.arrayElements {
            var steps: [PathStep] = []
            for step in path.arrayElements {
                if let key = step.stringValue { steps.append(.key(key)) } else if let index = step.numberValue { steps.append(.index(Int(index))) } else { return nil }
            }
            paths.append(steps)
        }
        return paths
    }

    /// The header a `$headers["name"]` or `$headers.name` expression reads, lower-cased.
    static func headerName(in expression: String) -> String? {
        guard let match = expression.firstMatch(of: /\$headers\s*(?:\.|\[\s*")([A-Za-z0-9_-]+)/) else { return nil }
        return String(match.1).lowercased()
    }

    /// `body` (whole, as the API sent it) with the records of the page removed, checked by
    /// reading the records again: nil when neither way of emptying it leaves no records.
    static func emptied(_ body: [UInt8], parent: JSON?, program: KindProgram) -> String? {
        guard let whole = try? body.withUnsafeBufferPointer({ bytes throws(JSONParseError) in try JSON(parsing: bytes) }) else { return nil }
        let input = JSON(object: ["body": whole, "parent": parent ?? .null, "headers": JSON(object: [:]), "page": .null])
        let records = program.definition.records.source
        // Records that are a path (`.values`, `.issues[]`, `.data.items[] | select(…)`): their
        // arrays emptied, or the elements taken out; anything else in the body stays.
        let byPath = """
            .parent as $parent | .body | . as $b | [path(\(records)\n)] as $ps
            | [$ps[] | select(. as $p | $b | getpath($p) | type == "array")] as $arrays
            | reduce $arrays[] as $p ($b; setpath($p; [])) | delpaths($ps - $arrays)
            """
        // Otherwise (records computed with map(…)): every array emptied.
        let everyArray = ".body | walk(if type == \"array\" then [] else . end)"
        for source in [byPath, everyArray] {
            guard let program2 = try? JQProgram(source), let candidate = try? program2.first(input) else { continue }
            if let left = try? program.records(of: candidate, parent: parent), left.isEmpty { return candidate.serialized() }
        }
        return nil
    }
}

extension KindFetcher {
    /// Under `tide record`: ends `run` after its last allowed page, saying how the recorded
    /// responses must change for a replay to stop there too. Per pagination type, the page kept
    /// last is changed so that it names no next page (its `Link` relation dropped, its cursor or
    /// next URL nulled, GraphQL's hasNextPage false); offset and page pagination, which a full
    /// page continues, instead get the next page recorded as an empty one.
    func recordingCut(_ run: inout PaginationRun, number: Int, request: HTTPRequest, response: HTTPResponse, input: JSON) {
        guard let recording = FetchRecording.current else { return }
        let key = FetchRecording.RequestKey(method: request.method.rawValue, url: request.url, body: request.body)
        let pagination = program.definition.pagination
        let limit = recording.pagesPerRun

        // A total that says there are more pages than will be kept is lowered on every page, or a
        // replay would read ahead to pages that were never recorded.
        if case let (expression?, cap?) = totalAndCap(pagination, limit: limit), let known = run.knownTotal, known > Double(cap) {
            if let paths = FetchRecording.paths(of: expression.source, in: input), paths.count == 1 {
                recording.add(.init(kind: kind, request: key, edits: [.setBody(path: paths[0], json: String(cap))],
                                    note: "total lowered to \(cap): the recording kept \(limit) page\(limit == 1 ? "" : "s") per run"))
            } else if let header = FetchRecording.headerName(in: expression.source) {
                recording.add(.init(kind: kind, request: key, edits: [.setHeader(name: header, value: String(cap))],
                                    note: "total lowered to \(cap): the recording kept \(limit) page\(limit == 1 ? "" : "s") per run"))
            } else {
                recording.problem("kind \"\(kind)\": pagination.total (\(expression.source)) is neither a path in the body nor a header, so it cannot be lowered to the pages recorded")
            }
        }

        // An absolute next URL is the API's address, which a replay does not have.
        if case .nextURL(let expression) = pagination.strategy, !run.finished,
           let paths = FetchRecording.paths(of: expression.source, in: input), paths.count == 1 {
            recording.add(.init(kind: kind, request: key, edits: [.rebaseURL(path: paths[0])], note: ""))
        }

        guard !run.finished, number >= limit else { return }
        run.finished = true
        recording.truncated(kind)
        let note = "truncated: the recording stopped kind \"\(kind)\" after \(number) page\(number == 1 ? "" : "s")"
        switch pagination.strategy {
        case .linkHeader(let rel):
            recording.add(.init(kind: kind, request: key, edits: [.dropLink(rel: rel.lowercased())], note: note + "; the next link is removed"))
            return
        case .cursor(let expression, _, _), .nextURL(let expression):
            if let paths = FetchRecording.paths(of: expression.source, in: input), paths.count == 1 {
                recording.add(.init(kind: kind, request: key, edits: [.setBody(path: paths[0], json: "null")],
                                    note: note + "; the next page's \(expression.source) is null"))
                return
            }
        case .graphql(let pageInfo, _):
            if let paths = FetchRecording.paths(of: pageInfo.source, in: input), paths.count == 1 {
                recording.add(.init(kind: kind, request: key, edits: [.setBody(path: paths[0] + [.key("hasNextPage")], json: "false")],
                                    note: note + "; hasNextPage is false"))
                return
            }
        case .offset, .page:
            // Lowered above: the replay stops on the total.
            if run.knownTotal != nil, totalAndCap(pagination, limit: limit).0 != nil { return }
        case .none:
            return
        }
        // Otherwise the page after it is recorded empty: every type ends on an empty page.
        guard let next = try? makeRequest(for: run).request else {
            recording.problem("kind \"\(kind)\": the request after page \(number) cannot be built, so its replay cannot be made to stop there")
            return
        }
        guard let body = FetchRecording.emptied(response.body, parent: run.parent, program: program) else {
            recording.problem("kind \"\(kind)\": records (\(program.definition.records.source)) cannot be emptied from a page, so the replay of a truncated run cannot be made to stop")
            return
        }
        var headers = HTTPHeaders()
        if let type = response.headers["Content-Type"] { headers.add("Content-Type", type) }
        recording.add(.init(kind: kind, request: FetchRecording.RequestKey(method: next.method.rawValue, url: next.url, body: next.body),
                            status: 200, headers: headers, body: body,
                            note: "\(note): this page was not requested; it answers the next request with no records, which ends the run"))
    }

    /// The `total` expression of offset or page pagination, and the value that makes a replay stop after `limit` pages.
    private func totalAndCap(_ pagination: Pagination, limit: Int) -> (JQExpression?, Int?) {
        switch pagination.strategy {
        case .offset(_, _, let size, let start, _, let total): (total, start + limit * size)
        case .page(_, _, _, _, _, let total): (total, limit)
        default: (nil, nil)
        }
    }
}
