import TideCore
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// What registering one webhook at the third party came to.
public enum RegistrationOutcome: Sendable, Equatable {
    /// `when` was not true.
    case notWanted
    /// The list request found a webhook with our URL: nothing was created.
    case alreadyRegistered
    case created
    /// The message names the request that failed and what to do.
    case failed(String)
}

/// Creates a webhook at the third party when the service starts, the way Ocean's integrations do
/// it in Python (Jira: list the webhooks, create ours unless one already points at our URL).
/// A failure is reported, never fatal: resyncs and the endpoint still work, and the webhook can be
/// created by hand.
struct WebhookRegistrar: Sendable {
    let session: FetchSession
    /// The configuration as one JSON object text.
    let configJSON: String

    /// - Parameter url: the address the third party is to call: `OCEAN__BASE_URL` + /integration + path.
    func register(_ registration: WebhookDefinition.Registration, url: String) async -> RegistrationOutcome {
        let place = registration.location.map { "\($0): " } ?? ""
        let config: JSON
        do { config = try JSON(parsing: configJSON) } catch { return .failed("\(place)configuration is not JSON: \(error.message)") }
        let context = JSON(orderedObject: [("config", config), ("url", JSON(url))])

        if let when = registration.when {
            do {
                let value = try JQProgram(when.source).first(context)
                guard let value, value.boolValue == true else { return .notWanted }
            } catch {
                return .failed("\(when.location.map { "\($0): " } ?? place)register.when \"\(when.source)\" failed: \(error)")
            }
        }
        let members: [(String, JSON)] = [("url", JSON(url))]
        if let list = registration.list {
            let response: HTTPResponse, request: String
            do { (response, request) = try await session.send(list, context: members) } catch {
                return .failed("\(place)listing the webhooks failed: \(error.description)")
            }
            if let exists = registration.exists {
                do {
                    let body = try response.body.withUnsafeBufferPointer { try JSON(parsing: $0) }
                    // `$url` and `$config` are bound on the first line so libjq's line numbers stay the user's.
                    let program = try JQProgram(".url as $url | .config as $config | .body | (\(exists.source)\n)")
                    let found = try program.first(JSON(orderedObject: [("url", JSON(url)), ("config", config), ("body", body)]))
                    if let found, found.boolValue == true { return .alreadyRegistered }
                } catch {
                    return .failed("\(exists.location.map { "\($0): " } ?? place)register.exists \"\(exists.source)\" failed on the response of \(request): \(error)")
                }
            }
        }
        do { _ = try await session.send(registration.create, context: members) } catch {
            return .failed("\(place)creating the webhook failed: \(error.description)")
        }
        return .created
    }
}
