import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// One `pagination.type`: where a run starts, what each page's request carries, and how the next
/// page is found. `KindFetcher` drives every type the same way and knows none of them; what every
/// type shares (an empty page ends the run, `stop`, `maxPages`) stays in the fetcher.
protocol PaginationStrategy {
    /// Sets where a run starts.
    func begin(_ run: inout PaginationRun)
    /// Puts the run's position into the page's request.
    func apply(_ run: PaginationRun, to request: inout RenderedRequest)
    /// What `.page` (templates) and `$page` (expressions) say of the run.
    func pageState(_ run: PaginationRun) -> PageState
    /// Moves `run` past a page that had records and no `stop`, or marks it finished.
    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError)
    /// The type's expressions over responses, as written (for partial parsing).
    var expressions: [JQExpression] { get }
    /// The type's programs over responses (released after each page).
    var programs: [JQProgram] { get }
    /// How to request pages before their turn, for types whose first page can tell the total.
    var readAhead: (any ReadAhead)? { get }
    /// Whether requested URLs are remembered to catch a next link that loops.
    var tracksURLs: Bool { get }
}

extension PaginationStrategy {
    var expressions: [JQExpression] { [] }
    var programs: [JQProgram] { [] }
    var readAhead: (any ReadAhead)? { nil }
    var tracksURLs: Bool { false }
}

/// Pages named by a number the fetcher can compute (an offset, a page number): once a page has
/// told the total, the next ones can be requested without waiting for each other.
protocol ReadAhead {
    /// Where the current page starts: the offset, or the page number.
    func position(_ run: PaginationRun) -> Int
    /// To the page after this one, as `advance` moves after a full page.
    func step(_ run: inout PaginationRun)
    /// Whether the run's current page, the `pageIndex`-th, is within what `total` said.
    func isWithin(total: Double, pageIndex: Int, run: PaginationRun) -> Bool
}

/// `.page` in templates and `$page` in expressions; what a type does not use stays null.
struct PageState {
    var offset: Int?
    var page: Int?
    var cursor: JSON?
    var limit: Int?
    var size: Int?

    var json: JSON {
        func number(_ value: Int?) -> JSON { value.map { JSON($0) } ?? .null }
        return JSON(object: ["offset": number(offset), "page": number(page), "cursor": cursor ?? .null,
                             "limit": number(limit), "size": number(size)])
    }
}

/// What a page's response offers the type deciding the next page: the body with `$headers` and
/// `$page` (as `input`), the response, and the fetcher's way of evaluating and reporting.
struct PageReading {
    let records: Int
    let input: JSON
    let response: HTTPResponse
    /// The URL the page came from, which a relative next link is resolved against.
    let base: String
    let kind: String
    let redactor: Redactor
    /// Whether `stop` was given (a short page then does not end offset and page pagination).
    let hasStop: Bool

    func evaluate(_ program: JQProgram, field: String) throws(FetchError) -> JSON? {
        do { return try program.first(input) } catch {
            throw FetchError(.evaluation, message: "\(field) failed on the response: \(error.description)",
                             hint: "check \(field) of kind \"\(kind)\" against the API's response")
        }
    }

    func number(_ program: JQProgram, field: String) throws(FetchError) -> Double? {
        guard let value = try evaluate(program, field: field), !value.isNull else { return nil }
        if let number = value.numberValue ?? value.stringValue.flatMap(Double.init) { return number }
        throw FetchError(.evaluation, message: "\(field) gave \(redactor.excerpt(value.serialized(), limit: 80)), not a number")
    }

    /// Points `run` at the page `reference` names, refusing a URL already read.
    func follow(_ reference: String, run: inout PaginationRun) throws(FetchError) {
        let resolved = URLText.resolve(reference, against: base)
        guard URLText.isAbsolute(resolved) else {
            throw FetchError(.evaluation, message: "the next page's URL \"\(reference)\" cannot be resolved against \(base)")
        }
        guard !run.seen.contains(resolved) else {
            throw FetchError(.repeatedURL, message: "the API pointed to \(resolved) as the next page, which was already read, so pagination would loop",
                             hint: "check the pagination's next expression (or Link rel) against the API's responses")
        }
        run.nextURL = resolved
    }
}

/// Makes the strategy a kind's `pagination` names, its expressions compiled.
enum PaginationStrategies {
    /// nil when an expression does not compile (the compiler has the diagnostics).
    static func make(_ pagination: Pagination, kind name: String, compiler: inout Compiler) -> (any PaginationStrategy)? {
        func response(_ expression: JQExpression?, _ field: String) -> JQProgram? {
            expression.flatMap { compiler.program($0, what: "pagination.\(field) of kind \"\(name)\"", seesResponse: true) }
        }
        switch pagination.strategy {
        case .none:
            return NoPagination()
        case .offset(let offsetParam, let limitParam, let limit, let start, let inBody, let total):
            let program = response(total, "total")
            if total != nil, program == nil { return nil }
            return OffsetPagination(offsetParam: offsetParam, limitParam: limitParam, limit: limit, start: start, inBody: inBody,
                                    total: total.flatMap { expression in program.map { (expression, $0) } })
        case .page(let pageParam, let sizeParam, let size, let start, let inBody, let total):
            let program = response(total, "total")
            if total != nil, program == nil { return nil }
            return PageNumberPagination(pageParam: pageParam, sizeParam: sizeParam, size: size, start: start, inBody: inBody,
                                        total: total.flatMap { expression in program.map { (expression, $0) } })
        case .cursor(let cursor, let param, let inBody):
            return response(cursor, "cursor").map { CursorPagination(expression: cursor, cursor: $0, param: param, inBody: inBody) }
        case .nextURL(let next):
            return response(next, "next").map { NextURLPagination(expression: next, next: $0) }
        case .linkHeader(let rel):
            return LinkHeaderPagination(rel: rel.lowercased())
        case .graphql(let pageInfo, let variable):
            return response(pageInfo, "pageInfo").map { GraphQLPagination(expression: pageInfo, pageInfo: $0, variable: variable) }
        }
    }
}

/// `type: none`: one request.
struct NoPagination: PaginationStrategy {
    func begin(_ run: inout PaginationRun) {}
    func apply(_ run: PaginationRun, to request: inout RenderedRequest) {}
    func pageState(_ run: PaginationRun) -> PageState { PageState() }
    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError) { run.finished = true }
}

/// Offset and page pagination: a position the fetcher computes from a page size, so pages can go
/// ahead once `total` is known. What they share is written once here.
protocol NumberedPagination: PaginationStrategy, ReadAhead {
    var pageSize: Int { get }
    var total: (expression: JQExpression, program: JQProgram)? { get }
    /// Whether `run`, already moved past its page, has reached what `total` said.
    func reached(_ total: Double, run: PaginationRun) -> Bool
}

extension NumberedPagination {
    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError) {
        step(&run)
        // A short page means the end only when nothing better says so: APIs that cap the page
        // size below the one asked for would otherwise stop after one page.
        if page.records < pageSize, !page.hasStop, total == nil {
            run.finished = true
        } else if let total, let count = try page.number(total.program, field: "pagination.total") {
            run.knownTotal = count
            if reached(count, run: run) { run.finished = true }
        }
    }

    var expressions: [JQExpression] { total.map { [$0.expression] } ?? [] }
    var programs: [JQProgram] { total.map { [$0.program] } ?? [] }
    var readAhead: (any ReadAhead)? { self }
}

/// `type: offset`: an offset and a page size; `total` counts records.
struct OffsetPagination: NumberedPagination {
    let offsetParam: String, limitParam: String
    let limit: Int, start: Int
    let inBody: Bool
    let total: (expression: JQExpression, program: JQProgram)?

    var pageSize: Int { limit }
    func begin(_ run: inout PaginationRun) { run.offset = start }

    func apply(_ run: PaginationRun, to request: inout RenderedRequest) {
        request.set(offsetParam, to: JSON(run.offset), inBody: inBody)
        request.set(limitParam, to: JSON(limit), inBody: inBody)
    }

    func pageState(_ run: PaginationRun) -> PageState { PageState(offset: run.offset, limit: limit) }
    func reached(_ total: Double, run: PaginationRun) -> Bool { Double(run.offset) >= total }

    func position(_ run: PaginationRun) -> Int { run.offset }
    func step(_ run: inout PaginationRun) { run.offset += limit }
    func isWithin(total: Double, pageIndex: Int, run: PaginationRun) -> Bool { Double(run.offset) < total }
}

/// `type: page`: a page number and a page size; `total` counts pages.
struct PageNumberPagination: NumberedPagination {
    let pageParam: String, sizeParam: String
    let size: Int, start: Int
    let inBody: Bool
    let total: (expression: JQExpression, program: JQProgram)?

    var pageSize: Int { size }
    func begin(_ run: inout PaginationRun) { run.pageNumber = start }

    func apply(_ run: PaginationRun, to request: inout RenderedRequest) {
        request.set(pageParam, to: JSON(run.pageNumber), inBody: inBody)
        request.set(sizeParam, to: JSON(size), inBody: inBody)
    }

    func pageState(_ run: PaginationRun) -> PageState { PageState(page: run.pageNumber, size: size) }
    func reached(_ total: Double, run: PaginationRun) -> Bool { Double(run.pagesRead + 1) >= total }

    func position(_ run: PaginationRun) -> Int { run.pageNumber }
    func step(_ run: inout PaginationRun) { run.pageNumber += 1 }
    func isWithin(total: Double, pageIndex: Int, run: PaginationRun) -> Bool { Double(pageIndex) <= total }
}

/// `type: cursor`: a token from each response, sent with the next request.
struct CursorPagination: PaginationStrategy {
    let expression: JQExpression
    let cursor: JQProgram
    let param: String
    let inBody: Bool

    func begin(_ run: inout PaginationRun) {}

    func apply(_ run: PaginationRun, to request: inout RenderedRequest) {
        if let value = run.cursor { request.set(param, to: value, inBody: inBody) }
    }

    func pageState(_ run: PaginationRun) -> PageState { PageState(cursor: run.cursor ?? .null) }

    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError) {
        guard let value = try page.evaluate(cursor, field: "pagination.cursor"), !value.isNull, value.stringValue != "" else {
            run.finished = true
            return
        }
        let key = value.serialized()
        guard run.seen.insert(key).inserted else {
            throw FetchError(.repeatedCursor, message: "the API returned the cursor \(page.redactor.excerpt(key, limit: 80)) a second time, so pagination would loop",
                             hint: "check pagination.cursor and that pagination.param is sent where the API reads it (in: query or body)")
        }
        run.cursor = value
    }

    var expressions: [JQExpression] { [expression] }
    var programs: [JQProgram] { [cursor] }
}

/// `type: nextUrl`: the response gives the next page's URL, used as it is.
struct NextURLPagination: PaginationStrategy {
    let expression: JQExpression
    let next: JQProgram

    func begin(_ run: inout PaginationRun) {}
    func apply(_ run: PaginationRun, to request: inout RenderedRequest) { request.follow(run.nextURL) }
    func pageState(_ run: PaginationRun) -> PageState { PageState() }

    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError) {
        let value = try page.evaluate(next, field: "pagination.next")
        guard let value, !value.isNull, value.stringValue != "" else {
            run.finished = true
            return
        }
        guard let text = value.stringValue else {
            throw FetchError(.evaluation, message: "pagination.next gave \(page.redactor.excerpt(value.serialized(), limit: 80)), not a URL string")
        }
        try page.follow(text, run: &run)
    }

    var expressions: [JQExpression] { [expression] }
    var programs: [JQProgram] { [next] }
    var tracksURLs: Bool { true }
}

/// `type: linkHeader`: RFC 8288's Link header names the next page.
struct LinkHeaderPagination: PaginationStrategy {
    /// Lower-cased.
    let rel: String

    func begin(_ run: inout PaginationRun) {}
    func apply(_ run: PaginationRun, to request: inout RenderedRequest) { request.follow(run.nextURL) }
    func pageState(_ run: PaginationRun) -> PageState { PageState() }

    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError) {
        let links = WebLink.parse(page.response.headers.values(for: "Link"))
        guard let link = links.first(where: { $0.relations.contains(rel) }), !link.target.isEmpty else {
            run.finished = true
            return
        }
        try page.follow(link.target, run: &run)
    }

    var tracksURLs: Bool { true }
}

extension RenderedRequest {
    /// The API's URL used as it is, its query already saying which page (next links).
    mutating func follow(_ next: String?) {
        guard let next else { return }
        url = next
        query = []
    }
}

/// `type: graphql`: a GraphQL cursor connection. `pageInfo.endCursor` goes into the query's
/// `variable` for the next page while `pageInfo.hasNextPage` is true.
struct GraphQLPagination: PaginationStrategy {
    let expression: JQExpression
    let pageInfo: JQProgram
    let variable: String

    func begin(_ run: inout PaginationRun) {}

    func apply(_ run: PaginationRun, to request: inout RenderedRequest) {
        guard let cursor = run.cursor else { return }
        let body = request.body ?? JSON(orderedObject: [])
        let variables = body["variables"].flatMap { $0.kind == .object ? $0 : nil } ?? JSON(orderedObject: [])
        request.body = body.setting("variables", to: variables.setting(variable, to: cursor))
    }

    func pageState(_ run: PaginationRun) -> PageState { PageState(cursor: run.cursor ?? .null) }

    func advance(_ run: inout PaginationRun, after page: PageReading) throws(FetchError) {
        guard let info = try page.evaluate(pageInfo, field: "pagination.pageInfo"), info.kind == .object else {
            throw FetchError(.evaluation, message: "pagination.pageInfo gave no pageInfo object",
                             hint: "point pagination.pageInfo at the connection's pageInfo { endCursor hasNextPage } in the query's response")
        }
        guard info["hasNextPage"]?.boolValue == true, let cursor = info["endCursor"], !cursor.isNull, cursor.stringValue != "" else {
            run.finished = true
            return
        }
        guard run.seen.insert(cursor.serialized()).inserted else {
            throw FetchError(.repeatedCursor, message: "the API returned the cursor \(page.redactor.excerpt(cursor.serialized(), limit: 80)) a second time, so pagination would loop",
                             hint: "check that pagination.variable (\(variable)) is the variable the query passes as after:")
        }
        run.cursor = cursor
    }

    var expressions: [JQExpression] { [expression] }
    var programs: [JQProgram] { [pageInfo] }
}
