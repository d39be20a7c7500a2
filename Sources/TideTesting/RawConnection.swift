import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct Timeout: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "gave up waiting for \(what)" }
}

/// Polls until `condition` holds. The limit only stops a broken test from hanging: the whole
/// suite runs at once on 2 cores, so a step that takes milliseconds alone can wait behind a
/// minute of other tests' work.
public func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(180)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw Timeout(what: what)
}


/// A plain TCP connection to the server, for what an HTTP client would not do: send half a head,
/// send nothing, or watch the server close the connection.
public final class RawConnection {
    public struct Failed: Error { public var errno: Int32 }
    public let descriptor: Int32
    public private(set) var received: [UInt8] = []
    public private(set) var closed = false

    public init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failed(errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = errno
            close(descriptor)
            throw Failed(errno: error)
        }
    }

    deinit { close(descriptor) }

    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads what has arrived without waiting; notes a close (end of stream or reset).
    public func poll() {
        guard !closed else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                received += buffer[0..<count]
                continue
            }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { closed = true }
            return
        }
    }

    public var text: String { String(decoding: received, as: UTF8.self) }

    /// Waits (generously) until one whole response has arrived (by its Content-Length).
    public func waitResponse(_ what: String) async throws {
        try await eventually(what) {
            poll()
            let text = self.text
            guard let end = text.range(of: "\r\n\r\n") else { return closed }
            let head = text[..<end.lowerBound].lowercased()
            guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                  let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else { return closed }
            return text[end.upperBound...].utf8.count >= length || closed
        }
    }

    /// Waits (generously) until the server closed the connection.
    public func waitClosed(_ what: String) async throws {
        try await eventually(what) {
            poll()
            return closed
        }
    }
}
