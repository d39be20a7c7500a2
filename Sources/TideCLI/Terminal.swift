import ArgumentParser
import Foundation
import Logging
import TideCore

/// Standard error, where Tide's reports and errors go (standard output carries only data).
enum Terminal {
    /// How `tide run` writes once it knows: its log format, and the run's secrets for every line.
    /// Other commands leave it unset and write plain text.
    struct Style: Sendable {
        var format: LogFormat
        var secrets: SecretBox
    }
    static let style = Locked<Style?>(nil)

    static func error(_ text: String) { report(.error, text) }

    /// One report: a line of text, or under `--log-format json` one ECS log line with `fields`.
    static func report(_ level: Logger.Level, _ text: String, fields: [String: LogField] = [:], logger: String = "tide") {
        guard let style = style.current else { return write(text) }
        switch style.format {
        case .text: write(style.secrets.redact(text))
        case .json: write(ECSLine.render(level: level, message: text, logger: logger, fields: fields, secrets: style.secrets))
        }
    }

    /// A finding of the checks `tide run` makes first, with its place and rule as fields in JSON.
    static func report(_ finding: Diagnostic) {
        var fields: [String: LogField] = ["tide.rule": .string(finding.rule)]
        if let location = finding.location {
            fields["file.path"] = .string(location.file)
            fields["tide.line"] = .int(location.line)
            fields["tide.column"] = .int(location.column)
        }
        let level: Logger.Level = switch finding.severity { case .error: .error; case .warning: .warning; case .note: .notice }
        report(level, finding.description, fields: fields, logger: "tide.lint")
    }

    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Buffered writes to a file descriptor: one `write` per 64 KiB instead of one per line. Safe to
/// share between tasks (a dry run's pages arrive from several).
final class OutputBuffer: Sendable {
    private let descriptor: Int32
    private let bytes: Locked<[UInt8]>
    private static let capacity = 1 << 16

    init(descriptor: Int32) {
        self.descriptor = descriptor
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.capacity)
        bytes = Locked(buffer)
    }

    deinit { flush() }

    func writeLine(_ line: String) {
        bytes.withLock { bytes in
            bytes.append(contentsOf: line.utf8)
            bytes.append(0x0A)
            if bytes.count >= Self.capacity { Self.drain(&bytes, to: descriptor) }
        }
    }

    func flush() { bytes.withLock { Self.drain(&$0, to: descriptor) } }

    private static func drain(_ bytes: inout [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                // A closed pipe (`tide map … | head`) is not an error worth a report.
                break
            }
            offset += written
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// A command's input file, or standard input for `-`; closed when dropped.
final class InputFile {
    let descriptor: Int32
    /// How messages name it.
    let name: String

    /// Opens `path`; an unreadable file is reported (as `what` PATH) and exits with status 2.
    init(_ path: String, what: String) throws {
        if path == "-" {
            descriptor = STDIN_FILENO
            name = "standard input"
            return
        }
        descriptor = open(path, O_RDONLY)
        name = path
        guard descriptor >= 0 else {
            Terminal.error("error: cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
    }

    deinit { if descriptor != STDIN_FILENO, descriptor >= 0 { close(descriptor) } }
}
