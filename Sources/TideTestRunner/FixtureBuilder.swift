import Foundation
import TideCore
import TideFetch
import TideHTTP

/// One recorded exchange as a fixture entry: the request as a replay will send it (its path below
/// the API's base, no credential, secrets and chosen fields replaced) and the response, changed
/// where the recording cut a run short.
struct RecordedEntry {
    enum Body {
        case json(RecordedJSON)
        case text(String)
        case empty
    }

    var name = ""
    var method: String
    /// Percent-decoded, as the API received it (the base URL's path included).
    var path: String
    var query: [(name: String, value: String)]
    var body: RecordedJSON?
    var status: Int
    var headers: [(name: String, value: String)]
    var response: Body
    /// What the recording changed, for the name.
    var notes: [String]
    /// Relative to the fixtures folder, once written.
    var bodyFile: String?

    /// The second scrubbing pass: values replaced anywhere are replaced here too.
    func propagated(_ scrubber: Scrubber) -> RecordedEntry {
        func strings(_ json: RecordedJSON) -> RecordedJSON {
            json.rewritten { value, _, _ in
                if case .string(let text) = value { return .string(scrubber.propagate(text)) }
                return nil
            }
        }
        var entry = self
        entry.path = scrubber.propagate(path)
        entry.query = query.map { ($0.name, scrubber.propagate($0.value)) }
        entry.body = body.map(strings)
        entry.headers = headers.map { ($0.name, scrubber.propagate($0.value)) }
        switch response {
        case .json(let json): entry.response = .json(strings(json))
        case .text(let text): entry.response = .text(scrubber.propagate(text))
        case .empty: break
        }
        return entry
    }

    /// Requests a replay tells apart: entries with the same key answer the same requests.
    var key: String {
        "\(method) \(path)?" + query.map { "\($0.name)=\($0.value)" }.sorted().joined(separator: "&") + " " + (body?.text(pretty: false) ?? "")
    }
}

struct FixtureBuilder {
    let base: LiveBase
    let recording: FetchRecording
    let scrubber: Scrubber
    /// Response headers kept (lower-case).
    let headerNames: Set<String>

    /// The entries for `exchanges` (the first of identical requests kept), then the pages the
    /// recording made up to end runs it cut.
    func entries(from exchanges: [HTTPExchange], notes: inout [String]) -> [RecordedEntry] {
        let edits = Dictionary(grouping: recording.edits, by: \.request)
        var entries: [RecordedEntry] = []
        var seen: Set<String> = []
        var skipped: Set<String> = []
        func add(_ entry: RecordedEntry?) {
            guard let entry, seen.insert(entry.key).inserted else { return }
            entries.append(entry)
        }
        for exchange in exchanges {
            let key = FetchRecording.RequestKey(method: exchange.method, url: exchange.url, body: exchange.requestBody)
            guard let request = request(exchange.method, url: exchange.url, body: exchange.requestBody) else {
                let origin = Self.split(exchange.url)?.origin ?? exchange.url
                if skipped.insert(origin).inserted {
                    notes.append("requests to \(scrubber.secretsReplaced(origin)) are outside http.baseUrl, where a replay serves the fixtures, so they are not recorded")
                }
                continue
            }
            var headers = HTTPHeaders()
            for field in exchange.responseHeaders where headerNames.contains(field.name.lowercased()) { headers.add(field.name, field.value) }
            var body = RecordedJSON.parse(exchange.responseBody)
            var entryNotes: [String] = []
            for edit in edits[key] ?? [] {
                // The same request read for two purposes (a kind, and another's partitions) is cut once.
                if !edit.note.isEmpty, !entryNotes.contains(edit.note) { entryNotes.append(edit.note) }
                for change in edit.edits { apply(change, body: &body, headers: &headers, url: exchange.url) }
            }
            let response: RecordedEntry.Body
            if let body {
                response = .json(scrubber.scrub(body, isResponse: true))
            } else if exchange.responseBody.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) {
                response = .empty
            } else {
                response = .text(scrubber.scrub(String(decoding: exchange.responseBody, as: UTF8.self)))
            }
            add(RecordedEntry(method: request.method, path: request.path, query: request.query, body: request.body,
                              status: exchange.status, headers: rebased(headers, url: exchange.url), response: response,
                              notes: entryNotes))
        }
        for page in recording.syntheticPages {
            guard let request = request(page.request.method, url: page.request.url, body: page.request.body),
                  let body = RecordedJSON.parse(page.body) else { continue }
            add(RecordedEntry(method: request.method, path: request.path, query: request.query, body: request.body,
                              status: page.status, headers: page.headers.map { ($0.name, $0.value) },
                              response: .json(scrubber.scrub(body, isResponse: true)), notes: [page.note]))
        }
        return entries
    }

    /// The request as a fixture matches it; nil when it is not below the API's base.
    func request(_ method: String, url: String, body: [UInt8]?) -> (method: String, path: String, query: [(name: String, value: String)], body: RecordedJSON?)? {
        guard let parts = Self.split(url), parts.origin == base.origin,
              parts.path == base.path || parts.path.hasPrefix(base.path + "/") || base.path.isEmpty else { return nil }
        // The whole path, base path included: a replay serves under http.baseUrl's own path.
        var path = parts.path.removingPercentEncodingLeniently(plusIsSpace: false)
        if !path.hasPrefix("/") { path = "/" + path }
        path = scrubber.scrub(path)
        var query: [(name: String, value: String)] = []
        for pair in (parts.query ?? "").split(separator: "&") {
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(halves[0]).removingPercentEncodingLeniently()
            let value = halves.count > 1 ? String(halves[1]).removingPercentEncodingLeniently() : ""
            // A credential is never written; the replay's placeholder is then not compared either.
            if Redactor.isSecretParameter(name) || scrubber.secretsReplaced(name) != name || scrubber.secretsReplaced(value) != value { continue }
            query.append((name, scrubber.scrub(value)))
        }
        let json = body.flatMap { $0.isEmpty ? nil : RecordedJSON.parse($0) }.map { scrubber.scrub($0, isResponse: false) }
        return (method.uppercased(), path, query, json)
    }

    func apply(_ edit: FetchRecording.Edit, body: inout RecordedJSON?, headers: inout HTTPHeaders, url: String) {
        switch edit {
        case .setBody(let path, let json):
            if var value = body, let replacement = RecordedJSON.parse(json), value.set(replacement, at: path[...]) { body = value }
        case .rebaseURL(let path):
            if var value = body, case .string(let link)? = value.value(at: path[...]),
               value.set(.string(rebase(link, against: url)), at: path[...]) { body = value }
        case .setHeader(let name, let value):
            headers.set(headers.fields.first { $0.name.lowercased() == name }?.name ?? name, value)
        case .dropLink(let rel):
            let kept = headers.values(for: "Link").compactMap { value -> String? in
                let links = Self.links(in: value).filter { link in
                    guard let found = link.firstMatch(of: /(?i)rel\s*=\s*"?([^";]*)"?/) else { return true }
                    return !String(found.1).lowercased().split(separator: " ").contains { $0 == rel }
                }
                return links.isEmpty ? nil : links.joined(separator: ", ")
            }
            headers.remove("Link")
            for value in kept { headers.add("Link", value) }
        }
    }

    /// Link and Location URLs written relative to the API's base, as a replay resolves them.
    func rebased(_ headers: HTTPHeaders, url: String) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        for field in headers {
            var value = field.value
            switch field.name.lowercased() {
            case "link":
                value = Self.links(in: value).map { link in
                    link.replacing(/<([^>]*)>/) { match in "<" + rebase(String(match.1), against: url) + ">" }
                }.joined(separator: ", ")
            case "location": value = rebase(value, against: url)
            default: break
            }
            if let index = out.firstIndex(where: { $0.name.lowercased() == field.name.lowercased() }) {
                out[index].value += ", " + value
            } else {
                out.append((field.name, value))
            }
        }
        return out
    }

    /// `link` as a path from the replay's origin (the base path kept) when it is below the API's
    /// base; else as it was.
    func rebase(_ link: String, against url: String) -> String {
        let absolute = URLText.resolve(link, against: url)
        guard let parts = Self.split(absolute), parts.origin == base.origin,
              base.path.isEmpty || parts.path == base.path || parts.path.hasPrefix(base.path + "/") else { return link }
        var path = parts.path
        if !path.hasPrefix("/") { path = "/" + path }
        return path + (parts.query.map { "?" + $0 } ?? "")
    }

    /// The link-values of a Link header (`<…>; rel="next", <…>; rel="last"`).
    static func links(in value: String) -> [String] {
        value.matches(of: /<[^>]*>[^<]*/).map { String($0.output).trimmingCharacters(in: CharacterSet(charactersIn: " ,")) }
    }

    /// An absolute URL's origin (lower-cased, default port left out), path (as sent) and query.
    static func split(_ url: String) -> (origin: String, path: String, query: String?)? {
        guard let parts = URLText.Parts(url), let scheme = parts.scheme?.lowercased(), var authority = parts.authority?.lowercased() else {
            return nil
        }
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        // The default port left out, as the live base is written.
        if (scheme == "https" && authority.hasSuffix(":443")) || (scheme == "http" && authority.hasSuffix(":80")) {
            authority = String(authority[..<authority.lastIndex(of: ":")!])
        }
        return ("\(scheme)://\(authority)", parts.path.isEmpty ? "/" : parts.path, parts.query)
    }

    // MARK: Writing

    /// Names the entries (unique, saying what the recording changed) and gives their bodies files.
    /// Body files are named from the path below `basePath` (`users-1.json` for `/api/v1/users`).
    static func name(_ entries: inout [RecordedEntry], basePath: String = "") {
        var used: [String: Int] = [:]
        var files: [String: Int] = [:]
        for index in entries.indices {
            let entry = entries[index]
            let query = entry.query.isEmpty ? "" : "?" + entry.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
            var name = "\(entry.method) \(entry.path)\(query)"
            if let body = entry.body { name += " " + body.text(pretty: false) }
            if name.count > 120 { name = String(name.prefix(117)) + "…" }
            if !entry.notes.isEmpty { name += " (" + entry.notes.joined(separator: "; ") + ")" }
            used[name, default: 0] += 1
            if used[name]! > 1 { name += " #\(used[name]!)" }
            entries[index].name = name
            let below = !basePath.isEmpty && entry.path.hasPrefix(basePath + "/") ? String(entry.path.dropFirst(basePath.count)) : entry.path
            let slug = below.split(separator: "/").suffix(2).joined(separator: "-")
                .map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }
            let stem = slug.isEmpty ? "root" : String(slug.prefix(60))
            files[stem, default: 0] += 1
            switch entry.response {
            case .json: entries[index].bodyFile = "bodies/\(stem)-\(files[stem]!).json"
            case .text: entries[index].bodyFile = "bodies/\(stem)-\(files[stem]!).txt"
            case .empty: entries[index].bodyFile = nil
            }
        }
    }

    /// fixtures.yml (and, unless `bodies` is false, the body files) in `folder`.
    static func write(_ entries: [RecordedEntry], to folder: URL, pages: Int, bodies: Bool = true) throws {
        var text = """
            # Recorded by `tide record` from the live API: \(pages) page\(pages == 1 ? "" : "s") per pagination run, secrets
            # replaced by placeholders and personal fields by made-up values. Record again rather than edit.

            """
        for entry in entries {
            text += "- name: \(JSONText.quoted(entry.name))\n"
            text += "  request:\n"
            text += "    method: \(entry.method)\n"
            text += "    path: \(JSONText.quoted(entry.path))\n"
            if !entry.query.isEmpty {
                // One value per name: a repeated parameter is matched by its first value.
                var seen: Set<String> = []
                let pairs = entry.query.filter { seen.insert($0.name).inserted }
                text += "    query: {" + pairs.map { "\(JSONText.quoted($0.name)): \(JSONText.quoted($0.value))" }.joined(separator: ", ") + "}\n"
            }
            if let body = entry.body { text += "    body: \(body.text(pretty: false))\n" }
            text += "  response:\n"
            text += "    status: \(entry.status)\n"
            if !entry.headers.isEmpty {
                text += "    headers: {" + entry.headers.map { "\(JSONText.quoted($0.name)): \(JSONText.quoted($0.value))" }.joined(separator: ", ") + "}\n"
            }
            if let file = entry.bodyFile {
                text += "    body: \(JSONText.quoted(file))\n"
                if bodies {
                    let content: String
                    switch entry.response {
                    case .json(let json): content = json.text() + "\n"
                    case .text(let raw): content = raw
                    case .empty: content = ""
                    }
                    try Data(content.utf8).write(to: folder.appendingPathComponent(file))
                }
            }
        }
        try Data(text.utf8).write(to: folder.appendingPathComponent("fixtures.yml"))
    }
}
