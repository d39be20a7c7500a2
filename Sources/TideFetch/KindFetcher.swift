import Foundation
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// One page of records of a kind, as the API returned it.
///
/// Holds libjq values: use it in the task that fetched it (do not send it to another task).
public struct FetchedPage {
    /// The page's records, parsed once, ready for mapping.
    public let records: [JSON]
    /// 1-based page number within its pagination run (which restarts for each parent record).
    public let number: Int
    /// The parent record this page belongs to, for a kind with `parent:`.
    public let parent: JSON?
    /// `METHOD URL` of the request that returned the page, with secrets redacted (for logs).
    public let request: String
    /// Set when a `responses` rule said to skip: why (the status or the rule), and the run it
    /// ended has no records. A resync keeps the resource's stale entities after one.
    public var skipped: String? = nil
}

/// What one pagination run is bound to: a parent record, a partition's value (`.partition` in
/// templates). Both are nil for a kind read whole. Holds libjq values: build it in the task that
/// uses it.
public struct RunBinding {
    public var parent: JSON?
    public var partition: JSON?
    public init(parent: JSON? = nil, partition: JSON? = nil) {
        self.parent = parent
        self.partition = partition
    }
}

/// Fetches the pages of one kind, one request per `next()` call, for one resource's selector.
///
/// Pull-based so that memory stays bounded by one page (plus, for a kind with a parent, one page
/// of parent records): nothing is read ahead and nothing accumulates. Not `Sendable`: it owns
/// compiled jq programs and libjq values, so use it from a single task (sequential use across
/// suspension points is fine). Several fetchers may share one `FetchSession` from different tasks.
///
/// After an error, or once the last page has been returned, `next()` returns nil.
public final class KindFetcher: PageSource {
    public let kind: String
    let session: FetchSession
    let program: KindProgram
    let context: JSON
    let parentFetcher: (any PageSource)?
    /// The parent record of a fetcher bound to one run.
    private var boundParent: JSON?
    /// The partition's value as JSON text, for a fetcher bound to one partition.
    private let boundPartition: String?
    /// An incremental pass's cursors (`.cursor` in templates); nil in full resyncs and refetches.
    private let cursors: SyncCursors?
    /// Keys of the runs read to their end (not skipped, not failed), for a kind with
    /// `incremental`: the runs whose cursor the pass may move.
    public private(set) var completedRuns: [String] = []

    private var parentRecords: [JSON] = []
    private var parentIndex = 0
    private var run: PaginationRun?
    private var finished = false
    /// For a kind without a parent: its single run has begun.
    private var startedRun = false
    /// Set by `parseOnly(recordPaths:)`: what a response is parsed into.
    private var pagePlan: JSONProjectionPlan?
    /// Requests already on their way for the current run's next pages, in page order (offset and
    /// page pagination once a page has told the total; see `readAhead`).
    private var ahead: [Ahead] = []

    /// A page requested before its turn: where it starts, and its request in flight.
    private struct Ahead {
        var position: Int
        var requestLine: String
        var task: Task<Result<(HTTPRequest, HTTPResponse), FetchError>, Never>
    }

    /// Pages requested ahead at most, when the total is known. The host's request budget decides
    /// how many are really in flight; this bounds the memory of responses waiting their turn.
    public static let pagesAhead = 4

    deinit { for page in ahead { page.task.cancel() } }

    /// - Parameter selector: the resource's selector values, each as JSON text; they overlay the
    ///   kind's `selector` defaults. Keys the kind does not declare are passed through (Port's
    ///   selectors carry `query` for the mapping).
    public convenience init(session: FetchSession, kind: String, selector: [String: String] = [:]) throws(Diagnostics) {
        try self.init(compiled: CompiledKind(session: session, kind: kind), selector: selector)
    }

    /// A fetcher from a kind compiled before: no template or jq is compiled again, so a webhook
    /// refetch costs its request, not a compile. `compiled` is used by this fetcher's task only.
    ///
    /// - Parameter binding: when given, the fetcher reads one pagination run bound to it (a parent
    ///   record, a partition's value) instead of reading the kind's parents itself: what
    ///   `ConcurrentKindFetcher` gives each of its runs.
    /// - Parameter cursors: for an incremental pass, the resource's cursors.
    public init(compiled: CompiledKind, selector: [String: String] = [:], binding: RunBinding? = nil,
                cursors: SyncCursors? = nil) throws(Diagnostics) {
        let definition = compiled.program.definition
        self.cursors = cursors
        boundPartition = binding?.partition.flatMap { $0.isNull ? nil : $0.serialized() }
        let kind = definition.name
        self.kind = kind
        session = compiled.session
        program = compiled.program

        var diagnostics: [Diagnostic] = []
        var members: [(String, JSON)] = []
        func parse(_ text: String, _ name: String, _ location: SourceLocation?) -> JSON {
            do { return try JSON(parsing: text) } catch {
                diagnostics.append(Diagnostic(at: location, "selector value \"\(name)\" of kind \"\(kind)\" is not JSON text: \(error.message)",
                                              rule: "selector"))
                return .null
            }
        }
        for field in definition.selector {
            let value = selector[field.name].map { parse($0, field.name, nil) }
                ?? field.defaultValue.map { parse($0, field.name, field.location) } ?? .null
            members.append((field.name, value))
        }
        let declared = Set(definition.selector.map(\.name))
        for name in selector.keys.sorted() where !declared.contains(name) {
            members.append((name, parse(selector[name]!, name, nil)))
        }
        if !diagnostics.isEmpty { throw Diagnostics(diagnostics) }
        context = JSON(object: ["config": compiled.config, "selector": JSON(orderedObject: members),
                                "partition": binding?.partition ?? .null])

        // The parent kind is read with its own defaults, as the format says.
        if let binding {
            parentFetcher = nil
            boundParent = binding.parent
        } else {
            // A parent kind this resync reads once for every child shares that read.
            let session = compiled.session
            if let parent = compiled.parent {
                if let shared = session.sharedReads.reader(of: parent.kind, session: session) {
                    parentFetcher = shared
                } else {
                    parentFetcher = try KindFetcher(compiled: parent)
                }
            } else {
                parentFetcher = nil
            }
        }
    }

    /// Parse responses only as far as `recordPaths` (what the mapping reads of each record), the
    /// `records` expression and pagination need; the rest of each body is skipped without being
    /// built. A response the partial parser cannot vouch for is parsed whole, as without this.
    public func parseOnly(recordPaths: JSONProjection) {
        pagePlan = program.pagePlan(recordPaths: recordPaths)
    }

    /// True when the records of a page share no libjq value with each other or with this fetcher
    /// once `next()` returned, so they may be mapped on other threads while it fetches on.
    public var recordsAreIndependent: Bool { program.recordsArePlainPath }

    /// The next page, or nil when the kind has no more. Sends at most one request of this kind
    /// (plus, for a kind with a parent, the parent's requests when a new parent page is needed).
    public func next() async throws(FetchError) -> FetchedPage? {
        while !finished {
            if var current = run {
                if current.finished {
                    dropAhead()
                    if !current.skipped, let key = current.key { completedRuns.append(key) }
                    run = nil
                    continue
                }
                do {
                    let page = try await fetchPage(&current)
                    run = current
                    return page
                } catch {
                    dropAhead()
                    finished = true
                    run = nil
                    throw error
                }
            }
            guard let parentFetcher else {
                if !startedRun {
                    startedRun = true
                    run = startRun(parent: boundParent)
                    continue
                }
                finished = true
                break
            }
            if parentIndex < parentRecords.count {
                run = startRun(parent: parentRecords[parentIndex])
                parentIndex += 1
                continue
            }
            do {
                guard let page = try await parentFetcher.next() else {
                    finished = true
                    parentRecords = []
                    break
                }
                parentRecords = page.records
                parentIndex = 0
            } catch {
                finished = true
                var error = error
                if error.whileFetchingParentsOf == nil { error.whileFetchingParentsOf = kind }
                throw error
            }
        }
        return nil
    }

    /// A run's state, with its key and `.cursor` when the kind is incremental.
    private func startRun(parent: JSON?) -> PaginationRun {
        var run = PaginationRun(program: program, parent: parent, redactor: session.redactor)
        guard program.definition.incremental != nil else { return run }
        if let parent {
            run.key = program.runKey(parent: parent)
        } else {
            run.key = boundPartition ?? ""
        }
        run.syncCursor = cursors?.cursor(forRun: run.key)
        return run
    }

    // MARK: One page

    private func fetchPage(_ run: inout PaginationRun) async throws(FetchError) -> FetchedPage {
        let number = run.pagesRead + 1
        var requestLine: String?
        func fail(_ error: FetchError) -> FetchError {
            var error = error
            error.kind = kind
            error.page = number
            if error.request == nil { error.request = requestLine }
            error.parentRecord = run.parentExcerpt
            return error.redacted(with: session.redactor)
        }

        if let maxPages = program.definition.pagination.maxPages, run.pagesRead >= maxPages {
            throw fail(FetchError(.tooManyPages, message: "there are more than \(maxPages) pages (pagination.maxPages)",
                                  hint: "raise pagination.maxPages, or narrow the selector so fewer records match"))
        }

        // Build the request and send it, unless it went ahead of its turn.
        let pageState = program.pagination.pageState(run).json
        var request: HTTPRequest
        let response: HTTPResponse
        if let first = ahead.first, let readAhead = program.pagination.readAhead, first.position == readAhead.position(run) {
            ahead.removeFirst()
            requestLine = first.requestLine
            switch await first.task.value {
            case .success(let sent): (request, response) = sent
            case .failure(let error):
                if let skipped = skip(error, &run, number: number, requestLine: first.requestLine) { return skipped }
                throw fail(error)
            }
        } else {
            dropAhead()
            let built: (request: HTTPRequest, login: LoginAuth?)
            do { built = try makeRequest(for: run) } catch { throw fail(error) }
            request = built.request
            requestLine = "\(request.method) \(request.url)"
            if program.pagination.tracksURLs { run.seen.insert(request.url) }
            do { response = try await session.send(&request, login: built.login) } catch {
                if let skipped = skip(error, &run, number: number, requestLine: "\(request.method) \(request.url)") { return skipped }
                throw fail(error)
            }
        }
        // Records leave with the page, possibly to other threads: nothing here may keep the body.
        defer { program.releaseInputs() }

        // Read it.
        let body: JSON
        if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            body = .null  // 204 or an empty body: no records
        } else {
            let parsed = response.body.withUnsafeBufferPointer { bytes in
                if let pagePlan, let value = JSON.parse(bytes: UnsafeRawBufferPointer(bytes), projection: pagePlan) {
                    return Result<JSON, JSONParseError>.success(value)
                }
                return Result { () throws(JSONParseError) -> JSON in try JSON(parsing: bytes) }
            }
            switch parsed {
            case .success(let value): body = value
            case .failure(let error):
                let type = response.headers["Content-Type"].map { " (Content-Type: \($0))" } ?? ""
                throw fail(FetchError(.malformedJSON, status: response.status,
                                      message: "the response\(type) is not valid JSON: \(error.message)",
                                      bodyExcerpt: session.redactor.excerpt(response.text, limit: 200),
                                      hint: "check the request's URL and that the API is asked for JSON (an Accept: application/json header)"))
            }
        }
        // GraphQL answers its errors with 200: any error fails the page, partial data or not.
        if program.definition.request.isGraphQL, let errors = body["errors"], errors.kind == .array, !errors.arrayElements.isEmpty {
            let messages = errors.arrayElements.prefix(3).map { $0["message"]?.stringValue ?? $0.serialized() }
            throw fail(FetchError(.unexpectedRecords, status: response.status,
                                  message: "the GraphQL response has \(errors.arrayElements.count) error\(errors.arrayElements.count == 1 ? "" : "s"): \(session.redactor.redact(messages.joined(separator: "; "))), so the page is treated as failed and nothing of kind \"\(kind)\" is deleted",
                                  hint: "check the query and its variables against the API's schema (the errors above say where)"))
        }
        // An error answered as a 2xx (`responses` rules with `when`), before reading records.
        let input = JSON(object: ["body": body, "headers": Self.headersObject(response.headers), "page": pageState])
        if let (index, rule) = try matchingBodyRule(input, fail: fail) {
            let line = "\(request.method) \(session.redactor.redactURL(request.url))"
            guard rule.action == .skip else {
                throw fail(FetchError(.unexpectedRecords, status: response.status,
                                      message: "the response matches responses[\(index)] (when: \(rule.when?.source ?? "")), which says it failed, so nothing of kind \"\(kind)\" is deleted",
                                      bodyExcerpt: session.redactor.excerpt(response.text, limit: 300),
                                      hint: "the API answered an error with status \(response.status); see the response above"))
            }
            return skippedPage(&run, number: number, request: line, reason: "the response matches responses[\(index)] (when: \(rule.when?.source ?? ""))")
        }
        let records: [JSON]
        do { records = try program.records(of: body, parent: run.parent) } catch {
            var error = error
            // The response as it came (the parsed body may hold only the parts the mapping reads).
            if error.reason == .unexpectedRecords, !response.body.isEmpty {
                error.bodyExcerpt = session.redactor.excerpt(response.text, limit: 300)
            }
            throw fail(error)
        }

        // Decide whether there is a next page.
        let base = response.url.isEmpty ? request.url : response.url
        do { try advance(&run, records: records.count, input: input, response: response, base: base) } catch { throw fail(error) }
        run.pagesRead = number
        if FetchRecording.current != nil {
            recordingCut(&run, number: number, request: request, response: response, input: input)
        }
        readAhead(run)
        return FetchedPage(records: records, number: number, parent: run.parent,
                           request: "\(request.method) \(session.redactor.redactURL(request.url))")
    }

    /// A page without records that ends `run`, when a `responses` rule says to skip `error`'s status.
    private func skip(_ error: FetchError, _ run: inout PaginationRun, number: Int, requestLine: String) -> FetchedPage? {
        guard let status = error.status, let (index, rule) = program.statusRule(status), rule.action == .skip else { return nil }
        return skippedPage(&run, number: number, request: session.redactor.redact(requestLine),
                           reason: "the API answered \(status), which responses[\(index)] skips")
    }

    private func skippedPage(_ run: inout PaginationRun, number: Int, request: String, reason: String) -> FetchedPage {
        dropAhead()
        run.finished = true
        run.skipped = true
        run.pagesRead = number
        var page = FetchedPage(records: [], number: number, parent: run.parent, request: request)
        page.skipped = reason + (run.parentExcerpt.map { " (parent \($0))" } ?? "")
        return page
    }

    /// The first `responses` rule with `when` that is true for this response.
    private func matchingBodyRule(_ input: JSON, fail: (FetchError) -> FetchError) throws(FetchError) -> (Int, ResponseRule)? {
        for (index, test) in program.bodyRules {
            if Self.isTrue(try evaluate(test, input, field: "responses[\(index)].when")) { return (index, definitionRule(index)) }
        }
        return nil
    }

    private func definitionRule(_ index: Int) -> ResponseRule { program.definition.responses[index] }

    /// The request for `run`'s current page, with credentials for the API's own origin, and the
    /// login scheme to send it with.
    func makeRequest(for run: PaginationRun) throws(FetchError) -> (request: HTTPRequest, login: LoginAuth?) {
        var context = self.context.setting("parent", to: run.parent ?? .null).setting("page", to: program.pagination.pageState(run).json)
        // Absent, `.cursor` reads as null: only an incremental pass's runs set it.
        if let cursor = run.syncCursor { context = context.setting("cursor", to: cursor) }
        var rendered = try program.request.render(context)
        program.pagination.apply(run, to: &rendered)
        // Credentials go only to the API's own origin (http.baseUrl's), never to a host a next
        // link points at; a host outside the policy is refused by the client before any byte.
        let sendCredentials = session.originPolicy.decide(rendered.url) == .withCredentials
        if sendCredentials { session.addStaticCredentials(to: &rendered) }
        var request = rendered.httpRequest()
        request.originPolicy = session.originPolicy
        request.alsoRetriedStatuses = program.retriedStatuses
        var login: LoginAuth?
        if sendCredentials, case .login(let scheme) = session.auth { login = scheme }
        return (request, login)
    }

    /// Once a page has told how many there are (offset or page pagination with `total`), the next
    /// pages are requested without waiting for this one to be read: up to `pagesAhead`, never past
    /// the total or `maxPages`. They are read in order, exactly as if fetched one by one; a page
    /// that ends the run early (empty, or `stop`) cancels the rest.
    private func readAhead(_ run: PaginationRun) {
        guard !run.finished, let total = run.knownTotal, let readAhead = program.pagination.readAhead else { return }
        // Under `tide record`, never past the pages a run keeps.
        let maxPages = min(program.definition.pagination.maxPages ?? Int.max, FetchRecording.current?.pagesPerRun ?? Int.max)
        while ahead.count < Self.pagesAhead {
            // The pages already ahead are the run's next ones in order; this one follows them.
            var next = run
            for _ in 0..<ahead.count { readAhead.step(&next) }
            let pageIndex = run.pagesRead + ahead.count + 1
            guard pageIndex <= maxPages, readAhead.isWithin(total: total, pageIndex: pageIndex, run: next),
                  let built = try? makeRequest(for: next) else { return }
            let request = built.request
            let session = self.session, login = built.login
            let task = Task { () -> Result<(HTTPRequest, HTTPResponse), FetchError> in
                var request = request
                do throws(FetchError) {
                    let response = try await session.send(&request, login: login)
                    return .success((request, response))
                } catch {
                    return .failure(error)
                }
            }
            ahead.append(Ahead(position: readAhead.position(next), requestLine: "\(request.method) \(request.url)", task: task))
        }
    }

    private func dropAhead() {
        for page in ahead { page.task.cancel() }
        ahead = []
    }

    /// Moves `run` to its next page, or marks it finished: what every type shares here (an empty
    /// page ends the run whatever the API says about more, which guards against loops; so does
    /// `stop`), the rest by the kind's pagination type.
    private func advance(_ run: inout PaginationRun, records: Int, input: JSON, response: HTTPResponse, base: String) throws(FetchError) {
        let page = PageReading(records: records, input: input, response: response, base: base, kind: kind,
                               redactor: session.redactor, hasStop: program.stop != nil)
        if records == 0 {
            run.finished = true
            return
        }
        if let stop = program.stop, Self.isTrue(try page.evaluate(stop, field: "pagination.stop")) {
            run.finished = true
            return
        }
        try program.pagination.advance(&run, after: page)
    }

    private func evaluate(_ program: JQProgram, _ input: JSON, field: String) throws(FetchError) -> JSON? {
        do { return try program.first(input) } catch {
            throw FetchError(.evaluation, message: "\(field) failed on the response: \(error.description)",
                             hint: "check \(field) of kind \"\(kind)\" against the API's response")
        }
    }

    /// jq's truth: everything but false and null.
    static func isTrue(_ value: JSON?) -> Bool {
        guard let value, !value.isNull else { return false }
        return value.boolValue != false
    }

    /// Response headers as `$headers`: lower-case names; repeated fields joined with ", " (RFC 9110 §5.3).
    static func headersObject(_ headers: HTTPHeaders) -> JSON {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for field in headers {
            let name = field.name.lowercased()
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(field.value)
        }
        return JSON(orderedObject: order.map { ($0, JSON(values[$0]!.joined(separator: ", "))) })
    }

}

/// A kind's request, records and pagination compiled once, with its parent kind's, ready to make
/// fetchers from (`KindFetcher(compiled:selector:)`). Owns jq programs and libjq values: use it
/// from one task at a time, and one fetcher of it at a time.
public final class CompiledKind {
    let session: FetchSession
    let program: KindProgram
    let parent: CompiledKind?
    let config: JSON

    public init(session: FetchSession, kind: String) throws(Diagnostics) {
        guard let definition = session.integration.kind(kind) else {
            let names = session.integration.kinds.map(\.name)
            let suggestion = DidYouMean.closest(to: kind, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw Diagnostics([Diagnostic(at: nil, "kind \"\(kind)\" is not defined by integration \"\(session.integration.name)\"\(suggestion)",
                                          rule: "unknown-kind", hint: "its kinds are: \(names.joined(separator: ", "))")])
        }
        self.session = session
        var compiler = Compiler()
        let program = KindProgram(definition, integration: session.integration, compiler: &compiler)
        try compiler.finish()
        guard let program else { throw Diagnostics(compiler.diagnostics) }
        self.program = program
        do { config = try JSON(parsing: session.configText) } catch {
            throw Diagnostics([Diagnostic(at: nil, "configuration: \(error.message)", rule: "config")])
        }
        parent = try definition.parent.map { name throws(Diagnostics) in try CompiledKind(session: session, kind: name) }
    }

    /// Another copy of `first` for a run of its own (see `ConcurrentKindFetcher`): its response
    /// programs compiled again, its request shared. Reads no parents itself: give its fetchers a
    /// binding.
    init(sharingRequestOf first: CompiledKind) throws(Diagnostics) {
        session = first.session
        var compiler = Compiler()
        let program = KindProgram(first.program.definition, integration: session.integration, compiler: &compiler,
                                  sharedRequest: first.program.request)
        try compiler.finish()
        guard let program else { throw Diagnostics(compiler.diagnostics) }
        self.program = program
        do { config = try JSON(parsing: session.configText) } catch {
            throw Diagnostics([Diagnostic(at: nil, "configuration: \(error.message)", rule: "config")])
        }
        parent = nil
    }

    public var kind: String { program.definition.name }
}

/// The state of one pagination run: one kind, for one parent record (or none).
struct PaginationRun {
    let parent: JSON?
    /// A short excerpt of the parent record for error messages.
    let parentExcerpt: String?
    var offset = 0
    var pageNumber = 1
    var cursor: JSON?
    /// The URL of the next request, for nextUrl and linkHeader.
    var nextURL: String?
    /// Origin of the run's first request; credentials are sent only there.
    var pagesRead = 0
    var finished = false
    /// A `responses` rule ended the run: its records are unknown.
    var skipped = false
    /// The run's key among the resource's cursors (kinds with `incremental` only).
    var key: String?
    /// What templates see as `.cursor` (null outside incremental passes).
    var syncCursor: JSON?
    /// Cursors received and URLs requested, to stop a loop. Grows with pages, not records.
    var seen: Set<String> = []
    /// What `pagination.total` said (records for offset, pages for page pagination).
    var knownTotal: Double?

    init(program: KindProgram, parent: JSON?, redactor: Redactor) {
        self.parent = parent
        parentExcerpt = parent.map { redactor.excerpt($0.serialized(), limit: 120) }
        program.pagination.begin(&self)
    }
}

/// A kind's request, records and pagination, compiled. Not thread-safe (it owns jq programs).
final class KindProgram {
    let definition: KindDefinition
    /// Shared with the other runs of the kind read side by side (`CompiledKind(sharingRequestOf:)`).
    let request: SharedRequest
    let recordsProgram: JQProgram
    /// `records` is written as a stream (`.values[]`): each output object is a record.
    let recordsGiveStream: Bool
    /// The kind's `pagination.type`.
    let pagination: any PaginationStrategy
    let stop: JQProgram?
    /// `responses` rules with `when`, by their index, compiled.
    let bodyRules: [(Int, JQProgram)]
    /// Statuses `responses` rules retry.
    let retriedStatuses: Set<Int>
    /// `incremental.key` of a kind with a parent, over `{parent}`.
    let runKeyProgram: JQProgram?

    /// nil when something does not compile (the compiler has the diagnostics).
    /// - Parameter sharedRequest: the request another program of the kind compiled, to share.
    init?(_ kind: KindDefinition, integration: Integration, compiler: inout Compiler, sharedRequest: SharedRequest? = nil) {
        let before = compiler.diagnostics.count
        let name = "kind \"\(kind.name)\""
        definition = kind
        request = sharedRequest ?? SharedRequest(CompiledRequest(kind.request, http: integration.http, compiler: &compiler))
        // `records` sees the parent record as `$parent`, as templates see `.parent`, so a child
        // record can carry what it needs of its parent into the mapping.
        let records = compiler.program(kind.records, what: "records of \(name)", seesParent: true)
        stop = kind.pagination.stop.flatMap { compiler.program($0, what: "pagination.stop of \(name)", seesResponse: true) }
        bodyRules = kind.responses.indices.compactMap { index in
            kind.responses[index].when.flatMap { compiler.program($0, what: "responses[\(index)].when of \(name)", seesResponse: true) }
                .map { (index, $0) }
        }
        retriedStatuses = Set(kind.responses.filter { $0.action == .retry }.flatMap(\.statuses))
        runKeyProgram = kind.parent == nil ? nil
            : kind.incremental.flatMap { compiler.program($0.key, what: "incremental.key of \(name)") }
        let pagination = PaginationStrategies.make(kind.pagination, kind: kind.name, compiler: &compiler)
        guard compiler.diagnostics.count == before, let records, let pagination else { return nil }
        recordsProgram = records
        recordsGiveStream = JQStreamShape.givesStream(kind.records.source)
        self.pagination = pagination
    }

    /// The plan `pageProjection` gives, made once per `recordPaths`: analysing the expressions
    /// compiles jq, which would cost each partition's fetcher tens of milliseconds.
    private var cachedPlan: (paths: JSONProjection, plan: JSONProjectionPlan?)?

    func pagePlan(recordPaths: JSONProjection) -> JSONProjectionPlan? {
        if let cachedPlan, cachedPlan.paths == recordPaths { return cachedPlan.plan }
        let page = pageProjection(recordPaths: recordPaths)
        let plan = page.isWhole ? nil : JSONProjectionPlan(page)
        cachedPlan = (recordPaths, plan)
        return plan
    }

    /// What a response body must keep for `records` (with `recordPaths` read of every record)
    /// and for pagination. Each expression is analysed with the variables it sees bound to
    /// values that are not the body.
    func pageProjection(recordPaths: JSONProjection) -> JSONProjection {
        // `records` may give an array of records or the records themselves.
        let outputs = recordPaths.union(recordPaths.grafted(under: [.elements]))
        var page = JSONProjection.analyzing("null as $parent | (\(definition.records.source)\n)", outputs: outputs)
        // Pagination and `responses` tests read the body too.
        let graphQLErrors = definition.request.isGraphQL ? [JQExpression(".errors")] : []
        let paginationExpressions = [definition.pagination.stop] + pagination.expressions + definition.responses.map(\.when) + graphQLErrors
        for expression in paginationExpressions.compactMap({ $0 }) {
            page.formUnion(JSONProjection.analyzing("null as $headers | null as $page | (\(expression.source)\n)"))
        }
        return page
    }

    /// A parent record's run key (`incremental.key` over `{parent}`) as JSON text; nil when it
    /// gives null or fails: that run keeps no cursor and is read whole in every pass.
    func runKey(parent: JSON) -> String? {
        guard let runKeyProgram, let value = try? runKeyProgram.first(JSON(object: ["parent": parent])), !value.isNull else { return nil }
        return value.serialized()
    }

    /// The first `responses` rule that names `status`, with its index.
    func statusRule(_ status: Int) -> (Int, ResponseRule)? {
        definition.responses.enumerated().first { $0.element.statuses.contains(status) }.map { ($0.offset, $0.element) }
    }

    /// Releases what the programs that read a response still hold of it (`JQProgram.releaseInput`).
    func releaseInputs() {
        recordsProgram.releaseInput()
        stop?.releaseInput()
        for (_, rule) in bodyRules { rule.releaseInput() }
        for program in pagination.programs { program.releaseInput() }
    }

    /// Whether `records` is a plain path into the body (`.`, `.values`, `.data.items[]`): its
    /// records are then disjoint parts of the body, sharing no libjq value with each other or
    /// with anything the fetcher keeps.
    var recordsArePlainPath: Bool {
        let text = definition.records.source.trimmingCharacters(in: .whitespacesAndNewlines)
        return text == "." || text.wholeMatch(of: /(\.[A-Za-z_][A-Za-z0-9_]*|\.?\[\]|\.?\["[^"\\]*"\])+/) != nil
    }


    /// `records` over a response body (with `$parent`). An array gives its elements; an expression
    /// written as a stream (`.values[]`) gives one record per output. Anything else means the
    /// response is not the list the kind expects (an error body, a missing key, an empty body),
    /// and the page fails, so that nothing is deleted on its account, unless the kind says an
    /// object is one record (`objectIsOneRecord`) or null means none (`nullIsEmpty`).
    func records(of body: JSON, parent: JSON? = nil) throws(FetchError) -> [JSON] {
        let outputs: [JSON]
        do { outputs = try recordsProgram.all(JSON(object: ["body": body, "parent": parent ?? .null])) } catch {
            throw FetchError(.evaluation, message: "records \"\(definition.records.source)\" failed on the response: \(error.description)",
                             hint: "check records of kind \"\(definition.name)\" against the API's response")
        }
        let stream = outputs.count > 1 || recordsGiveStream
        var records: [JSON] = []
        for output in outputs {
            switch output.kind {
            case .array: records += output.arrayElements
            case .object where stream || definition.objectIsOneRecord: records.append(output)
            case .null where definition.nullIsEmpty: break
            default: throw unexpected(output, body: body)
            }
        }
        return records
    }

    /// The error for a `records` output that is not a list of records.
    private func unexpected(_ output: JSON, body: JSON) -> FetchError {
        let name = definition.name, source = definition.records.source
        let gave: String
        let hint: String
        switch output.kind {
        case .null:
            gave = body.isNull ? "null: the response body is empty" : "null: the response has no such list"
            hint = "if this API answers no list when kind \"\(name)\" has no records, set nullIsEmpty: true on the kind; otherwise check the request (the body may be an error)"
        case .object:
            gave = "an object, not a list of records"
            hint = "if this endpoint answers one record as an object, set objectIsOneRecord: true on kind \"\(name)\"; otherwise point records at the array in the response"
        default:
            gave = "a \(output.kind), not a list of records"
            hint = "point records of kind \"\(name)\" at the array of records in the response (for example .values)"
        }
        return FetchError(.unexpectedRecords,
                          message: "records \"\(source)\" gave \(gave), so the page is treated as failed and nothing of kind \"\(name)\" is deleted",
                          hint: hint)
    }
}
