import Foundation
import Testing
import TideCore
import TideJQ
@testable import TideIntegration

@Suite struct ConfigurationResolverTests {
    let jira = try! Integration.load(directory: IntegrationLoaderTests.jiraDirectory)

    func values(_ resolved: ResolvedConfiguration) throws -> JSON { try JSON(parsing: resolved.json) }

    @Test func environmentNamesFollowOcean() {
        #expect(ConfigurationResolver.environmentName(for: "jiraHost") == "OCEAN__INTEGRATION__CONFIG__JIRA_HOST")
        #expect(ConfigurationResolver.environmentName(for: "atlassianUserToken") == "OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_TOKEN")
    }

    @Test func precedenceIsFlagThenEnvironmentThenFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("config.yml").path
        try "jiraHost: https://file.example\natlassianUserEmail: file@example.com\natlassianUserToken: from-file\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let resolved = try ConfigurationResolver(
            overrides: ["atlassianUserToken": "from-flag"],
            environment: ["OCEAN__INTEGRATION__CONFIG__JIRA_HOST": "https://env.example/"],
            file: file).resolve(for: jira)
        let config = try values(resolved)
        #expect(config["jiraHost"]?.stringValue == "https://env.example")  // a url loses its trailing slash
        #expect(config["atlassianUserEmail"]?.stringValue == "file@example.com")
        #expect(config["atlassianUserToken"]?.stringValue == "from-flag")
        #expect(Set(resolved.secrets) == ["file@example.com", "from-flag"])
    }

    @Test func theWholeObjectMayComeAsJSON() throws {
        let resolved = try ConfigurationResolver(environment: [
            "OCEAN__INTEGRATION__CONFIG": #"{"jiraHost": "https://j.example", "atlassianUserEmail": "a@b", "atlassian_user_token": "t"}"#,
        ]).resolve(for: jira)
        #expect(try values(resolved)["atlassianUserToken"]?.stringValue == "t")
    }

    @Test func everyMissingRequiredValueIsReportedBeforeAnyRequest() {
        #expect {
            _ = try ConfigurationResolver(environment: [:]).resolve(for: jira)
        } throws: { error in
            let messages = (error as? Diagnostics)?.items.map(\.message) ?? []
            return messages.count == 3 && messages.allSatisfy { $0.contains("which is not set") }
                && (error as? Diagnostics)?.items.first?.hint?.contains("OCEAN__INTEGRATION__CONFIG__") == true
        }
    }

    @Test func unknownFlagsAndBadValuesAreErrors() {
        #expect {
            _ = try ConfigurationResolver(overrides: ["jiraHots": "x", "jiraHost": "not a url", "atlassianUserEmail": "a",
                                                      "atlassianUserToken": "b"], environment: [:]).resolve(for: jira)
        } throws: { error in
            let text = (error as? Diagnostics)?.description ?? ""
            return text.contains(#"has no setting "jiraHots" (did you mean "jiraHost"?)"#) && text.contains("is not an http(s) URL")
        }
    }
}
