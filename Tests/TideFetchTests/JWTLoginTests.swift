import Crypto
import Foundation
import Testing
import _CryptoExtras
import TideCore
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideTesting

/// A login that first signs a JSON Web Token (GitHub Apps: RS256 with the app's private key),
/// against an API that verifies the signature and the claims before handing out a token.
@Suite struct JWTLoginTests {
    static let settings = """
    - name: appId
      type: string
    - name: signingKey
      type: string
      sensitive: true
    """

    static func auth(_ algorithm: String) -> String {
        """
        auth:
          type: login
          jwt:
            algorithm: \(algorithm)
            key: "{{ .config.signingKey }}"
            claims: {iss: "{{ .config.appId }}"}
            lifetime: 300
          request:
            path: /app/installations/42/access_tokens
            headers: {Authorization: "Bearer {{ .jwt }}", Accept: application/vnd.github+json}
          token: .token
          expiresIn: (.expires_at | fromdateiso8601) - now
          header: "token {{ .token }}"
        """
    }

    static let kinds = """
    repo:
      request: {path: /repos}
      records: .
    """

    /// What the API saw in a JWT that verified.
    struct Seen: Sendable { var issuer: String?; var lifetime: Int?; var algorithm: String? }

    /// Verifies `Authorization: Bearer <jwt>` on the token request with `verify`, then serves
    /// repositories only to the access token it handed out.
    static func api(verify: @escaping @Sendable (_ signingInput: Data, _ signature: Data) -> Bool) async throws -> (TestHTTPServer, Locked<[Seen]>) {
        let seen = Locked<[Seen]>([])
        let server = try await TestHTTPServer.start { request in
            switch request.path {
            case "/app/installations/42/access_tokens":
                guard request.method == "POST", let header = request.header("Authorization"), header.hasPrefix("Bearer ") else {
                    return .json(#"{"message": "A JSON web token could not be decoded"}"#, status: 401)
                }
                let parts = header.dropFirst(7).split(separator: ".").map(String.init)
                guard parts.count == 3, let signature = decode(parts[2]), verify(Data((parts[0] + "." + parts[1]).utf8), signature),
                      let headerJSON = decode(parts[0]).flatMap({ try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }),
                      let claims = decode(parts[1]).flatMap({ try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }) else {
                    return .json(#"{"message": "'Issuer' claim ('iss') must be an Integer"}"#, status: 401)
                }
                let lifetime = ((claims["exp"] as? Int) ?? 0) - ((claims["iat"] as? Int) ?? 0)
                seen.withLock { $0.append(Seen(issuer: claims["iss"] as? String, lifetime: lifetime, algorithm: headerJSON["alg"] as? String)) }
                return .json(#"{"token": "ghs_installation_token", "expires_at": "2099-01-01T00:00:00Z"}"#, status: 201)
            case "/repos":
                guard request.header("Authorization") == "token ghs_installation_token" else { return .json("{}", status: 401) }
                return .json(#"[{"id": "r1"}, {"id": "r2"}]"#)
            default:
                return .json("{}", status: 404)
            }
        }
        return (server, seen)
    }

    static func decode(_ base64URL: String) -> Data? {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text)
    }

    static func fetch(_ algorithm: String, server: TestHTTPServer, key: String) async throws -> Outcome {
        let integration = try loadIntegration(integrationYAML(kinds: kinds, http: auth(algorithm), configuration: settings))
        let config = ["host": jsonString(server.baseURL), "appId": jsonString("1234"), "signingKey": jsonString(key)]
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        defer { Task { await client.shutdown() } }
        let session = try FetchSession(integration: integration, config: config, client: client)
        return await drain(try KindFetcher(session: session, kind: "repo"))
    }

    @Test func anRS256TokenSignedWithThePrivateKeyIsExchangedForAnAccessToken() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let publicKey = key.publicKey
        let (server, seen) = try await Self.api { input, signature in
            publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: input, padding: .insecurePKCS1v1_5)
        }
        let outcome = try await Self.fetch("RS256", server: server, key: key.pemRepresentation)
        await server.stop()
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["r1", "r2"])
        // One login: its claims carry the issuer, iat a minute back and exp `lifetime` ahead.
        #expect(seen.current.count == 1)
        #expect(seen.current.first?.issuer == "1234")
        #expect(seen.current.first?.lifetime == 360)
        #expect(seen.current.first?.algorithm == "RS256")
    }

    @Test func anHS256TokenIsSignedWithTheSharedSecret() async throws {
        let secret = "shared-secret-for-hs256"
        let (server, seen) = try await Self.api { input, signature in
            Data(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: Data(secret.utf8)))) == signature
        }
        let outcome = try await Self.fetch("HS256", server: server, key: secret)
        await server.stop()
        #expect(outcome.ids == ["r1", "r2"])
        #expect(seen.current.first?.algorithm == "HS256")
    }

    /// A key from another app does not verify: the API's 401 ends the kind, naming the request.
    @Test func aSignatureTheAPIRejectsFailsTheLogin() async throws {
        let publicKey = try _RSA.Signing.PrivateKey(keySize: .bits2048).publicKey
        let (server, _) = try await Self.api { input, signature in
            publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: input, padding: .insecurePKCS1v1_5)
        }
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let outcome = try await Self.fetch("RS256", server: server, key: other.pemRepresentation)
        await server.stop()
        let error = try #require(outcome.error)
        #expect(error.description.contains("/app/installations/42/access_tokens"))
        #expect(error.description.contains("401"))
        #expect(!error.description.contains("PRIVATE KEY"))
    }

    @Test func aKeyThatIsNotPEMIsNamedWithoutBeingShown() async throws {
        let (server, seen) = try await Self.api { _, _ in true }
        let outcome = try await Self.fetch("RS256", server: server, key: "not-a-key-but-secret-text")
        await server.stop()
        let error = try #require(outcome.error)
        #expect(error.description.contains("jwt.key is not a PEM private key"))
        #expect(!error.description.contains("not-a-key-but-secret-text"))
        #expect(seen.current.isEmpty)
        #expect(server.requests.isEmpty)
    }
}

/// The shipped GitHub integration with a GitHub App instead of a token.
@Suite struct GitHubAppTests {
    static let github = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("integrations/github").path

    @Test func repositoriesAreReadWithTheInstallationTokenOfTheApp() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let publicKey = key.publicKey
        let (server, seen) = try await JWTLoginTests.api { input, signature in
            publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: input, padding: .insecurePKCS1v1_5)
        }
        // The stand-in hands out tokens for installation 42 and serves /repos; point the
        // organization's listing there through the host.
        let integration = try Integration.load(directory: Self.github)
        let config = ["githubHost": jsonString(server.baseURL), "githubOrganization": jsonString("northwind"),
                      "githubAppId": jsonString("1234"), "githubAppInstallationId": jsonString("42"),
                      "githubAppPrivateKey": jsonString(key.pemRepresentation)]
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        let session = try FetchSession(integration: integration, config: config, client: client)
        let outcome = await drain(try KindFetcher(session: session, kind: "repository"))
        await client.shutdown()
        await server.stop()

        #expect(seen.current.map(\.issuer) == ["1234"])
        #expect(seen.current.first?.lifetime == 600)
        let login = try #require(server.requests.first)
        #expect(login.method == "POST" && login.path == "/app/installations/42/access_tokens")
        // The organization's listing went out with the installation token (this stand-in has no
        // such route, so the kind ends with its 404, naming the request).
        let listing = try #require(server.requests.dropFirst().first)
        #expect(listing.path == "/orgs/northwind/repos")
        #expect(listing.header("Authorization") == "Bearer ghs_installation_token")
        #expect(outcome.error?.description.contains("/orgs/northwind/repos") == true)
    }
}
