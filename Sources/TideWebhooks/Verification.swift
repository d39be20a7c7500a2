import Crypto
import Foundation
import TideIntegration
import TideJQ

/// Why a request was refused before it was queued.
public enum VerificationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case missingSignature(String)
    case badSignature(String)
    case staleTimestamp
    public var description: String {
        switch self {
        case .missingSignature(let place): "missing signature (\(place))"
        case .badSignature(let place): "signature does not match (\(place))"
        case .staleTimestamp: "webhook-timestamp is outside the tolerance"
        }
    }
}

/// One verification scheme with its secrets rendered. Works on raw bytes only, so it is safe on
/// any thread.
public struct Verifier: Sendable {
    public enum Scheme: Sendable {
        /// `separator`: the header may hold several signatures, each after `prefix`; any one may match.
        case hmac(key: [UInt8], header: String, prefix: String, sha1: Bool, base64: Bool, separator: String?)
        /// Keys already decoded from `whsec_…`.
        case standardWebhooks(keys: [[UInt8]], tolerance: Int)
        case token(value: [UInt8], header: String?, query: String?)
    }
    public let scheme: Scheme

    public init(_ scheme: Scheme) { self.scheme = scheme }

    /// Builds verifiers from the definition; a scheme whose secret renders empty is left out
    /// (nothing configured: nothing to verify), every other one is enforced.
    public static func make(_ definitions: [WebhookDefinition.Verification], render: (TemplateSource) -> String) -> [Verifier] {
        definitions.compactMap { definition in
            switch definition {
            case .hmac(let secret, let header, let prefix, let sha1, let base64, let separator):
                let key = render(secret)
                guard !key.isEmpty else { return nil }
                return Verifier(.hmac(key: Array(key.utf8), header: header.lowercased(), prefix: prefix, sha1: sha1, base64: base64,
                                      separator: separator))
            case .standardWebhooks(let secrets, let tolerance):
                let keys = secrets.map(render).filter { !$0.isEmpty }.map(standardWebhooksKey)
                guard !keys.isEmpty else { return nil }
                return Verifier(.standardWebhooks(keys: keys, tolerance: tolerance))
            case .token(let secret, let header, let query):
                let value = render(secret)
                guard !value.isEmpty else { return nil }
                return Verifier(.token(value: Array(value.utf8), header: header?.lowercased(), query: query))
            }
        }
    }

    /// The same, with the secrets' templates rendered over `{config}` (the configuration as JSON
    /// text), as the server does.
    public static func make(_ definitions: [WebhookDefinition.Verification], configJSON: String) -> [Verifier] {
        let context = JSON(object: ["config": (try? JSON(parsing: configJSON)) ?? JSON(object: [:])])
        return make(definitions) { source in (try? CompiledTemplate(source).renderString(context)).flatMap { $0 } ?? "" }
    }

    /// `whsec_<base64>` is the spec's form; other text is used as raw bytes.
    static func standardWebhooksKey(_ secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.dropFirst(6))) { return Array(data) }
        return Array(secret.utf8)
    }

    /// - Parameter headers: lower-cased names.
    public func verify(body: [UInt8], headers: [String: String], query: [String: String], now: Date = Date()) throws(VerificationFailure) {
        switch scheme {
        case .hmac(let key, let header, let prefix, let sha1, let base64, let separator):
            guard let value = headers[header] else { throw .missingSignature(header) }
            let expected = Self.hmacSignature(body, key: key, sha1: sha1, base64: base64)
            let parts = separator.map { value.components(separatedBy: $0) } ?? [value]
            // Every candidate is compared, so timing says nothing about which one matched.
            var matched = false
            for part in parts {
                let candidate = part.trimmingCharacters(in: .whitespaces)
                guard candidate.hasPrefix(prefix) else { continue }
                let given = String(candidate.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
                if Self.constantTimeEqual(expected, Array(given.lowercasedIfHex(!base64).utf8)) { matched = true }
            }
            guard matched else { throw .badSignature(header) }
        case .standardWebhooks(let keys, let tolerance):
            guard let id = headers["webhook-id"], let timestamp = headers["webhook-timestamp"],
                  let signatures = headers["webhook-signature"] else { throw .missingSignature("webhook-signature") }
            guard let seconds = Int(timestamp), abs(Int(now.timeIntervalSince1970) - seconds) <= tolerance else {
                throw .staleTimestamp
            }
            let signed = Array("\(id).\(timestamp).".utf8) + body
            let given = signatures.split(separator: " ").compactMap { part -> [UInt8]? in
                guard part.hasPrefix("v1,") else { return nil }
                return Array(part.dropFirst(3).utf8)
            }
            for key in keys {
                let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
                let expected = Array(Data(mac).base64EncodedString().utf8)
                // Every candidate is compared, so timing says nothing about which one matched.
                var matched = false
                for candidate in given where Self.constantTimeEqual(expected, candidate) { matched = true }
                if matched { return }
            }
            throw .badSignature("webhook-signature")
        case .token(let value, let header, let parameter):
            let given: String?
            let place: String
            if let header {
                given = headers[header]
                place = header
            } else {
                given = parameter.flatMap { query[$0] }
                place = parameter ?? "token"
            }
            guard let given else { throw .missingSignature(place) }
            guard Self.constantTimeEqual(value, Array(given.utf8)) else { throw .badSignature(place) }
        }
    }

    /// The signature text (hex or base64, without prefix) of `body`.
    static func hmacSignature(_ body: [UInt8], key: [UInt8], sha1: Bool, base64: Bool) -> [UInt8] {
        let symmetric = SymmetricKey(data: key)
        let mac: [UInt8] = sha1 ? Array(HMAC<Insecure.SHA1>.authenticationCode(for: body, using: symmetric))
            : Array(HMAC<SHA256>.authenticationCode(for: body, using: symmetric))
        return base64 ? Array(Data(mac).base64EncodedString().utf8) : Array(Self.hex(mac).utf8)
    }

    /// What a sender holding this scheme's secret adds to a request carrying `body`: `tide test`
    /// signs the events it sends this way, so they pass through the real verification.
    public func credentials(for body: [UInt8], now: Date = Date(), id: String = "msg_tide_test") -> (headers: [(String, String)], query: [(String, String)]) {
        switch scheme {
        case .hmac(let key, let header, let prefix, let sha1, let base64, _):
            let signature = String(decoding: Self.hmacSignature(body, key: key, sha1: sha1, base64: base64), as: UTF8.self)
            return ([(header, prefix + signature)], [])
        case .standardWebhooks(let keys, _):
            let timestamp = String(Int(now.timeIntervalSince1970))
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, using: SymmetricKey(data: keys.first ?? []))
            return ([("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", "v1," + Data(mac).base64EncodedString())], [])
        case .token(let value, let header, let query):
            let token = String(decoding: value, as: UTF8.self)
            if let header { return ([(header, token)], []) }
            return ([], [(query ?? "token", token)])
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares without an early exit, so the time taken does not reveal how much matched.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let count = max(a.count, b.count)
        for index in 0..<count {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }
}

extension String {
    fileprivate func lowercasedIfHex(_ hex: Bool) -> String { hex ? lowercased() : self }
}

/// Test and benchmark helpers: the signatures a sender would compute.
public enum Signatures {
    public static func hmacSHA256Hex(_ body: [UInt8], secret: String) -> String {
        Verifier.hex(Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))))
    }
    public static func hmacSHA1Hex(_ body: [UInt8], secret: String) -> String {
        Verifier.hex(Array(HMAC<Insecure.SHA1>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))))
    }
    /// `v1,<base64>` for the Standard Webhooks scheme.
    public static func standardWebhooks(id: String, timestamp: Int, body: [UInt8], secret: String) -> String {
        let key = Verifier.standardWebhooksKey(secret)
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }
}
