import Foundation
import Testing
import TideIntegration
import TideModel
import TideRuntime
import TideWebhooks
import TidePort
import TideCore

/// The one reading of `OCEAN__…`, `APPLICATION__…` and `TIDE_…` every command shares.
@Suite struct OceanEnvironmentTests {
    static let jira = #filePath.replacingOccurrences(of: "/Tests/TideRuntimeTests/OceanEnvironmentTests.swift", with: "/integrations/jira")

    @Test func theTypeIsLowerCasedForEverySinkAsOceanDoes() throws {
        let integration = try Integration.load(directory: Self.jira)
        let environment = try OceanEnvironment(["OCEAN__INTEGRATION__TYPE": "Jira",
                                                "OCEAN__PORT__CLIENT_ID": "id", "OCEAN__PORT__CLIENT_SECRET": "secret"])
        let catalog = environment.datasource(for: integration)
        let port = try #require(environment.portSettings(for: integration)).datasource
        #expect(catalog.integrationType == "jira")
        #expect(port.integrationType == catalog.integrationType)
        #expect(port.installationIdentifier == "my-jira-integration")
        #expect(catalog.installationIdentifier == port.installationIdentifier)
    }

    @Test func namesAreCaseInsensitiveAndANestedVariableOverridesTheJSON() throws {
        var compared = 0
        let cases: [([String: String], EventListenerType?, Double)] = [
            (["OCEAN__EVENT_LISTENER": #"{"type": "polling", "interval": 30}"#], .polling, 30),
            (["ocean__event_listener__type": "webhook"], .webhook, 60),
            (["OCEAN__EVENT_LISTENER": #"{"type": "POLLING"}"#, "OCEAN__EVENT_LISTENER__TYPE": "WEBHOOKS_ONLY"], .webhooksOnly, 60),
            ([:], nil, 60),
        ]
        for (variables, listener, interval) in cases {
            let environment = try OceanEnvironment(variables)
            #expect(environment.eventListener == listener, "\(variables)")
            #expect(environment.pollingInterval == interval, "\(variables)")
            compared += 1
        }
        #expect(compared == cases.count)
    }

    /// Ocean 0.56's incremental settings: enabled, and the interval written as minutes, 15m or 1h.
    @Test func incrementalSyncSettingsAreReadAsOceanWritesThem() throws {
        let defaults = try OceanEnvironment([:])
        #expect(!defaults.incrementalSyncEnabled && defaults.incrementalSyncMinutes == 15)
        var minutes: [Int] = []
        for written in ["30", "30m", "1h", " 2h "] {
            let environment = try OceanEnvironment(["OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED": "true",
                                                    "OCEAN__INTEGRATION__INCREMENTAL_SYNC_INTERVAL": written, "TIDE_STATE": "/var/tide/state.json"])
            #expect(environment.incrementalSyncEnabled && environment.state == "/var/tide/state.json")
            minutes.append(environment.incrementalSyncMinutes)
        }
        #expect(minutes == [30, 30, 60, 120])
        for bad in ["0", "soon", "15s", "-5m"] {
            #expect(throws: Diagnostics.self) { try OceanEnvironment(["OCEAN__INTEGRATION__INCREMENTAL_SYNC_INTERVAL": bad]) }
        }
    }

    @Test func unreadableValuesAreErrorsNamingTheVariable() {
        let bad = ["OCEAN__EVENT_LISTENER__TYPE": "KAFKA", "APPLICATION__PORT": "eighty",
                   "TIDE_ALLOW_UNSIGNED_WEBHOOKS": "maybe", "OCEAN__SCHEDULED_RESYNC_INTERVAL": "-5"]
        do {
            _ = try OceanEnvironment(bad)
            Issue.record("accepted \(bad)")
        } catch {
            let text = error.description
            for name in ["OCEAN__EVENT_LISTENER__TYPE", "APPLICATION__PORT", "TIDE_ALLOW_UNSIGNED_WEBHOOKS", "OCEAN__SCHEDULED_RESYNC_INTERVAL"] {
                #expect(text.contains(name), "\(text)")
            }
        }
    }

    @Test func theRequestBudgetFromTheEnvironmentAndFlagsOverIt() throws {
        let environment = try OceanEnvironment(["TIDE_HTTP_CONCURRENCY": "4", "tide_http_rate_limit": "600/min"])
        #expect(environment.http == HTTPOverrides(concurrency: 4, rateLimit: .limit(requests: 600, per: 60)))
        #expect(try OceanEnvironment([:]).http == HTTPOverrides())
        #expect(try OceanEnvironment(["TIDE_HTTP_RATE_LIMIT": "none"]).http.rateLimit == HTTPOverrides.Rate.unlimited)

        var plan = RunPlan(directory: Self.jira, environment: environment)
        #expect(plan.effectiveHTTP == environment.http)
        plan.http.rateLimit = .limit(requests: 20, per: 1)
        #expect(plan.effectiveHTTP == HTTPOverrides(concurrency: 4, rateLimit: .limit(requests: 20, per: 1)))

        do {
            _ = try OceanEnvironment(["TIDE_HTTP_CONCURRENCY": "0", "TIDE_HTTP_RATE_LIMIT": "lots"])
            Issue.record("accepted a concurrency of 0 and a rate of lots")
        } catch {
            #expect(error.description.contains(#"TIDE_HTTP_CONCURRENCY: takes a number of requests in flight, 1 to 256; got "0""#), "\(error)")
            #expect(error.description.contains(#"TIDE_HTTP_RATE_LIMIT: takes requests per time, such as 20/s"#), "\(error)")
        }
    }

    @Test func operatorSettingsAndPortCredentials() throws {
        let environment = try OceanEnvironment([
            "TIDE_ALLOW_UNSIGNED_WEBHOOKS": "true", "TIDE_CONTROL_TOKEN": "tok", "TIDE_MAX_CONNECTIONS": "64",
            "OCEAN__PORT": #"{"client_id": "id", "client_secret": "s", "base_url": "http://127.0.0.1:9/"}"#,
            "OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS": "false", "APPLICATION__PORT": "8080",
        ])
        #expect(environment.allowUnsignedWebhooks)
        #expect(environment.controlToken == "tok")
        #expect(environment.maxConnections == 64)
        #expect(environment.port?.clientID == "id")
        #expect(environment.port?.baseURL == "http://127.0.0.1:9")
        #expect(!environment.allowJQEnvironment)
        #expect(environment.applicationPort == 8080)
    }
}
