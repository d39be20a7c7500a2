import Crypto
import Foundation
import _CryptoExtras
import TideIntegration

/// Signs the JSON Web Token of a login (RFC 7519, compact form): `base64url(header).
/// base64url(claims).base64url(signature)`. jq cannot sign, so an API that wants a signed token
/// before it hands out an access token (GitHub Apps) needs this in the engine.
enum JWTSigner {
    struct Failure: Error { var message: String }

    /// - Parameters:
    ///   - claimsJSON: the rendered claims, a JSON object text (`{}` when none are declared).
    ///   - now: seconds since 1970.
    static func sign(algorithm: JWTDefinition.Algorithm, key: String, claimsJSON: String, lifetime: Int,
                     now: Int = Int(Date().timeIntervalSince1970)) throws(Failure) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(claimsJSON.utf8)) as? [String: Any] else {
            throw Failure(message: "jwt.claims must be a JSON object")
        }
        var claims = object
        // A minute of slack for clocks that run ahead of the API's.
        claims["iat"] = now - 60
        claims["exp"] = now + lifetime
        guard let payload = try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]) else {
            throw Failure(message: "jwt.claims cannot be written as JSON")
        }
        let header = #"{"alg":"\#(algorithm.rawValue)","typ":"JWT"}"#
        let signingInput = base64URL(Data(header.utf8)) + "." + base64URL(payload)
        let signature: Data
        switch algorithm {
        case .hs256:
            guard !key.isEmpty else { throw Failure(message: "jwt.key is empty: HS256 needs the shared secret") }
            signature = Data(HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(key.utf8))))
        case .rs256:
            let privateKey: _RSA.Signing.PrivateKey
            do { privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: key) } catch {
                // Never the key itself: only what kind of text it was.
                let looksLikePEM = key.contains("-----BEGIN")
                throw Failure(message: looksLikePEM
                    ? "jwt.key is not an RSA private key this build can read (PKCS#1 or PKCS#8 PEM, 2048 bits or more)"
                    : "jwt.key is not a PEM private key (it should start with -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)")
            }
            do {
                signature = try privateKey.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
            } catch {
                throw Failure(message: "signing the JWT failed: \(error)")
            }
        }
        return signingInput + "." + base64URL(signature)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
