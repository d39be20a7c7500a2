import Foundation

/// What a response says about the server's own request quota: how many requests are left in its
/// current window, when that window resets, and (when it says) how many the window allows.
///
/// APIs say it in one of three dialects, all read here:
/// - `X-RateLimit-Remaining` / `X-RateLimit-Reset` / `X-RateLimit-Limit` (GitHub, Jira, most
///   others). The reset is seconds, a Unix time (GitHub) or a date (Jira's ISO timestamp).
/// - The IETF draft's first form, `RateLimit-Remaining` / `RateLimit-Reset` / `RateLimit-Limit`
///   (drafts up to 06; GitLab, which sends the reset as a Unix time).
/// - The IETF draft's current form, `RateLimit` and `RateLimit-Policy`: either
///   `RateLimit: "default";r=50;t=30` with `RateLimit-Policy: "default";q=100;w=60` (drafts 08 and
///   later), or `RateLimit: limit=100, remaining=50, reset=30` with `RateLimit-Policy: 100;w=60`
///   (draft 07). When several quotas are listed, the one with the fewest requests left binds.
public struct ServerQuota: Sendable, Hashable {
    /// Requests the server will still accept before `reset`.
    public var remaining: Int
    /// Time until the window resets (and `remaining` is full again).
    public var reset: Duration
    /// Requests the window allows in all, when the server says.
    public var limit: Int?

    public init(remaining: Int, reset: Duration, limit: Int? = nil) {
        self.remaining = remaining
        self.reset = reset
        self.limit = limit
    }

    /// The quota `headers` describe, or nil when they describe none (or only part of one: a
    /// remaining count without a reset cannot be paced against).
    public static func read(_ headers: HTTPHeaders, now: Date = Date()) -> ServerQuota? {
        if let structured = structured(headers, now: now) { return structured }
        for prefix in ["RateLimit-", "X-RateLimit-"] {
            guard let remainingText = headers[prefix + "Remaining"], let remaining = integer(remainingText),
                  let resetText = headers[prefix + "Reset"],
                  let reset = RetryPolicy.parseDelay(resetText, now: now, epochs: true) else { continue }
            // `RateLimit-Limit` may list policies after the number (`100, 100;w=60`): the first counts.
            let limit = headers[prefix + "Limit"].flatMap { integer(String($0.split(separator: ",").first ?? "")) }
            return ServerQuota(remaining: max(0, remaining), reset: reset, limit: limit)
        }
        return nil
    }

    /// `RateLimit` (with `RateLimit-Policy` for the limit), drafts 07 and later.
    static func structured(_ headers: HTTPHeaders, now: Date) -> ServerQuota? {
        let fields = headers.values(for: "RateLimit")
        guard !fields.isEmpty else { return nil }
        let policies = headers.values(for: "RateLimit-Policy").flatMap(members)
        var candidates: [ServerQuota] = []
        // Draft 07 spreads one quota over dictionary members: limit=…, remaining=…, reset=….
        var loose: (remaining: Int?, reset: Duration?, limit: Int?) = (nil, nil, nil)
        for member in fields.flatMap(members) {
            if let r = member.parameters["r"].flatMap(integer), let t = member.parameters["t"].flatMap(integer) {
                // Draft 08+: `"name";r=…;t=…`; its policy is the RateLimit-Policy member of the same name.
                let policy = policies.first { $0.item == member.item } ?? (policies.count == 1 ? policies.first : nil)
                candidates.append(ServerQuota(remaining: max(0, r), reset: .seconds(max(0, t)),
                                              limit: policy?.parameters["q"].flatMap(integer) ?? policy.flatMap { integer($0.item) }))
                continue
            }
            switch member.item.lowercased() {
            case "remaining": loose.remaining = member.value.flatMap(integer)
            case "reset": loose.reset = member.value.flatMap { RetryPolicy.parseDelay($0, now: now, epochs: true) }
            case "limit": loose.limit = member.value.flatMap(integer)
            default: break
            }
        }
        if let remaining = loose.remaining, let reset = loose.reset {
            let policyLimit = policies.count == 1 ? (policies[0].parameters["q"].flatMap(integer) ?? integer(policies[0].item)) : nil
            candidates.append(ServerQuota(remaining: max(0, remaining), reset: reset, limit: loose.limit ?? policyLimit))
        }
        // The quota closest to running out binds; of two equally close, the one that resets later.
        return candidates.min { ($0.remaining, -$0.reset.seconds) < ($1.remaining, -$1.reset.seconds) }
    }

    /// One member of a structured-field list or dictionary (RFC 9651), read leniently: `item` is
    /// the bare item or the dictionary key (quotes removed), `value` what follows its `=`, and
    /// `parameters` the `;key=value` pairs after it.
    struct Member {
        var item: String
        var value: String?
        var parameters: [String: String]
    }

    static func members(_ field: String) -> [Member] {
        field.split(separator: ",").map { text in
            let parts = text.split(separator: ";").map { String($0).trimmingSpaces() }
            let head = parts.first ?? ""
            var item = head, value: String?
            if let equals = head.firstIndex(of: "="), !head.hasPrefix("\"") {
                item = String(head[..<equals]).trimmingSpaces()
                value = unquote(String(head[head.index(after: equals)...]).trimmingSpaces())
            }
            var parameters: [String: String] = [:]
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces() }
                if pair.count == 2 { parameters[pair[0].lowercased()] = unquote(pair[1]) }
            }
            return Member(item: unquote(item), value: value, parameters: parameters)
        }
    }

    static func unquote(_ text: String) -> String {
        text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") ? String(text.dropFirst().dropLast()) : text
    }

    static func integer(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces()
        if let value = Int(trimmed) { return value }
        // Some servers send "10.0".
        if let value = Double(trimmed), value.isFinite, value >= 0, value < 1e15 { return Int(value) }
        return nil
    }
}
