import Foundation

/// A header line, kept in order; names compare case-insensitively wherever they are looked up.
public struct HTTPField: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// One query parameter, percent-decoded (`+` reads as a space).
public struct QueryItem: Sendable, Hashable {
    public var name: String
    public var value: String?
    public init(_ name: String, _ value: String?) { self.name = name; self.value = value }
}

/// A complete request as the server received it.
public struct HTTPServerRequest: Sendable, Hashable {
    public var method: String
    /// The request target exactly as sent (`/rest/api/3/search?startAt=50`).
    public var uri: String
    /// The percent-decoded path, without the query.
    public var path: String
    public var query: [QueryItem]
    public var headers: [HTTPField]
    public var body: [UInt8]
    /// Which accepted connection carried it (1, 2, … in accept order).
    public var connectionID: Int
    /// Arrival order across the whole server (1, 2, …).
    public var sequence: Int

    public init(method: String, uri: String, headers: [HTTPField] = [], body: [UInt8] = [],
                connectionID: Int = 0, sequence: Int = 0) {
        self.method = method.uppercased()
        self.uri = uri
        path = Self.path(of: uri)
        query = uri.firstIndex(of: "?").map { Self.parseQuery(String(uri[uri.index(after: $0)...])) } ?? []
        self.headers = headers
        self.body = body
        self.connectionID = connectionID
        self.sequence = sequence
    }

    /// The first value of header `name`.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value ?? nil
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The percent-decoded path of a request target, without its query.
    static func path(of uri: String) -> String {
        let raw = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        return raw.removingPercentEncoding ?? raw
    }

    static func parseQuery(_ query: String) -> [QueryItem] {
        func decode(_ text: Substring) -> String {
            let spaced = text.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        return query.split(separator: "&").map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return QueryItem(decode(pair[..<equals]), decode(pair[pair.index(after: equals)...]))
            }
            return QueryItem(decode(pair), nil)
        }
    }
}

/// What the server sends back.
public struct HTTPServerResponse: Sendable, Hashable {
    public enum Framing: Sendable, Hashable {
        case contentLength
        /// `Transfer-Encoding: chunked`, the body split over several chunks.
        case chunked
    }

    public var status: Int
    public var headers: [HTTPField]
    public var body: [UInt8]
    /// Wait this long before answering (a slow upstream, for clients' timeouts).
    public var delay: Duration?
    public var framing: Framing
    /// Send the body gzip-framed with `Content-Encoding: gzip` (stored blocks: no compression).
    public var gzip: Bool
    /// Close the connection after this response.
    public var closeConnection: Bool
    /// Close the connection without answering at all (a dropped connection).
    public var dropConnection: Bool

    public init(status: Int = 200, headers: [HTTPField] = [], body: [UInt8] = [], delay: Duration? = nil,
                framing: Framing = .contentLength, gzip: Bool = false, closeConnection: Bool = false,
                dropConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.framing = framing
        self.gzip = gzip
        self.closeConnection = closeConnection
        self.dropConnection = dropConnection
    }

    /// A response with a JSON body and `Content-Type: application/json`.
    public static func json(_ json: String, status: Int = 200, headers: [HTTPField] = []) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headers: [HTTPField("Content-Type", "application/json")] + headers,
                           body: Array(json.utf8))
    }

    /// A response with a plain-text body.
    public static func text(_ text: String, status: Int = 200, headers: [HTTPField] = []) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headers: [HTTPField("Content-Type", "text/plain; charset=utf-8")] + headers,
                           body: Array(text.utf8))
    }

    /// Closes the connection without a response.
    public static var drop: HTTPServerResponse { HTTPServerResponse(dropConnection: true) }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Gzip framing around *stored* (uncompressed) deflate blocks: any gzip decoder accepts it, and it
/// needs no zlib.
enum Gzip {
    static func wrap(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let final = offset + length == data.count
            out.append(final ? 1 : 0)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        out += littleEndian(crc32(data))
        out += littleEndian(UInt32(truncatingIfNeeded: data.count))
        return out
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
