import TideCore
import CCurl
import Foundation

/// Typed entry points for libcurl's variadic functions, through the fixed-argument wrappers in
/// CCurl's header (Swift does not import C variadics).
enum Curl {
    static func setoptLong(_ easy: UnsafeMutableRawPointer?, _ option: CURLoption, _ value: Int) -> CURLcode {
        tide_curl_easy_setopt_long(easy, option, value)
    }
    static func setoptPointer(_ easy: UnsafeMutableRawPointer?, _ option: CURLoption, _ value: UnsafeRawPointer?) -> CURLcode {
        tide_curl_easy_setopt_pointer(easy, option, value)
    }
    static func getinfo(_ easy: UnsafeMutableRawPointer?, _ info: CURLINFO, _ out: UnsafeMutableRawPointer?) -> CURLcode {
        tide_curl_easy_getinfo_pointer(easy, info, out)
    }
    static func multiSetoptLong(_ multi: UnsafeMutableRawPointer?, _ option: CURLMoption, _ value: Int) -> CURLMcode {
        tide_curl_multi_setopt_long(multi, option, value)
    }

    /// `curl_global_init` once per process, before the first handle (Swift runs a static
    /// initialiser exactly once, thread-safely).
    static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    @discardableResult
    static func set(_ easy: UnsafeMutableRawPointer, _ option: CURLoption, _ value: Int) -> CURLcode {
        setoptLong(easy, option, value)
    }

    @discardableResult
    static func set(_ easy: UnsafeMutableRawPointer, _ option: CURLoption, _ value: String) -> CURLcode {
        // libcurl copies string options (since 7.17), so the pointer need only live for the call.
        value.withCString { setoptPointer(easy, option, $0) }
    }

    @discardableResult
    static func set(_ easy: UnsafeMutableRawPointer, _ option: CURLoption, pointer: UnsafeRawPointer?) -> CURLcode {
        setoptPointer(easy, option, pointer)
    }
}

/// What one attempt produced: a response, or a failure before a complete response.
enum AttemptOutcome: Sendable {
    struct Response: Sendable {
        var status: Int
        var reason: String
        var headers: HTTPHeaders
        var body: [UInt8]
        var url: String
        var duration: Duration
    }
    struct Failure: Sendable {
        var kind: HTTPError.Kind
        var detail: String
        /// The request certainly never reached the server (DNS or connect failed), so repeating
        /// it is safe even for a non-idempotent method.
        var notSent: Bool
        /// Nothing listens there (connection refused or no route): a retry would meet the same.
        var unreachable = false
    }
    case response(Response)
    case failure(Failure)
}

/// The per-attempt settings the engine applies to an easy handle.
struct TransferSettings: Sendable {
    var connectTimeout: Duration
    var timeout: Duration
    var maxBodyBytes: Int
    var verifyTLS: Bool
    var followRedirects: Bool
    var maxRedirects: Int
}

/// One attempt in flight. Created by a Swift task, then owned by the engine thread: apart from
/// `cancelled` and the continuation (both behind a lock), its fields are touched only there.
final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    let settings: TransferSettings
    private let sync = Locked<(continuation: CheckedContinuation<AttemptOutcome, Never>?, cancelled: Bool)>((nil, false))

    // Engine-thread state.
    var headers = HTTPHeaders()
    var reason = ""
    var body: [UInt8] = []
    var tooLarge = false
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var started = ContinuousClock.now

    init(request: HTTPRequest, settings: TransferSettings) {
        self.request = request
        self.settings = settings
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        errorBuffer.deallocate()
        if let headerList { curl_slist_free_all(headerList) }
    }

    func attach(_ continuation: CheckedContinuation<AttemptOutcome, Never>) {
        sync.withLock { $0.continuation = continuation }
    }

    /// Marks the transfer cancelled; returns false if it already finished.
    func markCancelled() { sync.withLock { $0.cancelled = true } }
    var isCancelled: Bool { sync.withLock { $0.cancelled } }

    /// Resumes the waiting task exactly once; later calls do nothing.
    func finish(_ outcome: AttemptOutcome) {
        let continuation = sync.withLock { state -> CheckedContinuation<AttemptOutcome, Never>? in
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: outcome)
    }
}

/// libcurl's multi interface on one dedicated thread.
///
/// Tasks hand `Transfer`s over through a locked command queue and wake the thread with
/// `curl_multi_wakeup` (the one multi function libcurl allows from other threads). The thread
/// alone touches the multi handle and the easy handles: it adds transfers, runs
/// `curl_multi_perform`, collects finished ones from `curl_multi_info_read`, resumes their
/// continuations, and sleeps in `curl_multi_poll` until a socket is ready, a libcurl timer is
/// due or it is woken. One multi handle means one connection cache, so sequential requests to a
/// host reuse a kept-alive connection; finished easy handles are reset and pooled.
final class CurlEngine: @unchecked Sendable {
    private enum Command {
        case add(Transfer)
        case cancel(Transfer)
    }

    private struct Shared {
        var commands: [Command] = []
        var stopping = false
        /// Set by the engine thread just before `curl_multi_cleanup`: after it, nobody may call
        /// `curl_multi_wakeup`.
        var closed = false
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let multi: UnsafeMutableRawPointer
    private let shared = Locked(Shared())
    private let poolLimit: Int

    // Engine-thread state.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var pool: [UnsafeMutableRawPointer] = []

    init(poolLimit: Int, maxIdleConnections: Int) {
        Curl.globalInit
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed (out of memory)") }
        self.multi = multi
        self.poolLimit = poolLimit
        _ = Curl.multiSetoptLong(multi, CURLMOPT_MAXCONNECTS, maxIdleConnections)
        let thread = Thread { [self] in run() }
        thread.name = "tide-http"
        thread.start()
    }

    /// Queues `transfer`; its continuation must already be attached.
    func submit(_ transfer: Transfer) {
        let accepted = shared.withLock { shared -> Bool in
            guard !shared.stopping else { return false }
            shared.commands.append(.add(transfer))
            curl_multi_wakeup(multi)
            return true
        }
        if !accepted {
            transfer.finish(.failure(.init(kind: .cancelled, detail: "the HTTP client was shut down", notSent: true)))
        }
    }

    func cancel(_ transfer: Transfer) {
        transfer.markCancelled()
        shared.withLock { shared in
            guard !shared.closed else { return }
            shared.commands.append(.cancel(transfer))
            curl_multi_wakeup(multi)
        }
    }

    /// Runs one attempt on the engine thread; cancelling the task removes the transfer.
    func perform(_ request: HTTPRequest, settings: TransferSettings) async -> AttemptOutcome {
        let transfer = Transfer(request: request, settings: settings)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.attach(continuation)
                submit(transfer)
            }
        } onCancel: {
            cancel(transfer)
        }
    }

    /// Asks the thread to stop without waiting (for `deinit`).
    func requestStop() {
        shared.withLock { shared in
            guard !shared.stopping else { return }
            shared.stopping = true
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the thread, failing any transfer still running as cancelled, and waits until every
    /// handle is freed.
    func stop() async {
        await withCheckedContinuation { continuation in
            let done = shared.withLock { shared -> Bool in
                if shared.closed { return true }
                shared.shutdownWaiters.append(continuation)
                shared.stopping = true
                curl_multi_wakeup(multi)
                return false
            }
            if done { continuation.resume() }
        }
    }

    // MARK: Engine thread

    private func run() {
        var running: Int32 = 0
        while true {
            let (commands, stopping) = shared.withLock { shared in
                defer { shared.commands = [] }
                return (shared.commands, shared.stopping)
            }
            for command in commands {
                switch command {
                case .add(let transfer): start(transfer)
                case .cancel(let transfer): abort(transfer)
                }
            }
            if stopping { break }
            curl_multi_perform(multi, &running)
            collectFinished()
            // 1 s is only an upper bound: libcurl shortens the wait to its own next timeout.
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        tearDown()
    }

    private func start(_ transfer: Transfer) {
        if transfer.isCancelled {
            transfer.finish(.failure(.init(kind: .cancelled, detail: "cancelled", notSent: true)))
            return
        }
        guard let easy = pool.popLast() ?? curl_easy_init() else {
            transfer.finish(.failure(.init(kind: .connection, detail: "curl_easy_init failed", notSent: true)))
            return
        }
        if let problem = configure(easy, for: transfer) {
            recycle(easy)
            transfer.finish(.failure(problem))
            return
        }
        transfer.started = .now
        active[easy] = transfer
        let code = curl_multi_add_handle(multi, easy)
        if code != CURLM_OK {
            active[easy] = nil
            recycle(easy)
            let message = String(cString: curl_multi_strerror(code))
            transfer.finish(.failure(.init(kind: .connection, detail: message, notSent: true)))
        }
    }

    private func abort(_ transfer: Transfer) {
        guard let (easy, _) = active.first(where: { $0.value === transfer }) else { return }
        active[easy] = nil
        curl_multi_remove_handle(multi, easy)
        recycle(easy)
        transfer.finish(.failure(.init(kind: .cancelled, detail: "cancelled", notSent: false)))
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let pointer = curl_multi_info_read(multi, &left) {
            // The message is only valid until the handle is removed, so copy what is needed now.
            let message = pointer.pointee
            guard message.msg == CURLMSG_DONE, let easy = message.easy_handle,
                  let transfer = active.removeValue(forKey: easy) else { continue }
            let code = message.data.result
            let outcome = outcome(of: transfer, easy: easy, code: code)
            curl_multi_remove_handle(multi, easy)
            recycle(easy)
            transfer.finish(outcome)
        }
    }

    private func outcome(of transfer: Transfer, easy: UnsafeMutableRawPointer, code: CURLcode) -> AttemptOutcome {
        let duration = ContinuousClock.now - transfer.started
        if code == CURLE_OK {
            var status = 0
            _ = Curl.getinfo(easy, CURLINFO_RESPONSE_CODE, &status)
            var urlPointer: UnsafeMutablePointer<CChar>?
            _ = Curl.getinfo(easy, CURLINFO_EFFECTIVE_URL, &urlPointer)
            let url = urlPointer.map { String(cString: $0) } ?? transfer.request.url
            let reason = transfer.reason.isEmpty ? HTTPReason.phrase(for: status) : transfer.reason
            return .response(.init(status: status, reason: reason, headers: transfer.headers,
                                   body: transfer.body, url: url, duration: duration))
        }
        var detail = String(cString: transfer.errorBuffer)
        if detail.isEmpty { detail = String(cString: curl_easy_strerror(code)) }
        let kind: HTTPError.Kind
        var notSent = false
        switch code {
        case CURLE_FILESIZE_EXCEEDED:
            kind = .tooLarge
            detail = "the response body is larger than the limit of \(transfer.settings.maxBodyBytes) bytes"
        case CURLE_WRITE_ERROR where transfer.tooLarge:
            kind = .tooLarge
            detail = "the response body is larger than the limit of \(transfer.settings.maxBodyBytes) bytes"
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timeout
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            kind = .invalidURL
            notSent = true
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .connection
            notSent = true
        case CURLE_COULDNT_CONNECT:
            return .failure(.init(kind: .connection, detail: detail, notSent: true, unreachable: true))
        default:
            kind = .connection
        }
        return .failure(.init(kind: kind, detail: detail, notSent: notSent))
    }

    /// Resets a handle for the pool (keeping nothing of the last request) or frees it.
    private func recycle(_ easy: UnsafeMutableRawPointer) {
        if pool.count < poolLimit {
            curl_easy_reset(easy)
            pool.append(easy)
        } else {
            curl_easy_cleanup(easy)
        }
    }

    private func tearDown() {
        let (leftover, waiters) = shared.withLock { shared in
            shared.closed = true
            defer { shared.commands = []; shared.shutdownWaiters = [] }
            return (shared.commands, shared.shutdownWaiters)
        }
        let stopped = AttemptOutcome.failure(.init(kind: .cancelled, detail: "the HTTP client was shut down", notSent: false))
        for command in leftover {
            if case .add(let transfer) = command {
                transfer.finish(.failure(.init(kind: .cancelled, detail: "the HTTP client was shut down", notSent: true)))
            }
        }
        for (easy, transfer) in active {
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
            transfer.finish(stopped)
        }
        active = [:]
        for easy in pool { curl_easy_cleanup(easy) }
        pool = []
        curl_multi_cleanup(multi)
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Easy handle setup

    /// Applies the request to a clean handle; returns a failure when libcurl refuses an option.
    private func configure(_ easy: UnsafeMutableRawPointer, for transfer: Transfer) -> AttemptOutcome.Failure? {
        let request = transfer.request
        let settings = transfer.settings
        let context = UnsafeRawPointer(Unmanaged.passUnretained(transfer).toOpaque())
        transfer.errorBuffer[0] = 0

        if Curl.set(easy, CURLOPT_URL, request.url) != CURLE_OK {
            return .init(kind: .invalidURL, detail: "libcurl rejected the URL", notSent: true)
        }
        Curl.set(easy, CURLOPT_NOSIGNAL, 1)  // no SIGALRM from a worker thread
        Curl.set(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        Curl.set(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        Curl.set(easy, CURLOPT_ERRORBUFFER, pointer: UnsafeRawPointer(transfer.errorBuffer))
        Curl.set(easy, CURLOPT_TCP_KEEPALIVE, 1)
        Curl.set(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, settings.connectTimeout.milliseconds))
        Curl.set(easy, CURLOPT_TIMEOUT_MS, max(1, settings.timeout.milliseconds))
        Curl.set(easy, CURLOPT_MAXFILESIZE_LARGE, settings.maxBodyBytes)
        Curl.set(easy, CURLOPT_SSL_VERIFYPEER, settings.verifyTLS ? 1 : 0)
        Curl.set(easy, CURLOPT_SSL_VERIFYHOST, settings.verifyTLS ? 2 : 0)
        Curl.set(easy, CURLOPT_FOLLOWLOCATION, settings.followRedirects ? 1 : 0)
        Curl.set(easy, CURLOPT_MAXREDIRS, settings.maxRedirects)
        if !request.headers.contains("Accept-Encoding") {
            // "" = every encoding this libcurl can decode (gzip, deflate, …); it decodes for us.
            Curl.set(easy, CURLOPT_ACCEPT_ENCODING, "")
        }

        Curl.set(easy, CURLOPT_WRITEFUNCTION, pointer: unsafeBitCast(Callbacks.write, to: UnsafeRawPointer.self))
        Curl.set(easy, CURLOPT_WRITEDATA, pointer: context)
        Curl.set(easy, CURLOPT_HEADERFUNCTION, pointer: unsafeBitCast(Callbacks.header, to: UnsafeRawPointer.self))
        Curl.set(easy, CURLOPT_HEADERDATA, pointer: context)

        let body = request.body ?? []
        switch request.method {
        case .get where body.isEmpty:
            Curl.set(easy, CURLOPT_HTTPGET, 1)
        case .head:
            Curl.set(easy, CURLOPT_NOBODY, 1)
        default:
            if request.method != .post { Curl.set(easy, CURLOPT_CUSTOMREQUEST, request.method.rawValue) }
            if request.method == .post || !body.isEmpty {
                Curl.set(easy, CURLOPT_POSTFIELDSIZE_LARGE, body.count)
                // COPYPOSTFIELDS copies, so the bytes need not outlive this call; one dummy byte
                // keeps the pointer valid for an empty body.
                let bytes = body.isEmpty ? [0] : body
                bytes.withUnsafeBytes { _ = Curl.set(easy, CURLOPT_COPYPOSTFIELDS, pointer: $0.baseAddress) }
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for field in request.headers {
            // A header with an empty value must be written "Name;" or libcurl drops it.
            let line = field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)"
            list = curl_slist_append(list, line)
        }
        // libcurl would otherwise send "Expect: 100-continue" for large bodies and stall a second
        // on servers that never answer it.
        if !request.headers.contains("Expect") { list = curl_slist_append(list, "Expect:") }
        transfer.headerList = list
        Curl.set(easy, CURLOPT_HTTPHEADER, pointer: UnsafeRawPointer(list))
        return nil
    }
}

/// libcurl callbacks. They run on the engine thread inside `curl_multi_perform`.
private enum Callbacks {
    static let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        guard let context else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        guard transfer.body.count + length <= transfer.settings.maxBodyBytes else {
            // Returning fewer bytes than given aborts the transfer with CURLE_WRITE_ERROR.
            transfer.tooLarge = true
            return 0
        }
        if let data, length > 0 {
            transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
        }
        return length
    }

    static let header: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        guard let context else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        guard let data, length > 0 else { return length }
        var line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        while line.hasSuffix("\n") || line.hasSuffix("\r") || line.hasSuffix("\r\n") { line.removeLast() }
        if line.hasPrefix("HTTP/") {
            // A new status line (after a 1xx or a redirect): only the final response's headers count.
            transfer.headers = HTTPHeaders()
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            transfer.reason = parts.count > 2 ? String(parts[2]) : ""
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...]).trimmingSpaces()
            transfer.headers.add(name, value)
        }
        return length
    }
}
