import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `tide` process that serves (`tide run` with a live listener), as an operator starts it: the
/// caller's `TIDE_…` and `OCEAN__…` variables left out, its standard error in a file to read.
public final class ServedTide: @unchecked Sendable {
    public let process = Process()
    public let stderr: URL
    /// Where it listens, once `waitListening()` has read it from the log.
    public private(set) var port = 0

    public struct Exited: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter descriptorLimit: run under `ulimit -n` (a shell in front, replaced by `tide`).
    public init(_ arguments: [String], environment: [String: String], descriptorLimit: Int? = nil) throws {
        stderr = FileManager.default.temporaryDirectory.appendingPathComponent("tide-served-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        let binary = try TideBinary.url
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", #"ulimit -n \#(descriptorLimit) && exec "$0" "$@""#, binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TIDE_") && !$0.key.hasPrefix("OCEAN__") }
        base.merge(environment) { $1 }
        process.environment = base
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardInput = FileHandle.nullDevice
        try TideProcess.launch(process)
    }

    public var log: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

    /// Until the log says where it listens; an error with the log if it exits first.
    public func waitListening() async throws {
        var exited = false
        try await eventually("tide listening") {
            let text = log
            if let range = text.range(of: #"listening on http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)!
                return true
            }
            exited = !process.isRunning
            return exited
        }
        if exited { throw Exited(description: "tide exited before listening:\n\(log)") }
    }

    /// SIGTERM, then the exit status.
    public func stop() async throws -> Int32 {
        process.terminate()
        try await eventually("tide stopped") { !process.isRunning }
        return process.terminationStatus
    }

    /// SIGKILL: no drain, as a node that dies.
    public func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
