import Foundation
import Testing
@testable import TideJQ

/// Inputs and programs for the projection tests: recorded Jira responses, generated issues,
/// hand-made tricky documents and mutations, and the mapping expressions of the shipped
/// integrations. Inputs are bytes (some are not valid UTF-8) and must be Sendable for arguments.
struct ProjectionInput: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    /// libjq accepts it but the projected parser is expected to decline (leading zeros, BOM, raw
    /// U+001F…): the caller's full parse then takes over.
    var declineExpected = false

    init(_ name: String, _ text: String, declineExpected: Bool = false) {
        self.name = name
        bytes = Array(text.utf8)
        self.declineExpected = declineExpected
    }

    init(_ name: String, bytes: [UInt8], declineExpected: Bool = false) {
        self.name = name
        self.bytes = bytes
        self.declineExpected = declineExpected
    }

    var testDescription: String { name }
}

/// A seeded generator (SplitMix64), so every run sees the same "random" inputs.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum ProjectionCorpus {
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    // MARK: Programs

    /// Every mapping and selector expression of the shipped integrations as of writing (the files
    /// are also read live by `liveMappingExpressions`, which may find more).
    static let mappingExpressions: [String] = [
        // jira
        ".key", ".name", #""jiraProject""#, #"(.self | split("/") | .[:3] | join("/")) + "/projects/" + .key"#,
        ".insight.totalIssueCount", ".accountId", ".displayName", #""jiraUser""#, ".emailAddress", ".active",
        ".accountType", ".timeZone", ".locale", #".avatarUrls["48x48"]"#, ".fields.summary", #""jiraIssue""#,
        #"(.self | split("/") | .[:3] | join("/")) + "/browse/" + .key"#, ".fields.status.name",
        ".fields.issuetype.name", ".fields.components", ".fields.creator.emailAddress", ".fields.priority.name",
        ".fields.labels", ".fields.created", ".fields.updated", ".fields.resolutiondate", ".fields.project.key",
        ".fields.parent.key", ".fields.subtasks | map(.key)", ".fields.assignee.accountId", ".fields.reporter.accountId",
        "true",
        // github
        ".description", ".html_url", ".default_branch", ".language", ".visibility", ".archived", ".stargazers_count",
        ".pushed_at", #".base.repo.name + "-" + (.number | tostring)"#, ".title", ".user.login", "[.assignees[].login]",
        "[.requested_reviewers[].login]", ".state", ".draft", ".number", ".created_at", ".updated_at", ".closed_at",
        ".merged_at", ".base.repo.name", ".pull_request == null",
        #"(.repository_url | split("/") | last) + "-" + (.number | tostring)"#, "[.labels[].name]", ".comments",
        #".repository_url | split("/") | last"#, ".slug", ".privacy", #".notification_setting == "notifications_enabled""#,
        ".login", ".type", ".site_admin", #".repository.name + "-" + (.id | tostring)"#, ".display_title",
        ".triggering_actor.login", ".event", ".status", ".conclusion", ".head_branch", ".run_number", ".run_attempt",
        ".run_started_at", ".repository.name",
        // pagerduty
        ".id", ".escalation_rules | length", ".num_loops", ".time_zone", "[.users[].summary]", ".email", ".role",
        ".job_title", ".incident_urgency_rule.urgency", ".last_incident_timestamp", ".escalation_policy.id",
        ".urgency", ".incident_number", ".priority.summary", "[.assignments[].assignee.summary]", ".service.id",
    ]

    /// Mapping and selector expressions found in integrations/*/.port/resources/port-app-config.yml
    /// (a line-based read: `key: value` lines under `mappings:` and `query:` lines).
    static func liveMappingExpressions() -> [String] {
        let integrations = repositoryRoot.appendingPathComponent("integrations")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: integrations.path) else { return [] }
        var found: [String] = []
        for name in names.sorted() {
            let file = integrations.appendingPathComponent(name).appendingPathComponent(".port/resources/port-app-config.yml")
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            var inMappings = false
            var mappingsIndent = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                let indent = line.prefix(while: { $0 == " " }).count
                let content = line.dropFirst(indent)
                if content.hasPrefix("#") { continue }
                if content.hasPrefix("mappings:") {
                    inMappings = true
                    mappingsIndent = indent
                    continue
                }
                if inMappings && indent <= mappingsIndent { inMappings = false }
                guard let colon = content.firstIndex(of: ":") else { continue }
                let key = content[..<colon]
                var value = content[content.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                guard !value.isEmpty, inMappings || key == "query" else { continue }
                if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
                }
                found.append(value)
            }
        }
        return found
    }

    /// Hand-written programs for the corners of the analysis: type mismatches, path-keeping forms,
    /// and constructs that must fall back to the whole input.
    static let trickyExpressions: [String] = [
        ".", ".a.b", ".a.b.c", ".[0]", ".[1]", ".[-1]", ".a[]", ".a[]?", ".a[0]", ".a[]?.b", ".a?.b", ".a.b?", ".[]", ".[]?",
        ".[].key", "[.[]?]", "keys", "keys_unsorted", "length", ".a | length", "has(\"a\")", ".a | has(\"b\")", "to_entries",
        ".a | to_entries", ".a // .b | .c", ".a // \"x\"", ".a // empty | 1", "(.a // .b).c", "select(.x == 1) | .y",
        "select(.a) | .b", "select(.a.b) | .c", ". as $r | $r.a", ". as $r | .b | $r.a.b", ".a as $x | $x.b, .c",
        "{a, b: .c.d}", "{a, b: .c.d} | .b", "{(.a): .b}", "{\"k\": .a, $__loc__: 1}", "\"\\(.a)-\\(.b)\"", "@base64 \"x\\(.a)\"",
        "@json", "@text", "..", "[..]", "[paths]", "[paths(type == \"number\")]", "getpath([\"a\", \"b\"])", "tojson", ".a | tojson",
        "tostring", "del(.a)", "del(.a.b)", ".a |= 1", ".a.b |= . + 1", ".a += 1", ".a = .b", ".a //= 3",
        "reduce .a[]? as $x (0; . + 1)", "reduce .[] as $x (null; $x)", "[foreach .a[]? as $x (0; . + 1; [$x, .])]",
        "def f: .a; f", "def f(g): g | .b; f(.a)", "$__loc__", "env.HOME | type", "$ENV | type", "input", "[inputs]",
        "first(.a, .b)", "first(.a[]?)", "last(.a[]?)", "[limit(2; .a[]?)]", "first", "last", "first.key", "map(.key)",
        "map(.a) | length", "[.[] | .a?]", "if .a then .a.b else .c end", "if .a.b then 1 else 2 end", "if . then .a else .b end",
        "try .a.b catch .", "try error(.a) catch .", "try (.a | error) catch .", ".a | try error catch .",
        "try .a[] catch length", "(.a | tostring) + .b", ".a + 1", ".a == .b", ".a < 1", "-.a", ".a * 2", "[.a, .b] | add",
        ".a and .b", ".a or .b.c", ".a | not", "values", "strings", ".a | objects | .b", ".a | arrays | .[0]", "scalars",
        ".a[1:]", ".a[:2]", ".a[1:][0].b", ".[2:4]", ".a.\"b\"", ".[\"a\"].b", ".a[\"b\", \"c\"]", ".a[.b]", ".[.a]?",
        "label $out | .a | ., break $out", "[.a, .b] | .[0].c", "[.a[] | .b] | length", "(.a, .b) as $x | $x.c",
        ". as [$x, $y] | $x", ". as {a: $x} | $x.b", ". as {$a} | $a", "[.[]?] | length", "map_values(.a)?",
        "with_entries(.value |= tostring)?", "[.a | recurse] | length", "[recurse(.a?; . != null)] | length", "path(.a.b)",
        "[path(..)] | length", "splits(\"x\")?", "ascii_downcase?", ".a | ascii_downcase?", "test(\"a\")?", ".a | test(\"a\")?",
        "type", ".a | type", ".a.b | type", "[.[] | type]?", "any", "all", ".a | any", "add", "join(\",\")?",
        ".fields | keys", ".fields.subtasks | length", ".fields.subtasks[0].key", ".fields.subtasks[].key",
        ".fields.status.name, .fields.status", ".fields | .status.name // .priority.name", ".fields.parent // {} | .key",
        "if .fields.parent then .fields.parent.key else null end", ".fields.assignee | select(. != null) | .accountId",
        "[.fields.components[]?.name]", ".fields.labels | join(\",\")?", ".fields.description.content[0].content[0].text",
        ".fields[\"customfield_10020\"]", ".fields.watches.watchCount + 1", "(.fields.created | .[0:10])", ".key | ascii_downcase",
        ".fields | to_entries | map(.key) | length", "[.fields[]?] | length", ".fields[]? | .name? // empty",
        "getpath([\"fields\", \"status\", \"name\"])", "[.fields | paths] | length", ".fields | del(.status) | keys",
        ".fields.status |= .name", "ltrimstr(\"x\")?", ".key | ltrimstr(\"PRJ\")", "input_filename", "$__loc__.line",
        ".[\"key\"]", "[.key, .id] | join(\"-\")", "{key, id} | tojson", "[.fields.summary] | @csv", ".fields.summary | @base64",
        "(.key | split(\"-\")) as [$p, $n] | $p", "limit(1; .fields.subtasks[]?.key)", "[.fields.subtasks[]? | select(.id) | .key]",
        "isempty(.fields.subtasks[]?)", ".fields.subtasks as $s | $s | length", "error(\"x\")?", "error(.key)?",
        ".a.b.c.d.e.f", ".[0][0][0]", ".a[0].b[1].c", "[.a[][]?]", ".a[][]?", "tostream?", "fromjson?", ".a | fromjson?",
        "getpath([\"a\", 0])?", "[.a?, .b?] | map(type)", "nan | isnan", "now | type", "builtins | length > 10", "infinite > 1",
    ]

    /// A projected read next to a consuming one, so the consumed node really is projected
    /// otherwise (a node only navigated to is kept whole by the parser, which hides mistakes).
    static let combinedExpressions: [String] = [
        ".fields.summary, (.fields | keys)", ".fields.summary, (.fields | length)", "[.a.b, (.a | length)]",
        ".a.b, (.a | to_entries | length)", ".fields.status.name, (.fields.status | tojson)", ".a.b, (.a | has(\"c\"))",
        ".key, length", ".key, keys", ".key, tojson", ".key, to_entries", ".fields.summary, (.fields | tostring)",
        ".a.x, (.a | add)", ".fields.subtasks[].key, (.fields.subtasks | length)", ".a.b, (.a == {\"b\": 1})",
        ".a.b, ([.a] | tojson)", ".a.b, {x: .a}", ".a.b, \"\\(.a)\"", ".a.b, [.a | ..]", ".a.b, [.a | paths]",
        ".a.b, (.a | del(.b))", ".a.b, (.a |= .)", ".a.b, (.a.c = 1)", ".a.b, (.a | getpath([\"c\"]))",
        ".a.b, (.a as $x | $x | keys)", ".a.b, (.a | select(.b) | keys)", ".a.b, first(.a | keys)", ".a.b, (.a // {} | length)",
        ".a.b, (.a? | length)", ".a.b, (try (.a | keys) catch .)", ".a.b, (.a | if . then length else 0 end)",
        ".a.b, (.a[1:] | length)", ".a[0], (.a[1:] | tojson)", ".a.b, (reduce .a as $x (0; $x | length))",
        ".a.b, ([.a[]?] | length)", ".a.b, [.a[]?]", ".a.b, (.a | with_entries(.))", ".a.b, [.a | tostream]",
        ".key, (. as $r | $r | keys)", ".key, (.fields | map_values(1))", ".key, ($__loc__ | length), (env | type)",
        ".a.b, (.a | error)", ".a.b, (try (.a | error) catch tojson)", ".a.b, (.a | @base64)", ".a.b, (.a | @json)",
        ".a.b, (.a | -.)", ".a.b, (.a + {})", ".a.b, ({} + .a)", ".a.b, (.a * 1)", ".a.b, (.a | not)", ".a.b, (.a and true)",
        ".a.b, (.a | type)", ".a.b, (.a | objects | length)", ".a.b, first(.a | keys[])", ".a.b, [limit(1; .a | keys[])]",
        ".a.b, (.a | last(keys[]))", ".a.b, (.a | label $x | keys)", ".a.b, (.a | [foreach keys[] as $k (0; . + 1)])",
        ".a.b, (.a | \"\\(.)\")", ".a.b, (.a | {(keys[0]): 1})", ".a.b, (.a | .[keys[0]])", ".a.b, (.a | .[\"b\", \"c\"])",
        ".a.b, (.a | .[]?)", ".a.b, [.a[]?.b]", ".a.b, (.a | map(.) | length)", ".a.b, (.a | length as $n | $n)",
        ".a.b, (.a as [$x] | $x)", ".a.b, (.a as {b: $x} | $x)", ".a.b, (.a | [.[]?] | length)", ".a.b, (.a | @text)",
        ".a.b, (.a | tostring | length)", ".a.b, (.a | ascii_downcase)", ".a.b, (.a | test(\"x\"))", ".a.b, (.a | any)",
        ".a.b, (.a | in({}))", ".a.b, (.a | inside({}))", ".a.b, (.a | contains({}))", ".a.b, (.a | splits(\"x\"))",
        ".a.b, (.a | min_by(.)?)", ".a.b, (.a | unique)", ".a.b, (.a | sort)", ".a.b, (.a | flatten)", ".a.b, (.a | reverse)",
        ".a.b, (.a | indices(1))", ".a.b, (.a | recurse | type)", ".a.b, (.a | walk(.) | length)", ".a.b, (.a | pick(.b))",
        ".a.b, (.a | values | length)", ".a.b, (.a | nulls | length)", ".a.b, (.a | scalars)", ".a.b, (.a | iterables | length)",
        ".a.b, (.a | first)", ".a.b, (.a | last)", ".a.b, (.a | nth(0))", ".a.b, (.a | .[0]?)", ".a.b, (.a | isempty(.[]?))",
        ".a.b, (.a | length > 1)", ".a.b, (.a | utf8bytelength)", ".a.b, (.a | tojson | fromjson | length)",
        ".a.b, (.a | input)", ".a.b, (.a | [inputs])", ".a.b, (.a | debug | length)", ".a.b, (.a | input_filename)",
        ".a.b, (.a | ltrimstr(\"x\"))", ".a.b, (.a | split(\"x\"))", ".a.b, (.a | join(\",\"))", ".a.b, (.a | add)",
        ".a.b, (.a | to_entries | from_entries)", ".a.b, (.a | paths(type == \"number\"))", ".a.b, (.a | leaf_paths)",
        ".a.b, (.a | getpath([\"b\"]))", ".a.b, (.a | path(..))", ".a.b, (.a | del(.c) | keys)", ".a.b, (.a | .c += 1)",
        ".a.b, (.a | .c //= 1)", ".a.b, (.a | setpath([\"c\"]; 1))", ".a.b, (.a | delpaths([[\"b\"]]))", ".a.b, (.a | tostream)",
        ".a.b, (.a | [splits(\"a\")])", ".a.b, (.a | @csv)", ".a.b, (.a | @sh)", ".a.b, (.a | @html)", ".a.b, (.a | @uri)",
        ".a.b, (.a | error(.))", ".a.b, (.a | env | length)", ".a.b, (.a | $ENV | length)",
        "(.a.b, .a) | keys", ".a as $x | .a.b, ($x | length)", ".a as $x | .a.b, $x", "(.a | .b), .a", ".a.b, (.a | .)",
        ".a.b, (.a | if .b then . else 1 end)", ".a.b, (.a | select(true))", ".a.b, (.a | first(.))", ".a.b, (.a // 1)",
        ".a.b, (.a | try . catch 1)", ".a.b, (.a | label $l | .)", ".a.b, (.a | .?)", ".a.b, (.a | limit(1; .))",
        // Members and elements of the same node, on arrays and objects.
        ".a.b?, .a[0]?", "[.a.b?, .a[]?.b?]", ".a.x?, (.a[1:] | length)", "(.a.b, .a[]) | .c?", ".a[]?, .a.b",
        ".fields.subtasks.key?, .fields.subtasks[0].id?", "try (.a.b, .a[0]) catch .",
        // Variables read where the input is something else: a catch handler, a reduce update, an extract.
        ".a.b, (. as $r | try error(\"x\") catch $r.a)", ".a.c, (. as $r | try error(\"x\") catch ($r.a | keys))",
        ".a.b, (. as $r | reduce (1, 2) as $x (0; $r.a))", ".a.b, (. as $r | [foreach (1, 2) as $x (0; 1; $r.a)])",
        ".a.b, (. as $r | [limit(1; $r.a)])", ".a.b, (. as $r | 1 as $y | $r.a)", ".a.b, (.a as $x | {} | $x)",
        ".a.b, (. as $r | \"s\" | $r.a)", ".a.b, (. as $r | [1] | map($r.a))", ".a.b, (. as $r | {} | .x = $r.a)",
    ]

    // MARK: Inputs

    static func fixtureInputs() -> [ProjectionInput] {
        let fixtures = repositoryRoot.appendingPathComponent("integrations/jira/fixtures")
        var inputs: [ProjectionInput] = []
        for (folder, field) in [("issues", "issues"), ("projects", "values"), ("users", "")] {
            let directory = fixtures.appendingPathComponent(folder)
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { continue }
            for file in files.sorted() where file.hasSuffix(".json") {
                guard let text = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8),
                      let page = try? JSON(parsing: text) else { continue }
                // The whole page (pretty-printed, as recorded), then each record compact.
                inputs.append(ProjectionInput("jira \(folder)/\(file)", text))
                let records = field.isEmpty ? page.arrayElements : (page[field]?.arrayElements ?? [])
                for (index, record) in records.enumerated() {
                    inputs.append(ProjectionInput("jira \(folder)/\(file)#\(index)", record.serialized()))
                }
            }
        }
        return inputs
    }

    /// Issues shaped like scripts/gen-jira-issues.py's (about 3 KB each).
    static func generatedIssue(_ n: Int, random: inout SeededRandom) -> String {
        func string(_ value: String) -> String { JSON(value).serialized() }
        func user(_ i: Int) -> String {
            let id = "5b10ac8d82e05b22cc7d" + String(format: "%04d", i)
            let avatars = ["48x48", "24x24", "16x16", "32x32"].map { "\(string($0)):\(string("https://avatar.example.com/\(i)/\($0).png"))" }
            return """
            {"self":\(string("https://example.atlassian.net/rest/api/3/user?accountId=\(id)")),"accountId":\(string(id)),\
            "emailAddress":"user\(i)@example.com","avatarUrls":{\(avatars.joined(separator: ","))},\
            "displayName":\(string("Üser Nümber \(i)")),"active":true,"timeZone":"Europe/Berlin","accountType":"atlassian"}
            """
        }
        let project = "PRJ\(n % 40)"
        let statuses = ["To Do", "In Progress", "In Review", "Done", "Blocked"]
        let labels = ["backend", "frontend", "infra", "security", "ux", "tech-debt"].shuffled(using: &random).prefix(2)
        let subtasks = (0..<(n % 3)).map { #"{"key":"\#(project)-\#(n * 10 + $0)","id":"\#(n * 10 + $0)"}"# }
        var fields = """
        "summary":\(string("Issue \(n): fix the thing — ünïcode ✓ \(Int.random(in: 0...1_000_000, using: &random))")),\
        "status":{"self":"https://example.atlassian.net/rest/api/3/status/3","name":\(string(statuses.randomElement(using: &random)!)),\
        "id":"\(Int.random(in: 1...9, using: &random))","statusCategory":{"key":"indeterminate","name":"In Progress"}},\
        "issuetype":{"name":\(string(["Bug", "Story", "Task", "Sub-task"].randomElement(using: &random)!)),"subtask":false,"id":"10001"},\
        "priority":{"name":\(string(["High", "Medium", "Low"].randomElement(using: &random)!)),"id":"3"},\
        "labels":[\(labels.map(string).joined(separator: ","))],"components":[{"name":"api","id":"10000"}],\
        "created":"2024-03-01T10:00:00.000+0000","updated":"2024-03-05T12:30:00.000+0000",\
        "resolutiondate":\(n % 3 != 0 ? "null" : #""2024-03-06T09:00:00.000+0000""#),\
        "creator":\(user(n % 97)),"reporter":\(user(n % 89)),"assignee":\(n % 7 == 0 ? "null" : user(n % 83)),\
        "project":{"key":"\(project)","name":"Project \(n % 40)","id":"\(10000 + n % 40)"},\
        "subtasks":[\(subtasks.joined(separator: ","))],\
        "description":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":\
        \(string("Steps to reproduce: " + String(repeating: "lorem ipsum dolor sit amet ", count: 12) + "\"quoted\"\n\ttab \\ é"))}]}]},\
        "customfield_10020":null,"watches":{"watchCount":\(Int.random(in: 0...9, using: &random)),"isWatching":false}
        """
        if n % 5 == 0 { fields += #","parent":{"key":"\#(project)-\#(max(1, n - 1))","id":"\#(n - 1)"}"# }
        return """
        {"expand":"renderedFields,names,schema","id":"\(10000 + n)","self":"https://example.atlassian.net/rest/api/3/issue/\(10000 + n)",\
        "key":"\(project)-\(n)","fields":{\(fields)}}
        """
    }

    static func generatedInputs(count: Int = 12) -> [ProjectionInput] {
        var random = SeededRandom(seed: 42)
        return (1...count).map { ProjectionInput("generated issue \($0)", generatedIssue($0, random: &random)) }
    }

    /// Type mismatches, escapes, unicode, duplicate keys, numbers, nesting, empties.
    static let trickyInputs: [ProjectionInput] = [
        ProjectionInput("string root", #""just a string""#),
        ProjectionInput("number root", "42"),
        ProjectionInput("null root", "null"),
        ProjectionInput("true root", "true"),
        ProjectionInput("empty array root", "[]"),
        ProjectionInput("empty object root", "{}"),
        ProjectionInput("array root", "[1, 2, 3]"),
        ProjectionInput("array of records", #"[{"key":"A","a":1},{"key":"B","a":{"b":2}},"x",null]"#),
        ProjectionInput("fields is a string", #"{"key":"K-1","fields":"not an object","a":"str"}"#),
        ProjectionInput("fields is a number", #"{"key":"K-1","fields":42,"a":7}"#),
        ProjectionInput("fields is an array", #"{"key":"K-1","fields":[1,{"status":{"name":"x"}}],"a":[1,2,{"b":3}]}"#),
        ProjectionInput("fields is null", #"{"key":null,"fields":null,"a":null,"b":null}"#),
        ProjectionInput("status is a string", #"{"fields":{"status":"Done","subtasks":"abc","labels":"l"},"a":{"b":"x"}}"#),
        ProjectionInput("name is an array", #"{"fields":{"status":{"name":["x",{"y":1}]}},"a":{"b":[1,2],"c":{"d":"e"}}}"#),
        ProjectionInput("subtasks is an object", #"{"fields":{"subtasks":{"one":{"key":1},"two":{"key":"S-2","id":"2"}}}}"#),
        ProjectionInput("mixed subtasks", #"{"fields":{"subtasks":[1,"x",null,{"key":"S-1"},[],{"id":"9"}]}}"#),
        ProjectionInput("self is not a string", #"{"self":5,"key":"K","number":3,"base":{"repo":{"name":7}}}"#),
        ProjectionInput("booleans", #"{"a":true,"b":false,"c":{"d":true},"x":1,"y":[true,false]}"#),
        ProjectionInput("a is an object", #"{"a":{"b":{"c":{"d":1}},"x":[1,2],"0":"zero"},"b":"bee","c":{"d":"dee"},"x":1,"y":2}"#),
        ProjectionInput("a is an array of objects", #"{"a":[{"b":1,"c":2},{"b":[3]},{"b":null}],"b":[]}"#),
        ProjectionInput("a is an array of arrays", #"{"a":[[1,2],[],["x"]],"b":{"c":[]}}"#),
        ProjectionInput("escapes", #"{"k\u0065y":"v\u00e9\n\t\"q\"","a":"\ud83d\ude00 \/x\\","b":{"c\"d":"\u0000"},"fields":{"summ\u0061ry":"S"}}"#),
        ProjectionInput("escaped key among plain", #"{"\u0061":{"b":1},"a":{"b":2},"key":"\u004b"}"#),
        ProjectionInput("lone low surrogate", #"{"key":"\udc00x","\udc00":1,"a":"\uDFFF"}"#),
        ProjectionInput("unicode", #"{"key":"Ünïcødé ✓ 𝄞","fields":{"summary":"日本語"},"é":1,"a":{"é":{"b":2}}}"#),
        ProjectionInput("invalid UTF-8 in values", bytes: Array(#"{"key":""#.utf8) + [0xFF, 0xFE] + Array(#"","a":""#.utf8) + [0xC3] + Array(#"x","b":""#.utf8) + [0xC0, 0x80, 0xED, 0xA0, 0x80] + Array(#""}"#.utf8)),
        ProjectionInput("invalid UTF-8 in keys", bytes: Array(#"{""#.utf8) + [0xFF] + Array(#"key":1,"key":""#.utf8) + [0xE2, 0x82] + Array(#"","a":{""#.utf8) + [0xFF] + Array(#"":2}}"#.utf8)),
        ProjectionInput("replacement-char key", bytes: Array(#"{""#.utf8) + [0xFF] + Array(#"":1,"\ufffd":2}"#.utf8)),
        ProjectionInput("duplicate keys", #"{"key":1,"a":{"b":1},"key":2,"a":{"c":2},"x":3}"#),
        ProjectionInput("duplicate key changes type", #"{"fields":{"summary":"a"},"fields":"str","a":"s","a":{"b":"t"}}"#),
        ProjectionInput("duplicate key back to object", #"{"fields":"str","fields":{"summary":"b","status":{"name":"n"}}}"#),
        ProjectionInput("big numbers", #"{"key":1e1000,"a":100000000000000000001,"b":-0,"c":1.5,"d":0.1,"x":-1e-400,"y":123456789012345,"fields":{"summary":1234567890123456}}"#),
        ProjectionInput("more numbers", #"{"a":-0.0,"b":1E+2,"c":0e0,"d":9007199254740993,"x":5e-324,"y":-123456789012345,"key":999999999999999,"id":1000000000000000}"#),
        ProjectionInput("numbers in arrays", #"{"a":[0,-0,1e2,2.5e-3,-1.0E+10,12345678901234567890],"b":[[1.1],[2.2]]}"#),
        ProjectionInput("empty containers", #"{"fields":{},"key":[],"a":{},"b":[],"c":"","d":{"e":{}}}"#),
        ProjectionInput("whitespace", "  {\n \"key\" : \"x\" ,\r\n\t\"fields\" : { \"summary\" : [ 1 , 2 ] } , \"a\" :\n{ } }  \n"),
        ProjectionInput("deep objects", String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)),
        ProjectionInput("deep arrays", #"{"a":"# + String(repeating: "[", count: 120) + "1" + String(repeating: "]", count: 120) + "}"),
        ProjectionInput("deep skipped", #"{"key":"k","z":"# + String(repeating: #"{"a":["#, count: 60) + "0" + String(repeating: "]}", count: 60) + "}"),
        ProjectionInput("leading zero", #"{"key":"k","a":01}"#, declineExpected: true),
        ProjectionInput("byte order mark", "\u{FEFF}{\"key\":\"k\"}", declineExpected: true),
        ProjectionInput("raw U+001F in a string", "{\"key\":\"a\u{1F}b\"}", declineExpected: true),
        ProjectionInput("NUL in a string", bytes: Array(#"{"key":"a"#.utf8) + [0] + Array(#"b"}"#.utf8), declineExpected: true),
        ProjectionInput("raw tab in a skipped string", "{\"key\":\"k\",\"z\":\"a\tb\"}"),
    ]

    /// Small documents for programs from the jq oracle (which read `.a`, `.[0]`, strings…).
    static let smallInputs: [ProjectionInput] = trickyInputs.filter { $0.bytes.count < 400 && !$0.declineExpected }

    /// Random type changes in generated issues (seeded): a value somewhere replaced by another type.
    static func mutatedInputs(count: Int) -> [ProjectionInput] {
        var random = SeededRandom(seed: 7)
        let replacements = [#""str""#, "0", "-1.5", "null", "true", "[]", "{}", #"[1,"x",{"key":"k"}]"#, #"{"name":"n","key":"k","a":1}"#]
        var inputs: [ProjectionInput] = []
        guard let pathsProgram = try? JQProgram("[paths | tojson]"),
              let setter = try? JQProgram(".[0] | setpath(.[1]; .[2])") else { return [] }
        for n in 0..<count {
            let text = generatedIssue(n + 1, random: &random)
            guard let issue = try? JSON(parsing: text),
                  let paths = try? pathsProgram.first(issue)?.arrayElements.compactMap(\.stringValue), !paths.isEmpty else { continue }
            var current = issue
            for _ in 0..<(1 + n % 3) {
                let path = paths.randomElement(using: &random)!
                let replacement = replacements.randomElement(using: &random)!
                guard let triple = try? JSON(parsing: "[null, \(path), \(replacement)]"),
                      let changed = try? setter.first(JSON(array: [current, triple[1]!, triple[2]!])) else { continue }
                current = changed
            }
            inputs.append(ProjectionInput("mutated issue \(n)", current.serialized()))
        }
        return inputs
    }

    /// Invalid JSON, each also placed inside a record in a part a projection skips.
    static let invalidDocuments: [String] = [
        "", " ", "{", "}", "[", "]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[,1]", "{,}", "{\"a\" 1}", "{a:1}",
        "[1 2]", "1 2", "{} {}", "{}x", "nul", "tru", "fals", "truex", "nulll", "NaN", "nan", "Infinity", "-Infinity",
        "+1", "-", "1.", ".5", "1e", "1e+", "01x", "0x10", "1.5.5", "--1", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"",
        "\"\\ud800\"", "\"\\ud800x\"", "\"\\ud800\\u0041\"", "\"a\u{1}b\"", "\"a\u{1E}b\"", "\"\\\"", "'a'", "[\"a\":1]",
        "{\"a\":[}", "{\"a\":{]}", "[1}", "{\"a\":1]", "\u{1E}1", "//", "{\"a\":1}\u{0B}", "\u{0C}1",
    ]
}
