import Foundation
import TideCore
import TideMapping
import TideModel

/// A loaded integration directory: `integration.yml` plus Ocean's `.port/resources`.
public struct Integration: Sendable {
    public var directory: String
    public var name: String
    public var title: String?
    public var description: String?
    public var icon: String?
    public var version: String
    public var configuration: [ConfigurationField]
    public var http: HTTPSettings
    /// In file order.
    public var kinds: [KindDefinition]
    /// Live-event endpoints, in file order.
    public var webhooks: [WebhookDefinition] = []
    /// `record:`, for `tide record`.
    public var record = RecordSettings()
    /// `.port/resources/port-app-config.yml`, the default mapping.
    public var defaultMapping: PortAppConfig?
    /// `.port/resources/blueprints.json`.
    public var blueprints: [Blueprint]
    /// Findings that do not stop a run.
    public var warnings: [Diagnostic]

    public func kind(_ name: String) -> KindDefinition? { kinds.first { $0.name == name } }
    public var sensitiveFields: [String] { configuration.filter(\.sensitive).map(\.name) }
}

/// `record:`: how `tide record` reads the live API and what it scrubs.
public struct RecordSettings: Sendable {
    public struct ScrubRule: Sendable {
        public enum Target: Sendable {
            /// Every member with this name, at any depth.
            case key(String)
            /// A jq path over each response body.
            case path(JQExpression)
        }
        public var target: Target
        public var location: SourceLocation?
        public init(_ target: Target, location: SourceLocation? = nil) {
            self.target = target
            self.location = location
        }
    }

    /// Pages kept per pagination run.
    public var pages: Int = 2
    public var scrub: [ScrubRule] = []
    /// Whether the built-in rules (e-mail addresses, members named like personal data) apply too.
    public var defaults = true
    public init() {}
}

public struct ConfigurationField: Sendable {
    public enum ValueType: String, Sendable, CaseIterable { case string, integer, boolean, object, array, url }
    public var name: String
    public var type: ValueType
    public var required: Bool
    /// JSON text.
    public var defaultValue: String?
    public var sensitive: Bool
    public var description: String?
    public var location: SourceLocation?
    /// Where `name` is written (duplicate names are reported there).
    public var nameLocation: SourceLocation?
}

/// A string that may contain `{{ jq }}`, as written.
public struct TemplateSource: Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var location: SourceLocation?
    public init(_ text: String, location: SourceLocation? = nil) {
        self.text = text
        self.location = location
    }
    public var description: String { text }
}

/// A JSON value whose strings may be templates (request bodies).
public indirect enum JSONTemplate: Sendable {
    case literal(String)  // JSON text of a non-string scalar
    case string(TemplateSource)
    case array([JSONTemplate])
    case object([(key: String, value: JSONTemplate)])
}

public struct HTTPSettings: Sendable {
    public var baseURL: TemplateSource
    public var headers: [(name: String, value: TemplateSource)]
    public var auth: [AuthScheme]
    public var connectTimeout: Double
    public var totalTimeout: Double
    public var concurrency: Int
    public var retryAttempts: Int
    public var retryStatuses: [Int]
    public var retryMaxWait: Double
    public var rateLimit: (requests: Int, per: Double)?
    public var verifyTLS: Bool
    /// Hosts or origins besides baseUrl's that requests may go to (next links, redirects); they
    /// never receive credentials.
    public var allowedHosts: [String] = []
    /// The largest response body accepted, in bytes.
    public var maxResponseBytes: Int = 32 << 20
    /// The share of each host's request budget kept for live requests (`http.liveShare`).
    public var liveShare: Double
}

public struct AuthScheme: Sendable {
    public enum Method: Sendable {
        case none
        case basic(username: TemplateSource, password: TemplateSource)
        case bearer(token: TemplateSource)
        case apiKey(name: String, value: TemplateSource, inQuery: Bool)
        case login(LoginAuth)
    }
    public var method: Method
    /// jq over `{config}`; nil means always.
    public var when: JQExpression?
    public var location: SourceLocation?
    /// The scheme's place in a list of `auth`; nil when `auth` is one scheme.
    public var index: Int? = nil
}

public struct LoginAuth: Sendable {
    public var request: RequestDefinition
    /// Form fields, when the login is a form post.
    public var form: [(name: String, value: TemplateSource)]
    public var token: JQExpression
    public var expiresIn: JQExpression?
    public var header: TemplateSource
    public var jwt: JWTDefinition?
}

/// A JSON Web Token signed for each login (GitHub Apps exchange one for an installation token).
public struct JWTDefinition: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable { case rs256 = "RS256", hs256 = "HS256" }
    public var algorithm: Algorithm
    public var key: TemplateSource
    public var claims: JSONTemplate?
    public var lifetime: Int
    public var location: SourceLocation?
}

public struct RequestDefinition: Sendable {
    public var method: String
    public var path: TemplateSource?
    public var url: TemplateSource?
    public var query: [(name: String, value: TemplateSource)]
    public var headers: [(name: String, value: TemplateSource)]
    public var body: JSONTemplate?
    /// nil: only safe methods are retried.
    public var retryable: Bool?
    /// The body is a GraphQL query: a response with errors fails the page.
    public var isGraphQL = false
}

public struct SelectorField: Sendable {
    public var name: String
    public var type: String
    /// JSON text.
    public var defaultValue: String?
    public var description: String?
    public var location: SourceLocation?
}

public struct KindDefinition: Sendable {
    public var name: String
    public var description: String?
    public var parent: String?
    public var selector: [SelectorField]
    public var request: RequestDefinition
    public var records: JQExpression
    /// An object where `records` expects the list is one record (a read by id); otherwise it fails the page.
    public var objectIsOneRecord: Bool = false
    /// `records` giving null means no records; otherwise it fails the page.
    public var nullIsEmpty: Bool = false
    public var pagination: Pagination
    /// What responses mean before their records are read, tried in order (`responses:`).
    public var responses: [ResponseRule] = []
    /// The kind's records split into partitions, each paginated on its own.
    public var partitions: Partitions?
    /// Pagination runs (one per parent record or partition) fetched at once.
    public var concurrency: Int = 4
    /// How incremental passes read the kind (`incremental:`); nil when only full resyncs read it.
    public var incremental: Incremental? = nil
    public var location: SourceLocation?
    /// Where `parent` is written (an unknown parent or a cycle is reported there).
    public var parentLocation: SourceLocation? = nil
}

/// A kind read incrementally: templates see `.cursor`, the start of the last pass that read the
/// run whole, so the request can ask for what changed since.
public struct Incremental: Sendable {
    /// Seconds taken off the last pass's start in `.cursor.since`.
    public var lookback: Int
    /// For a kind with a parent: names the parent record's run (over `{parent}`).
    public var key: JQExpression
    public var location: SourceLocation?
    public init(lookback: Int, key: JQExpression, location: SourceLocation?) {
        self.lookback = lookback
        self.key = key
        self.location = location
    }
}

/// What a kind's response means, decided before its records are read: by status (after the
/// client's retries), or by a jq test over a 2xx body (an API that answers errors with 200).
public struct ResponseRule: Sendable {
    public enum Action: String, Sendable, CaseIterable {
        /// The run (this parent record's, this partition's, or the kind's) has no records: a
        /// warning and a count; the resource's stale entities are kept this time. For a refetch,
        /// the record is not there, so its entity is deleted.
        case skip
        /// The page fails, as an error status does.
        case fail
        /// Retried as the statuses in `http.retry.statuses` are (status rules only).
        case retry
    }
    public var statuses: [Int]
    public var when: JQExpression?
    public var action: Action
    public var location: SourceLocation?

    public init(statuses: [Int], when: JQExpression?, action: Action, location: SourceLocation?) {
        self.statuses = statuses
        self.when = when
        self.action = action
        self.location = location
    }
}

/// How a kind's records split into independent partitions (`partitions:`), each paginated on its
/// own and fetched side by side; templates see the partition's value as `.partition`.
public struct Partitions: Sendable {
    public enum Source: Sendable {
        /// One partition per record of another kind, valued by `value` over the record.
        case kind(String, value: JQExpression)
        /// The array `values` gives over {config, selector}.
        case values(JQExpression)
        /// Consecutive windows of `days` days from `start` (ISO 8601, as written), the first open
        /// below and the last open above, so that together they cover every instant.
        case dateWindows(start: String, days: Int)
    }
    /// A request that counts the whole, unpartitioned set, to check the partitions covered it.
    public struct Count: Sendable {
        public var request: RequestDefinition
        public var value: JQExpression
        public var location: SourceLocation?
        public init(request: RequestDefinition, value: JQExpression, location: SourceLocation?) {
            self.request = request
            self.value = value
            self.location = location
        }
    }
    /// Whether the union of the partitions is known to be the whole set.
    public enum Coverage: Sendable, Equatable {
        /// Date windows open at both ends cover every instant.
        case byConstruction
        /// The integration says so (`complete: true`).
        case asserted
        /// Checked after each run against `count`; when short, the kind is fetched unpartitioned.
        case counted
        /// Unknown: stale entities of the kind's resources are never deleted.
        case unknown
    }
    public var source: Source
    public var count: Count?
    public var complete: Bool
    public var location: SourceLocation?

    public init(source: Source, count: Count?, complete: Bool, location: SourceLocation?) {
        self.source = source
        self.count = count
        self.complete = complete
        self.location = location
    }

    public var coverage: Coverage {
        if case .dateWindows = source { return .byConstruction }
        if count != nil { return .counted }
        return complete ? .asserted : .unknown
    }

    /// The kind whose records give the partitions, if any.
    public var fromKind: String? {
        if case .kind(let name, _) = source { return name }
        return nil
    }

    /// `dateWindows.start` in seconds since 1970: an ISO 8601 date (midnight UTC) or date-time.
    public static func time(of text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: trimmed) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withFullDate]
        if trimmed.count == 10, let date = formatter.date(from: trimmed) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: trimmed)?.timeIntervalSince1970
    }
}

extension KindDefinition {
    /// What is wrong with the kind's response rules, beyond their shape.
    var responseProblems: [Diagnostic] {
        responses.filter { $0.action == .retry && $0.when != nil }.map { rule in
            Diagnostic(at: rule.location, "a responses rule of kind \"\(name)\" retries on a body test; only statuses can be retried",
                       rule: "responses", hint: "give status: [...] for action: retry, or use skip or fail with when:")
        }
    }

    /// What is wrong with the kind's partitions, beyond their shape (which the spec checks).
    var partitionProblems: [Diagnostic] {
        guard let partitions else { return [] }
        var problems: [Diagnostic] = []
        if parent != nil {
            problems.append(Diagnostic(at: partitions.location, "kind \"\(name)\" has both parent and partitions; a kind is split one way",
                                       rule: "partitions", hint: "keep parent: (one run per parent record), or partitions.fromKind for a partition per record"))
        }
        if case .dateWindows(let start, _) = partitions.source, Partitions.time(of: start) == nil {
            problems.append(Diagnostic(at: partitions.location, "partitions.dateWindows.start of kind \"\(name)\" is \"\(start)\", not an ISO 8601 date",
                                       rule: "partitions", hint: "write a date such as 2020-01-01 or a date-time such as 2020-01-01T00:00:00Z"))
        }
        if partitions.coverage == .unknown {
            problems.append(Diagnostic(.warning, at: partitions.location,
                                       "the partitions of kind \"\(name)\" may not cover all its records, so nothing of it is ever deleted as stale",
                                       rule: "partitions-coverage",
                                       hint: "add partitions.count (a request counting the whole set), or complete: true if they always cover it"))
        }
        return problems
    }
}

public struct Pagination: Sendable {
    public enum Strategy: Sendable {
        case none
        case offset(offsetParam: String, limitParam: String, limit: Int, start: Int, inBody: Bool, total: JQExpression?)
        case page(pageParam: String, sizeParam: String, size: Int, start: Int, inBody: Bool, total: JQExpression?)
        case cursor(cursor: JQExpression, param: String, inBody: Bool)
        case nextURL(next: JQExpression)
        case linkHeader(rel: String)
        case graphql(pageInfo: JQExpression, variable: String)
    }
    public var strategy: Strategy
    public var stop: JQExpression?
    public var maxPages: Int?
}

/// A webhook endpoint of `integration.yml`.
public struct WebhookDefinition: Sendable {
    public enum Verification: Sendable {
        /// `separator`: the header may carry several signatures (secret rotation); any one may match.
        case hmac(secret: TemplateSource, header: String, prefix: String, sha1: Bool, base64: Bool, separator: String?)
        case standardWebhooks(secrets: [TemplateSource], tolerance: Int)
        case token(secret: TemplateSource, header: String?, query: String?)
    }
    public enum Action: String, Sendable, CaseIterable { case upsert, delete, refetch }
    public struct Event: Sendable {
        public var name: String
        public var match: JQExpression
        public var kinds: [String]
        public var item: JQExpression
        public var action: Action
        public var refetch: [(name: String, expression: JQExpression)]
        /// For a refetch of a kind with a parent: the parent record, from the payload.
        public var parent: JQExpression?
        public var key: JQExpression?
        public var location: SourceLocation?
        /// Where each of `kinds` is written, in the same order.
        public var kindLocations: [SourceLocation?] = []
    }
    /// Creating the webhook at the third party on start.
    public struct Registration: Sendable {
        public var when: JQExpression?
        public var list: RequestDefinition?
        public var exists: JQExpression?
        public var create: RequestDefinition
        public var location: SourceLocation?
    }
    /// Below /integration, starting with "/".
    public var path: String
    public var verify: [Verification]
    public var events: [Event]
    public var maxBodyBytes: Int
    public var queueSize: Int
    public var workers: Int
    public var timeout: Double
    public var retryAttempts: Int
    public var retryInitialDelay: Double
    public var retryMaxDelay: Double
    public var registration: Registration?
    public var location: SourceLocation?

    /// jq definitions every `refetch` expression sees (the engine and `tide lint` compile them in
    /// front of it): a value from a payload must be quoted for the language it is put into.
    /// `jql_quote` makes a JQL string literal (`"…"`, backslash, quote and control characters
    /// escaped) and raises on null, so a missing key never becomes `key = null`.
    /// One line, so that libjq's line numbers stay the expression's own.
    public static let refetchHelpers = #"def jql_quote: if . == null then error("jql_quote: the value is null") else tostring | explode | map(if . == 92 then "\\\\" elif . == 34 then "\\\"" elif . == 10 then "\\n" elif . == 13 then "\\r" elif . == 9 then "\\t" elif . < 32 or . == 127 then . as $c | "\\u00" + ("0123456789abcdef" | .[($c / 16 | floor):($c / 16 | floor) + 1] + .[($c % 16):($c % 16) + 1]) else [.] | implode end) | "\"" + join("") + "\"" end; "#
}
