import Foundation
import TideCore

/// Runs the real `tide` binary as a user would, capturing what it prints.
public struct TideProcess {
    private static let launching = Locked(())

    /// Starts `process`, one launch at a time in this test process: Foundation's `Process.run` on
    /// Linux crashed (a bad memcpy inside it) when many tests launched children at once.
    public static func launch(_ process: Process) throws {
        try launching.withLock { _ in try process.run() }
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Standard output split into lines, without the final empty one.
        public var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
    }

    /// Runs `tide arguments…` to completion. Output goes through files, so large outputs cannot
    /// fill a pipe and stall the child; the wait suspends instead of blocking a thread, so
    /// tests running in parallel keep making progress.
    public static func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
                           directory: URL? = nil) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tide-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        let binary = try TideBinary.url
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // Closed once the child has ended: each run would otherwise keep two descriptors, and
        // Foundation's Process.run crashed once the test process held over a thousand.
        let output = try FileHandle(forWritingTo: outURL), errors = try FileHandle(forWritingTo: errURL)
        defer { try? output.close(); try? errors.close() }
        process.standardOutput = output
        process.standardError = errors
        var inputHandle: FileHandle?
        defer { try? inputHandle?.close() }
        if let stdin {
            let inURL = scratch.appendingPathComponent("in")
            try stdin.write(to: inURL)
            let input = try FileHandle(forReadingFrom: inURL)
            inputHandle = input
            process.standardInput = input
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            process.terminationHandler = { _ in finished.resume() }
            do { try Self.launch(process) } catch {
                process.terminationHandler = nil
                finished.resume()
            }
        }
        guard !process.isRunning, process.processIdentifier != 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSFilePathErrorKey: binary.path])
        }
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}
