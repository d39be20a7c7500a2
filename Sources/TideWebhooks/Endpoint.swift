import Foundation
import TideCore
import TideIntegration
import TideJQ
import TideMapping

/// An accepted event, as plain bytes and strings: libjq values never cross tasks, so the worker
/// parses the body again.
struct QueuedEvent: Sendable {
    var body: [UInt8]
    var headers: [String: String]
    /// Indexes of the matchers that accepted it.
    var matchers: [Int]
    var received: ContinuousClock.Instant
}

/// What intake decided.
public enum IntakeResult: Sendable, Equatable {
    case accepted
    /// Valid, but no matcher wants it (answered 202 all the same, as the sender cannot fix it).
    case ignored
    case rejected(status: Int, reason: String, message: String)
    case full
}

/// The matchers' jq, compiled once and run under a lock: intake runs on several event loop
/// threads, and a compiled jq program must not run on two at once.
final class IntakeMatcher: @unchecked Sendable {
    private let lock = Locked(())
    private let match: [JQProgram]
    private let key: [JQProgram]
    private let item: [JQProgram]
    private let kinds: [[String]]
    private let refetches: [Bool]

    init(_ events: [WebhookDefinition.Event]) throws(Diagnostics) {
        var diagnostics: [Diagnostic] = []
        func compile(_ expression: JQExpression, _ what: String) -> JQProgram? {
            do { return try JQProgram(expression.source) } catch {
                diagnostics.append(Diagnostic(at: expression.location, "webhook \(what) \"\(expression.source)\" does not compile: \(error.message)",
                                              rule: "jq-compile"))
                return nil
            }
        }
        var match: [JQProgram] = [], key: [JQProgram] = [], item: [JQProgram] = []
        for event in events {
            if let program = compile(event.match, "match") { match.append(program) }
            if let program = compile(event.item, "item") { item.append(program) }
            // By default the record's own id orders its events; records without one share a lane per kind.
            let keyText = event.key ?? JQExpression("(.item | objects | (.id // .key // .identifier // .accountId // .name)) // null")
            if let program = compile(keyText, "key") { key.append(program) }
        }
        if !diagnostics.isEmpty { throw Diagnostics(diagnostics) }
        self.match = match
        self.key = key
        self.item = item
        kinds = events.map(\.kinds)
        refetches = events.map { $0.action == .refetch }
    }

    /// What a payload asks for: the matchers that apply and name a record, the lane key, and the
    /// matchers that matched but name none (their item is not an object, or a refetch's key is
    /// null): nothing can be applied or read again for those.
    struct Evaluation {
        var matchers: [Int] = []
        var key = ""
        var unnamed: [Int] = []
    }

    /// The matchers that accept the payload and the lane key of the event.
    func evaluate(body: [UInt8], headers: [String: String]) -> Result<Evaluation, JSONParseError> {
        // Every libjq value is released before the lock is: outputs may share reference counts
        // with constants inside the compiled programs.
        lock.withLock { _ in evaluateLocked(body: body, headers: headers) }
    }

    private func evaluateLocked(body: [UInt8], headers: [String: String]) -> Result<Evaluation, JSONParseError> {
        let payload: JSON
        do {
            payload = try body.withUnsafeBufferPointer { pointer throws(JSONParseError) in try JSON(parsing: pointer) }
        } catch { return .failure(error) }
        let context = WebhookContext.make(payload: payload, headers: headers)
        var evaluation = Evaluation()
        for index in match.indices {
            // A matcher that raises is a matcher that does not match.
            guard (try? match[index].first(context))??.isTruthyInPython == true else { continue }
            let record = ((try? item[index].first(context)) ?? nil) ?? .null
            let keyed = JSON(object: ["payload": payload, "item": record])
            let value = ((try? key[index].first(keyed)) ?? nil) ?? .null
            // A refetch without a key would read something else than the record (`key = null`,
            // or the whole list when the selector field is left empty).
            guard record.kind == .object, !(refetches[index] && (value.kind == .null || value.stringValue == "")) else {
                evaluation.unnamed.append(index)
                continue
            }
            evaluation.matchers.append(index)
            if evaluation.key.isEmpty {
                evaluation.key = kinds[index].joined(separator: ",") + "|" + (value.stringValue ?? value.serialized())
            }
        }
        return .success(evaluation)
    }
}

enum WebhookContext {
    static func make(payload: JSON, headers: [String: String]) -> JSON {
        JSON(object: ["payload": payload,
                      "headers": JSON(orderedObject: headers.sorted { $0.key < $1.key }.map { ($0.key, JSON($0.value)) })])
    }
}

/// One webhook path: verification, matching and the hand-off to its queue.
public final class WebhookEndpoint: Sendable {
    public let definition: WebhookDefinition
    let verifiers: [Verifier]
    let matcher: IntakeMatcher
    let queue: any EventQueue
    let metrics: WebhookMetrics
    private let intakeOpen = Locked(true)
    /// No secret is configured and unsigned events are not allowed: every event is refused.
    let refusesAll: Bool

    /// - Parameter queue: nil: the in-process queue, bounded by `queueSize`, one lane per worker.
    init(definition: WebhookDefinition, verifiers: [Verifier], refusesAll: Bool = false, metrics: WebhookMetrics,
         queue: (any EventQueue)? = nil) throws(Diagnostics) {
        self.definition = definition
        self.verifiers = verifiers
        self.refusesAll = refusesAll
        self.metrics = metrics
        matcher = try IntakeMatcher(definition.events)
        self.queue = queue ?? LocalEventQueue(workers: definition.workers, capacity: definition.queueSize)
    }

    public var queueDepth: Int { queue.depth }

    /// What intake decided before the hand-over: an answer, or an event to queue under a key.
    enum Screened {
        case answer(IntakeResult)
        case queue(QueuedEvent, key: String)
    }

    /// Verify → parse → match → enqueue. Runs on an event loop thread; never waits. With a queue
    /// that has to wait for a server (Redis), returns nil: call `acceptDurably` off the event loop.
    public func accept(body: [UInt8], headers: [String: String], query: [String: String], now: Date = Date()) -> IntakeResult? {
        switch screen(body: body, headers: headers, query: query, now: now) {
        case .answer(let result): return result
        case .queue(let event, let key):
            guard let admission = queue.admitNow(event, key: key) else { return nil }
            return answer(admission)
        }
    }

    /// `accept`, waiting for the queue to hold the event durably before answering.
    public func acceptDurably(body: [UInt8], headers: [String: String], query: [String: String], now: Date = Date()) async -> IntakeResult {
        switch screen(body: body, headers: headers, query: query, now: now) {
        case .answer(let result): return result
        case .queue(let event, let key):
            if let admission = queue.admitNow(event, key: key) { return answer(admission) }
            return answer(await queue.admit(event, key: key))
        }
    }

    private func answer(_ admission: Admission) -> IntakeResult {
        switch admission {
        case .accepted: return .accepted
        case .full:
            metrics.rejected(definition.path, "queue_full")
            return .full
        case .unavailable(let message):
            metrics.rejected(definition.path, "queue_unavailable")
            return .rejected(status: 503, reason: "queue_unavailable", message: message)
        }
    }

    func screen(body: [UInt8], headers: [String: String], query: [String: String], now: Date) -> Screened {
        let path = definition.path
        metrics.received(path)
        guard intakeOpen.current else {
            metrics.rejected(path, "stopping")
            return .answer(.rejected(status: 503, reason: "stopping", message: "shutting down"))
        }
        guard !refusesAll else {
            metrics.rejected(path, "no_secret")
            return .answer(.rejected(status: 401, reason: "no_secret",
                                     message: "no webhook secret is configured, so no event can be verified: every event is refused"))
        }
        for verifier in verifiers {
            do { try verifier.verify(body: body, headers: headers, query: query, now: now) } catch {
                metrics.rejected(path, "verification")
                return .answer(.rejected(status: 401, reason: "verification", message: error.description))
            }
        }
        let evaluated: IntakeMatcher.Evaluation
        switch matcher.evaluate(body: body, headers: headers) {
        case .failure(let error):
            metrics.rejected(path, "json")
            return .answer(.rejected(status: 400, reason: "json", message: "the body is not JSON: \(error.message)"))
        case .success(let value): evaluated = value
        }
        guard !evaluated.matchers.isEmpty else {
            if let first = evaluated.unnamed.first {
                metrics.rejected(path, "no_record")
                return .answer(.rejected(status: 400, reason: "no_record",
                                         message: "matcher \"\(definition.events[first].name)\" matched, but the event names no record (its item or key is null)"))
            }
            metrics.ignored(path)
            return .answer(.ignored)
        }
        return .queue(QueuedEvent(body: body, headers: headers, matchers: evaluated.matchers, received: .now), key: evaluated.key)
    }

    /// Refuses new events and lets the workers end.
    func closeIntake() {
        intakeOpen.withLock { $0 = false }
        queue.closeIntake()
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
