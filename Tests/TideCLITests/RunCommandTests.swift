import Foundation
import Testing
import TideTesting

/// `tide run` as a user runs it: the real binary against the Jira integration's recorded responses.
@Suite struct RunCommandTests {
    static let root = #filePath.replacingOccurrences(of: "/Tests/TideCLITests/RunCommandTests.swift", with: "")
    static let jira = root + "/integrations/jira"

    let folder: URL
    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    var catalog: String { folder.appendingPathComponent("catalog.sqlite").path }

    @Test func replayResyncsJiraIntoTheCatalog() async throws {
        let result = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Resync completed"))
        let counts = try await TideProcess.run(["catalog", "blueprints", "--catalog", catalog, "--json"])
        #expect(counts.status == 0)
        for blueprint in ["jiraProject", "jiraUser", "jiraIssue"] { #expect(counts.stdout.contains(blueprint)) }
        let issue = try await TideProcess.run(["catalog", "entities", "--blueprint", "jiraIssue", "--catalog", catalog])
        #expect(issue.lines.count > 10)
        #expect(issue.stdout.contains("port-ocean/jira/0.1.0/my-jira-integration/exporter"))

        // A second, identical resync deletes nothing and keeps every entity.
        let again = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog])
        #expect(again.status == 0)
        #expect(again.stderr.contains("Nothing stale to delete."))
    }

    /// `--incremental` after a full resync: GitHub's issues are asked for from each repository's
    /// cursor (the replay's fixtures answer whatever `since` says), nothing is deleted, the
    /// cursors move; the environment variable does the same, and a dry run reads the cursors
    /// without moving them.
    @Test func anIncrementalPassAfterAFullResync() async throws {
        let github = Self.root + "/integrations/github"
        let full = try await TideProcess.run(["run", github, "--replay", "--catalog", catalog])
        #expect(full.status == 0, "\(full.stderr)")
        let pass = try await TideProcess.run(["run", github, "--replay", "--incremental", "--catalog", catalog])
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(pass.stderr.contains("Incremental pass completed"))
        #expect(pass.stderr.contains("Incremental pass: nothing is deleted (full resyncs reconcile); 5 cursors moved."), "\(pass.stderr)")
        #expect(pass.stderr.contains("Not read incrementally"), "resources whose kind has no incremental: are listed")
        let byEnvironment = try await TideProcess.run(["run", github, "--replay", "--catalog", catalog, "--dry-run"],
                                                      environment: ["OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED": "true"])
        #expect(byEnvironment.status == 0, "\(byEnvironment.stderr)")
        #expect(byEnvironment.stderr.contains("Dry run: nothing was written or deleted."))
        #expect(byEnvironment.lines.allSatisfy { $0.contains("githubIssue") }, "only the incremental kind's entities: \(byEnvironment.stdout)")
        #expect(byEnvironment.lines.count == 3)
    }

    @Test func dryRunPrintsEntitiesWritesNothingAndHidesSecrets() async throws {
        let secret = "tok-\(UUID().uuidString)"
        let result = try await TideProcess.run(
            ["run", Self.jira, "--replay", "--dry-run", "--catalog", catalog, "--log-format", "json",
             "--config", "atlassianUserToken=\(secret)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.lines.count > 50)
        #expect(result.lines.allSatisfy { $0.hasPrefix("{\"identifier\":") })
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        #expect(!FileManager.default.fileExists(atPath: catalog))
        #expect(result.stderr.contains("Dry run: nothing was written or deleted."))
    }

    @Test func aMissingRequiredSettingIsReportedBeforeAnyRequest() async throws {
        let result = try await TideProcess.run(["run", Self.jira, "--catalog", catalog], environment: [
            "OCEAN__INTEGRATION__CONFIG__JIRA_HOST": "https://127.0.0.1:9",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("jira needs atlassianUserEmail, which is not set"))
        #expect(result.stderr.contains("OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_TOKEN"))
        #expect(!FileManager.default.fileExists(atPath: catalog))
    }

    @Test func anUnreachableAPIFailsTheResyncNamesTheRequestAndDeletesNothing() async throws {
        let secret = "tok-\(UUID().uuidString)"
        let seeded = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog])
        #expect(seeded.status == 0)
        // Port 9 (discard) is closed on loopback: every request fails to connect.
        let result = try await TideProcess.run(["run", Self.jira, "--catalog", catalog,
                                                "--config", "jiraHost=http://127.0.0.1:9",
                                                "--config", "atlassianUserEmail=a@b.c", "--config", "atlassianUserToken=\(secret)"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("GET http://127.0.0.1:9/rest/api/3/project/search"), "\(result.stderr)")
        #expect(result.stderr.contains("Deleted nothing: the resync had errors"))
        #expect(!result.stderr.contains(secret))
        let count = try await TideProcess.run(["catalog", "entities", "--blueprint", "jiraProject", "--catalog", catalog])
        #expect(count.lines.count > 100)
    }

    @Test func withPortCredentialsEntitiesGoToPortAsOceanSendsThem() async throws {
        let port = try await PortStandIn.start()
        let environment = [
            "OCEAN__PORT__CLIENT_ID": port.options.clientID, "OCEAN__PORT__CLIENT_SECRET": port.options.clientSecret,
            "OCEAN__PORT__BASE_URL": port.baseURL, "OCEAN__INTEGRATION__IDENTIFIER": "jira-test",
        ]
        let result = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog], environment: environment)
        let calls = port.calls
        let issues = port.entities(blueprint: "jiraIssue")
        await port.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains(port.options.clientSecret))
        #expect(!FileManager.default.fileExists(atPath: catalog))
        #expect(issues.count > 10)
        #expect(issues.allSatisfy { $0.datasource == "port-ocean/jira/0.1.0/jira-test/exporter" })
        #expect(calls.first == "POST /v1/auth/access_token")
        #expect(calls.contains("PATCH /v1/integration/jira-test/resync-state"))
        #expect(calls.contains { $0.hasPrefix("POST /v1/blueprints/jiraIssue/entities/bulk") })
    }

    /// With Port as the sink, the cursors go to the state file (`--state`), not to Port: a full
    /// resync writes them, an incremental pass reads them (GitHub's issues from each repository's
    /// cursor), reports no resync state to Port (a full resync's), and moves them.
    @Test func withPortTheCursorsLiveInTheStateFile() async throws {
        let port = try await PortStandIn.start()
        let environment = [
            "OCEAN__PORT__CLIENT_ID": port.options.clientID, "OCEAN__PORT__CLIENT_SECRET": port.options.clientSecret,
            "OCEAN__PORT__BASE_URL": port.baseURL, "OCEAN__INTEGRATION__IDENTIFIER": "github-test",
        ]
        let state = folder.appendingPathComponent("state/cursors.json").path
        let github = Self.root + "/integrations/github"
        let full = try await TideProcess.run(["run", github, "--replay", "--state", state], environment: environment)
        #expect(full.status == 0, "\(full.stderr)")
        let states = port.resyncStates
        let afterFull = try String(contentsOfFile: state, encoding: .utf8)
        let pass = try await TideProcess.run(["run", github, "--replay", "--incremental"], environment: environment.merging(["TIDE_STATE": state]) { $1 })
        let statesAfterPass = port.resyncStates
        await port.stop()
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(pass.stderr.contains("5 cursors moved"), "\(pass.stderr)")
        #expect(states == ["running", "completed"], "\(states)")
        #expect(statesAfterPass == states, "an incremental pass reports no resync state")
        #expect(afterFull.contains("github/github-test") && afterFull.contains("issue[2]") && afterFull.contains("700105"))
        let afterPass = try String(contentsOfFile: state, encoding: .utf8)
        #expect(afterPass != afterFull, "the cursors moved")
        #expect(!FileManager.default.fileExists(atPath: catalog), "no catalog was made")
    }

    @Test func anUnknownIntegrationDirectoryIsAnInputError() async throws {
        let result = try await TideProcess.run(["run", folder.path + "/nope", "--catalog", catalog])
        #expect(result.status == 2)
        #expect(result.stderr.contains("integration.yml"))
    }
}
