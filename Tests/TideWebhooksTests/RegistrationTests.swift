import Foundation
import Testing
import TideCatalog
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideModel
import TideTesting
@testable import TideWebhooks

/// Registering the shipped Jira integration's webhook at a Jira played by a loopback server that
/// keeps the webhooks created through its admin API.
@Suite struct RegistrationTests {
    static let jira = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("integrations/jira").path

    /// Jira's `/rest/webhooks/1.0/webhook`: GET lists, POST creates; `status` scripts failures.
    final class Jira: Sendable {
        let webhooks = Locked<[String]>([])
        let status = Locked<Int?>(nil)
        let server: TestHTTPServer

        init(existing: [String] = []) async throws {
            webhooks.withLock { $0 = existing }
            let webhooks = self.webhooks, status = self.status
            server = try await TestHTTPServer.start { request in
                guard request.path == "/rest/webhooks/1.0/webhook" else { return .json("{}", status: 404) }
                if let status = status.current { return .json(#"{"errorMessages": ["Only Jira administrators can do this"]}"#, status: status) }
                if request.method == "POST" {
                    webhooks.withLock { $0.append(request.bodyText) }
                    return .json(#"{"self": "x"}"#, status: 201)
                }
                let list = webhooks.current.joined(separator: ",")
                return .json("[\(list)]")
            }
        }
    }

    struct Started {
        let service: LiveService
        let logs: Locked<[String]>
    }

    static func start(_ jira: Jira, listener: EventListenerType = .webhooksOnly, baseURL: String? = "https://tide.example.com/",
                      secret: String = "hook-secret") async throws -> Started {
        let integration = try Integration.load(directory: Self.jira)
        let configuration = try ConfigurationResolver(
            overrides: ["jiraHost": jira.server.baseURL, "atlassianUserEmail": "admin@example.com",
                        "atlassianUserToken": "admin-token", "webhookSecret": secret],
            environment: [:]).resolve(for: integration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-register-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let catalog = try Catalog(path: directory + "/catalog.sqlite")
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "jira", installationIdentifier: "register-test"))
        let logs = Locked<[String]>([])
        let service = try LiveService(integration: integration, mapping: integration.defaultMapping!, configuration: configuration,
                                      sink: sink,
                                      settings: LiveSettings(host: "127.0.0.1", port: 0, listener: listener, baseURL: baseURL),
                                      log: { _, line in logs.withLock { $0.append(line) } }) { true }
        try await service.start()
        return Started(service: service, logs: logs)
    }

    @Test func createsTheWebhookWithOurURLAndTheAdminCredentials() async throws {
        let jira = try await Jira()
        let started = try await Self.start(jira)
        await started.service.shutdown()
        await jira.server.stop()

        #expect(started.service.registrations["/webhook"] == .created)
        let requests = jira.server.requests
        #expect(requests.map { "\($0.method) \($0.path)" } == ["GET /rest/webhooks/1.0/webhook", "POST /rest/webhooks/1.0/webhook"])
        let basic = "Basic " + Data("admin@example.com:admin-token".utf8).base64EncodedString()
        #expect(requests.allSatisfy { $0.header("Authorization") == basic })
        let body = try JSON(parsing: requests[1].bodyText)
        // The trailing slash of OCEAN__BASE_URL does not double.
        #expect(body["url"]?.stringValue == "https://tide.example.com/integration/webhook")
        #expect(body["secret"]?.stringValue == "hook-secret")
        let events = body["events"]?.arrayElements.compactMap(\.stringValue) ?? []
        #expect(events.contains("jira:issue_updated") && events.contains("project_deleted") && events.contains("user_created"))
        #expect(started.logs.current.contains { $0.contains("registered at the third party for https://tide.example.com/integration/webhook") })
    }

    @Test func anExistingWebhookForOurURLIsKept() async throws {
        let jira = try await Jira(existing: [#"{"name": "other", "url": "https://elsewhere.example.com/hook"}"#,
                                             #"{"name": "ours", "url": "https://tide.example.com/integration/webhook"}"#])
        let started = try await Self.start(jira)
        await started.service.shutdown()
        await jira.server.stop()
        #expect(started.service.registrations["/webhook"] == .alreadyRegistered)
        #expect(jira.server.requests.map(\.method) == ["GET"])
    }

    @Test func anotherURLDoesNotCountAsRegistered() async throws {
        let jira = try await Jira(existing: [#"{"name": "other", "url": "https://elsewhere.example.com/integration/webhook"}"#])
        let started = try await Self.start(jira)
        await started.service.shutdown()
        await jira.server.stop()
        #expect(started.service.registrations["/webhook"] == .created)
        #expect(jira.webhooks.current.count == 2)
    }

    @Test func nothingIsRegisteredWithONCEOrWithoutABaseURL() async throws {
        let jira = try await Jira()
        let once = try await Self.start(jira, listener: .once)
        await once.service.shutdown()
        let noBase = try await Self.start(jira, baseURL: nil)
        await noBase.service.shutdown()
        await jira.server.stop()
        #expect(jira.server.requests.isEmpty)
        #expect(once.service.registrations.isEmpty && noBase.service.registrations.isEmpty)
        #expect(noBase.logs.current.contains { $0.contains("OCEAN__BASE_URL is not set") })
    }

    /// Jira answers 403 to a user who is not an administrator: the service still serves events,
    /// and the log names the request and what to do, without the token.
    @Test func aRefusedRegistrationIsReportedAndTheEndpointStillWorks() async throws {
        let jira = try await Jira()
        jira.status.withLock { $0 = 403 }
        let started = try await Self.start(jira)
        let client = HTTPClient(configuration: .init(retry: .never))
        let body = #"{"webhookEvent": "jira:issue_deleted", "issue": {"id": "1", "key": "X-1"}}"#
        let response = try await client.send(HTTPRequest(
            method: .post, url: started.service.baseURL! + "/integration/webhook",
            headers: ["Content-Type": "application/json",
                      "X-Hub-Signature": "sha256=" + Signatures.hmacSHA256Hex(Array(body.utf8), secret: "hook-secret")],
            body: Array(body.utf8), throwsOnErrorStatus: false))
        await client.shutdown()
        await started.service.shutdown()
        await jira.server.stop()

        #expect(response.status == 202)
        guard case .failed(let message) = started.service.registrations["/webhook"] else {
            Issue.record("expected a failed registration, got \(String(describing: started.service.registrations["/webhook"]))")
            return
        }
        #expect(message.contains("GET \(jira.server.baseURL)/rest/webhooks/1.0/webhook"))
        #expect(message.contains("403"))
        let log = started.logs.current.joined(separator: "\n")
        #expect(log.contains("create the webhook by hand for https://tide.example.com/integration/webhook"))
        #expect(!log.contains("admin-token") && !log.contains("hook-secret"))
        #expect(!log.contains(Data("admin@example.com:admin-token".utf8).base64EncodedString()))
    }
}
