import Foundation
import TideCore
import TideJQ

/// Kinds a resync reads once for every reader that needs them whole with their selector
/// defaults: the parents of several child kinds (GitHub's repositories, for pull requests, issues
/// and runs), the source of a kind's partitions that a resource also maps (Jira's projects).
///
/// The first reader starts the kind's one read, which records every page as JSON text and goes on
/// at the API's pace whatever the readers do (so a reader not started yet, waiting for a resource
/// slot, can never hold the others up); each reader takes the pages in order, waiting for the ones
/// not read yet. Pages are kept in memory up to `memoryLimit` bytes, then in a temporary file, so a
/// large parent kind costs disk, not memory. A failed read fails every reader at the page it
/// reached, as a failed page fails one reader.
public final class SharedKindReads: Sendable {
    private let state = Locked<(shared: Set<String>, sharedReads: [String: SharedKindRead], memoryLimit: Int)>(([], [:], 16 << 20))

    public init() {}

    /// Reads of these kinds (with their selector defaults) are shared from now on.
    /// - Parameter memoryLimit: bytes of page text kept in memory per kind before pages go to a
    ///   temporary file (16 MiB by default).
    public func share(_ kinds: Set<String>, memoryLimit: Int? = nil) {
        state.withLock { state in
            state.shared.formUnion(kinds)
            if let memoryLimit { state.memoryLimit = memoryLimit }
        }
    }

    public var sharedKinds: Set<String> { state.current.shared }

    /// A reader of `kind`'s shared read, or nil when the kind is not shared.
    func reader(of kind: String, session: FetchSession) -> SharedPageSource? {
        let read = state.withLock { state -> SharedKindRead? in
            guard state.shared.contains(kind) else { return nil }
            if let existing = state.sharedReads[kind] { return existing }
            let made = SharedKindRead(kind: kind, session: session, memoryLimit: state.memoryLimit)
            state.sharedReads[kind] = made
            return made
        }
        return read.map { SharedPageSource(read: $0) }
    }

    /// The shared kinds whose one read has started.
    public var started: [String] { state.current.sharedReads.keys.sorted() }

    /// Bytes of page text that went to temporary files, over every shared kind.
    public var bytesOnDisk: Int64 { state.current.sharedReads.values.reduce(0) { $0 + $1.bytesOnDisk } }

    /// Stops the reads still running and removes their files: the resync is over.
    public func close() {
        let sharedReads = state.withLock { state -> [SharedKindRead] in
            defer { state.sharedReads = [:] }
            return Array(state.sharedReads.values)
        }
        for read in sharedReads { read.close() }
    }
}

/// One kind's pages, read once by its own task.
final class SharedKindRead: Sendable {
    let kind: String
    private struct Page: Sendable {
        /// The records as a JSON array's text, in memory; nil when they are in the file.
        var text: String?
        /// Where the text is in the file, when it is there.
        var offset: Int64 = 0
        var length = 0
        var number: Int
        var request: String
        var skipped: String?
    }
    private struct State {
        var pages: [Page] = []
        var finished = false
        var failure: FetchError?
        var waiting: [CheckedContinuation<Void, Never>] = []
        var inMemory = 0
        var file: FileHandle?
        var path: String?
        var fileSize: Int64 = 0
        var closed = false
    }
    private let state = Locked(State())
    private let memoryLimit: Int
    private let producer = Locked<Task<Void, Never>?>(nil)

    init(kind: String, session: FetchSession, memoryLimit: Int) {
        self.kind = kind
        self.memoryLimit = memoryLimit
        let task = Task { [weak self] () -> Void in
            guard let self else { return }
            await self.read(session)
        }
        producer.withLock { $0 = task }
    }

    private func read(_ session: FetchSession) async {
        let fetcher: KindFetcher
        do { fetcher = try KindFetcher(session: session, kind: kind) } catch {
            finish(failure: FetchError(.evaluation, message: error.description))
            return
        }
        do {
            while let page = try await fetcher.next() {
                let text = "[" + page.records.map { $0.serialized() }.joined(separator: ",") + "]"
                append(text: text, number: page.number, request: page.request, skipped: page.skipped)
                if Task.isCancelled { break }
            }
            finish(failure: Task.isCancelled ? FetchError(.cancelled, message: "reading kind \"\(kind)\" stopped") : nil)
        } catch {
            finish(failure: error)
        }
    }

    private func append(text: String, number: Int, request: String, skipped: String?) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var page = Page(text: text, number: number, request: request, skipped: skipped)
            if state.inMemory + text.utf8.count > memoryLimit, let stored = store(text, &state) {
                page.text = nil
                page.offset = stored.offset
                page.length = stored.length
            } else {
                state.inMemory += text.utf8.count
            }
            state.pages.append(page)
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Appends `text` to the read's file (made on first use); nil when it cannot be written,
    /// and the page then stays in memory.
    private func store(_ text: String, _ state: inout State) -> (offset: Int64, length: Int)? {
        if state.file == nil {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tide-kind-\(UUID().uuidString).json").path
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forUpdatingAtPath: path) else { return nil }
            state.file = handle
            state.path = path
        }
        guard let file = state.file else { return nil }
        let bytes = Data(text.utf8)
        do {
            try file.seek(toOffset: UInt64(state.fileSize))
            try file.write(contentsOf: bytes)
        } catch { return nil }
        defer { state.fileSize += Int64(bytes.count) }
        return (state.fileSize, bytes.count)
    }

    private func finish(failure: FetchError?) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            state.failure = failure
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Page `index` (0-based) once it is read; nil after the last; the read's error at the page it
    /// failed on.
    func page(_ index: Int) async throws(FetchError) -> FetchedPage? {
        while true {
            enum Outcome { case page(Page, FileHandle?), end, failed(FetchError), wait }
            let outcome = state.withLock { state -> Outcome in
                if index < state.pages.count { return .page(state.pages[index], state.file) }
                // Closed before the read finished (the resync cancelled, which also fails the read's
                // request): what is missing is unknown, never an end.
                if state.closed, !(state.finished && state.failure == nil) {
                    return .failed(FetchError(.cancelled, message: "reading kind \"\(self.kind)\" stopped before its last page"))
                }
                if let failure = state.failure { return .failed(failure) }
                return state.finished ? .end : .wait
            }
            switch outcome {
            case .page(let page, let file):
                return try records(of: page, file: file)
            case .end:
                return nil
            case .failed(let error):
                throw error
            case .wait:
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if index < state.pages.count || state.finished || state.closed { return true }
                        state.waiting.append(continuation)
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    private func records(of page: Page, file: FileHandle?) throws(FetchError) -> FetchedPage {
        var text = page.text ?? ""
        if page.text == nil {
            // Reads of the file are serialised with its writes by the lock.
            let bytes: Data? = state.withLock { _ in
                guard let file else { return nil }
                do {
                    try file.seek(toOffset: UInt64(page.offset))
                    return try file.read(upToCount: page.length)
                } catch { return nil }
            }
            guard let bytes, bytes.count == page.length else {
                throw FetchError(.evaluation, message: "page \(page.number) of kind \"\(kind)\" could not be read back from its temporary file",
                                 hint: "check the space and permissions of the temporary directory (TMPDIR)")
            }
            text = String(decoding: bytes, as: UTF8.self)
        }
        let array: JSON
        do { array = try JSON(parsing: text) } catch {
            throw FetchError(.evaluation, message: "page \(page.number) of kind \"\(kind)\" could not be passed between readers: \(error.message)")
        }
        var fetched = FetchedPage(records: array.arrayElements, number: page.number, parent: nil, request: page.request)
        fetched.skipped = page.skipped
        return fetched
    }

    var bytesOnDisk: Int64 { state.current.fileSize }

    func close() {
        // Closed first, so a reader that wakes on the cancelled request's failure sees why.
        let (file, path, waiting) = state.withLock { state -> (FileHandle?, String?, [CheckedContinuation<Void, Never>]) in
            state.closed = true
            defer { state.waiting = []; state.file = nil }
            return (state.file, state.path, state.waiting)
        }
        producer.current?.cancel()
        for continuation in waiting { continuation.resume() }
        try? file?.close()
        if let path { try? FileManager.default.removeItem(atPath: path) }
    }

    deinit {
        producer.current?.cancel()
        if let path = state.current.path { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// One reader of a shared read: its pages in order, as a fetcher of the kind would give them.
final class SharedPageSource: PageSource {
    let read: SharedKindRead
    private var index = 0
    private var finished = false

    init(read: SharedKindRead) { self.read = read }

    var kind: String { read.kind }

    func next() async throws(FetchError) -> FetchedPage? {
        guard !finished else { return nil }
        do {
            guard let page = try await read.page(index) else {
                finished = true
                return nil
            }
            index += 1
            return page
        } catch {
            finished = true
            throw error
        }
    }

    /// The read holds whole records (other readers need all of them).
    func parseOnly(recordPaths: JSONProjection) {}
    var recordsAreIndependent: Bool { true }
    var runs: RunCounts? { nil }
    var notes: [String] { [] }
    var completedRuns: [String] { [] }
}
