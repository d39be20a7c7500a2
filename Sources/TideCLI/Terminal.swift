import ArgumentParser
import Foundation
import TideCore

/// Standard error, where Tide's reports and errors go (standard output carries only data).
enum Terminal {
    static func error(_ text: String) {
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
