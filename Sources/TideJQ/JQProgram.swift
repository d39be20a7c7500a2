import CJQ
import Foundation
import TideCore

/// How a jq program is compiled and run.
public struct JQOptions: Sendable, Hashable {
    /// When false, `env` and `$ENV` are empty objects (Ocean's `allow_environment_variables_jq_access`).
    public var allowEnvironment: Bool
    /// The longest one input may take to evaluate before the program is halted and reported.
    public var timeout: Duration

    public init(allowEnvironment: Bool = true, timeout: Duration = .seconds(10)) {
        self.allowEnvironment = allowEnvironment
        self.timeout = timeout
    }
}

/// A jq program that failed to compile, with libjq's own message.
public struct JQCompileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libjq's messages, with line numbers relative to the user's program.
    public var message: String
    /// The 1-based line within the program that libjq blamed, when it said one.
    public var line: Int?
    public init(message: String, line: Int?) {
        self.message = message
        self.line = line
    }
    public var description: String { message }
}

/// A failure while running a program on one input.
public enum JQRuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `error(...)` or a type error, with jq's message.
    case error(String)
    /// The evaluation ran past `JQOptions.timeout` and was halted.
    case timeout(Duration)
    /// `halt_error` was called.
    case halted(String)
    /// The process's memory passed `JQLimits.memoryLimitBytes` while this evaluation ran.
    case memoryLimit(bytes: Int)

    public var description: String {
        switch self {
        case .error(let message): message
        case .timeout(let limit): "jq program was stopped after running for \(limit) on one input (an infinite loop?)"
        case .memoryLimit(let bytes): "jq program was stopped: the process passed its memory limit of \(bytes >> 20) MB while it ran on one input (a value too large to build? the limit is TIDE_MAX_MEMORY_MB)"
        case .halted(let message): "jq program halted: \(message)"
        }
    }
}

/// A compiled jq program. Compile once, run on many inputs.
///
/// Not thread-safe (libjq's state is per program): give each thread its own program.
///
/// Two libjq 1.6 hazards shape this type. A program stopped before its last output while inside a
/// `path(…)` expression aborts the process when it is restarted or torn down, so `first()` runs a
/// variant that ends itself with `label`/`break` after one output. And a program halted by the
/// watchdog may be in that state, so its libjq state is abandoned, never touched again, and a
/// fresh one is compiled for the next input.
public final class JQProgram {
    private static let compileLock = Locked(())

    public let source: String
    public let options: JQOptions
    /// Runs every output (`all`); compiled on first use, or at init when `firstOnly` does not compile.
    private var complete: CompiledState?
    /// Stops itself after the first output (`first`); compiled at init, since most programs are
    /// only ever asked for their first output and each compile costs libjq milliseconds.
    private var firstOnly: CompiledState?

    /// `source` in libjq 1.6 syntax with jq 1.8's meaning (`JQRewrite`): what is compiled.
    private let runnable: String

    /// Set when the program is known to be a plain path: read without libjq (see `init(_:plainPath:)`).
    private let plainPath: JSONPath?

    public init(_ source: String, options: JQOptions = JQOptions()) throws(JQCompileError) {
        self.source = source
        self.options = options
        runnable = JQRewrite.for16(source)
        if let steps = JSONPath.plainSteps(source) {
            // Nothing to compile: jq's own answer is only needed where the read would raise.
            plainPath = JSONPath(steps)
            return
        }
        plainPath = nil
        firstOnly = try? Self.compile(Self.firstVariant(runnable), options: options)
        // The plain program words compile errors with the user's line numbers.
        if firstOnly == nil { complete = try Self.compile(runnable, options: options) }
    }

    /// A program that the caller knows gives exactly what reading `steps` from its input gives
    /// (a template's `.config.host` behind definitions, `.body.nextPageToken` behind bindings of
    /// variables it does not use). It is read natively; `source` is compiled only when the read
    /// meets a value jq would raise on, so that the error is jq's own. A compile error in
    /// `source` then surfaces as a runtime error.
    public init(_ source: String, plainPath steps: [JSONPath.Step], options: JQOptions = JQOptions()) {
        self.source = source
        self.options = options
        runnable = JQRewrite.for16(source)
        plainPath = JSONPath(steps)
    }

    private static func firstVariant(_ source: String) -> String {
        "label $__tide_first | (\n" + source + "\n) | ., break $__tide_first"
    }

    /// The first output, `nil` when there is none (Ocean's `.first()`).
    public func first(_ input: JSON) throws(JQRuntimeError) -> JSON? {
        if let plainPath, let value = plainPath.read(in: input) { return value }
        if firstOnly == nil {
            firstOnly = (try? Self.compile(Self.firstVariant(runnable), options: options)) ?? (try? Self.compile(runnable, options: options))
        }
        guard let state = firstOnly else { return nil }
        do {
            return try state.run(input, options: options) { outputs throws(JQRuntimeError) in try outputs.next() }
        } catch {
            drop(&firstOnly, after: error)
            throw error
        }
    }

    /// Every output, or the first error.
    public func all(_ input: JSON) throws(JQRuntimeError) -> [JSON] {
        if let plainPath, let value = plainPath.read(in: input) { return [value] }
        if complete == nil {
            do { complete = try Self.compile(runnable, options: options) } catch {
                // Only a program built with `plainPath:` gets here uncompiled: say why it failed.
                guard plainPath == nil else { throw .error(error.message) }
            }
        }
        guard let state = complete else { return [] }
        do {
            return try state.run(input, options: options) { outputs throws(JQRuntimeError) in
                var results: [JSON] = []
                while let value = try outputs.next() { results.append(value) }
                return results
            }
        } catch {
            drop(&complete, after: error)
            throw error
        }
    }

    /// Drops libjq's references to the last input. A run that stopped early (`first()`, an
    /// error) keeps its stack, and with it the input, until the next run starts; values that
    /// share structure with that input must not be handed to another thread while it does
    /// (reference counts in libjq are not atomic).
    public func releaseInput() {
        firstOnly?.reset()
        complete?.reset()
    }

    /// After a timeout the state is abandoned (see the type's comment). After `halt`/`halt_error`
    /// it is torn down at once: libjq 1.6's reset frees a halted state's exit code and message
    /// without clearing them, so running that state twice more would free them twice.
    private func drop(_ state: inout CompiledState?, after error: JQRuntimeError) {
        switch error {
        case .timeout, .memoryLimit: abandon(&state)
        case .halted: state = nil
        case .error: break
        }
    }

    private func abandon(_ state: inout CompiledState?) {
        state?.abandon()
        state = nil
    }

    static func compile(_ program: String, options: JQOptions) throws(JQCompileError) -> CompiledState {
        guard let state = jq_init() else {
            throw JQCompileError(message: "libjq could not allocate its state", line: nil)
        }
        let collector = MessageCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        jq_set_error_cb(state, { context, message in
            let collector = Unmanaged<MessageCollector>.fromOpaque(context!).takeUnretainedValue()
            // Messages are strings; anything else is shown as JSON.
            if jv_get_kind(message) == JV_KIND_STRING {
                collector.messages.append(JSON.contents(ofString: message))
                jv_free(message)
            } else {
                collector.messages.append(JSON.dump(message, flags: 0))
            }
        }, context)
        let prefix = JQPrelude.source(for: program) + (options.allowEnvironment ? "" : JQPrelude.withoutEnvironment)
        // libjq 1.6's compiler shares global state between threads (fixed in jq 1.7): concurrent
        // jq_compile calls crash, so compiles are serialized process-wide.
        let compiled = compileLock.withLock { _ in jq_compile(state, prefix + program) }
        jq_set_error_cb(state, nil, nil)
        if compiled == 0 {
            var state: OpaquePointer? = state
            jq_teardown(&state)
            throw compileError(collector.messages, prefixLines: prefix.lineCount - 1)
        }
        // Send `debug` output nowhere rather than to Tide's own stderr.
        jq_set_debug_cb(state, { _, message in jv_free(message) }, nil)
        return CompiledState(state: state, limit: options.timeout)
    }

    static func compileError(_ messages: [String], prefixLines: Int) -> JQCompileError {
        // libjq reports "... at <top-level>, line N:" counting the prelude; shift to the user's lines.
        var line: Int?
        let adjusted = messages.filter { !$0.hasSuffix("compile error") && !$0.hasSuffix("compile errors") }
            .map { raw -> String in
                var text = raw.hasPrefix("jq: error: ") ? String(raw.dropFirst("jq: error: ".count)) : raw
                if let range = text.range(of: #"line \d+"#, options: .regularExpression),
                   let number = Int(text[range].dropFirst(5)) {
                    let user = max(1, number - prefixLines)
                    if line == nil { line = user }
                    text.replaceSubrange(range, with: "line \(user)")
                }
                text = text.replacingOccurrences(of: " (Unix shell quoting issues?)", with: "")
                // libjq echoes the whole program after the position; the user has it already.
                if let cut = text.range(of: ":\n") { text = String(text[..<cut.lowerBound]) }
                return text
            }
        let message = adjusted.isEmpty ? messages.joined(separator: "; ") : adjusted.joined(separator: "; ")
        return JQCompileError(message: message.isEmpty ? "jq program does not compile" : message, line: line)
    }
}

/// One libjq state with its watchdog slot.
final class CompiledState {
    let state: OpaquePointer
    let slot: WatchdogSlot
    private var abandoned = false

    init(state: OpaquePointer, limit: Duration) {
        self.state = state
        slot = WatchdogSlot(state: state, limit: limit)
        Watchdog.shared.register(slot)
    }

    /// Frees what the last run holds: starting a run resets the state, and `null` holds nothing.
    func reset() {
        guard !abandoned else { return }
        jq_start(state, jv_null(), 0)
    }

    /// Never touch this state again (see `JQProgram`): it is left allocated on purpose.
    func abandon() { abandoned = true }

    deinit {
        Watchdog.shared.unregister(slot)
        slot.retire()
        guard !abandoned else { return }
        var state: OpaquePointer? = state
        jq_teardown(&state)
    }

    /// Starts a run on `input`, lets `body` pull outputs, and disarms the watchdog afterwards.
    func run<T>(_ input: JSON, options: JQOptions, _ body: (inout Outputs) throws(JQRuntimeError) -> T) throws(JQRuntimeError) -> T {
        slot.begin()
        defer { slot.end() }
        jq_start(state, input.retained(), 0)
        var outputs = Outputs(compiled: self, timeout: options.timeout)
        return try body(&outputs)
    }

    /// Pulls outputs from libjq.
    struct Outputs {
        let compiled: CompiledState
        let timeout: Duration

        mutating func next() throws(JQRuntimeError) -> JSON? {
            let value = jq_next(compiled.state)
            if jv_get_kind(value) != JV_KIND_INVALID { return JSON(owning: value) }
            if compiled.slot.didTimeOut {
                jv_free(value)
                if let limit = compiled.slot.memoryLimitHit { throw .memoryLimit(bytes: limit) }
                throw .timeout(timeout)
            }
            if jq_halted(compiled.state) != 0 {
                jv_free(value)
                let message = jq_get_error_message(compiled.state)
                if jv_get_kind(message) == JV_KIND_INVALID {
                    jv_free(message)
                    return nil
                }
                let text = jv_get_kind(message) == JV_KIND_STRING
                    ? JSON.contents(ofString: message) : JSON.dump(jv_copy(message), flags: 0)
                jv_free(message)
                throw .halted(text)
            }
            guard let message = JSON.consumeInvalidMessage(value) else { return nil }
            throw .error(message)
        }
    }
}

private final class MessageCollector {
    var messages: [String] = []
}

extension String {
    var lineCount: Int { reduce(into: 1) { count, character in if character == "\n" { count += 1 } } }
}

// MARK: - Watchdog

/// One program's evaluation clock, shared with the watchdog thread.
final class WatchdogSlot: @unchecked Sendable {
    // libjq's `jq_state`; touched from the watchdog thread only through `jq_halt`, under `lock`.
    private let state: OpaquePointer
    let limitNanoseconds: UInt64
    private struct Clock {
        var startedAt: UInt64 = 0  // 0 while idle
        var timedOut = false
        /// Set with `timedOut` when it was memory, not time: the limit in force.
        var memoryLimit: Int?
        var retired = false  // the jq_state is gone
    }
    private let lock = Locked(Clock())

    init(state: OpaquePointer, limit: Duration) {
        self.state = state
        let (seconds, attoseconds) = limit.components
        limitNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    func begin() {
        lock.withLock { $0 = Clock(startedAt: Watchdog.now(), timedOut: false, memoryLimit: nil) }
    }

    func end() {
        lock.withLock { $0.startedAt = 0 }
    }

    var didTimeOut: Bool { lock.withLock { $0.timedOut } }
    var memoryLimitHit: Int? { lock.withLock { $0.memoryLimit } }
    var isRunning: Bool { lock.withLock { $0.startedAt != 0 && !$0.timedOut && !$0.retired } }

    /// Called by the watchdog when the process is over its memory limit: stops this evaluation
    /// if one runs, as a timeout would.
    func stopForMemory(limit: Int) {
        lock.withLock { clock in
            guard !clock.retired, clock.startedAt != 0, !clock.timedOut else { return }
            clock.timedOut = true
            clock.memoryLimit = limit
            jq_halt(state, jv_invalid(), jv_invalid())
        }
    }

    /// Called before the program's state is torn down, so a late check never touches it.
    func retire() { lock.withLock { $0.retired = true } }

    /// Called by the watchdog: halts the running evaluation if it is past its limit.
    func check() {
        lock.withLock { clock in
            // Read the clock under the lock: a `now` taken earlier could predate this evaluation.
            guard !clock.retired, clock.startedAt != 0, !clock.timedOut,
                  Watchdog.now() - clock.startedAt > limitNanoseconds else { return }
            clock.timedOut = true
            // libjq checks `halted` at the top of its interpreter loop, so this stops the evaluation
            // at its next instruction; jq_start clears it again for the next input.
            jq_halt(state, jv_invalid(), jv_invalid())
        }
    }
}

/// A single background thread that stops jq evaluations running past their time limit,
/// so a mapping such as `def f: f; f` cannot hang a resync.
final class Watchdog: @unchecked Sendable {
    static let shared = Watchdog()

    private let slots = Locked<[ObjectIdentifier: WatchdogSlot]>([:])

    private init() {
        let thread = Thread { [unowned self] in
            while true {
                Thread.sleep(forTimeInterval: 0.05)
                let current = slots.withLock({ Array($0.values) })
                for slot in current { slot.check() }
                // Memory is read only while something runs, and stops whatever runs then.
                let limit = JQLimits.memoryLimitBytes
                if limit > 0, current.contains(where: \.isRunning), let resident = JQLimits.residentBytes(), resident > limit {
                    for slot in current { slot.stopForMemory(limit: limit) }
                }
            }
        }
        thread.name = "tide-jq-watchdog"
        thread.start()
    }

    func register(_ slot: WatchdogSlot) { slots.withLock { $0[ObjectIdentifier(slot)] = slot } }
    func unregister(_ slot: WatchdogSlot) { _ = slots.withLock { $0.removeValue(forKey: ObjectIdentifier(slot)) } }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
