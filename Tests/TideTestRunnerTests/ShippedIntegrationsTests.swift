import Foundation
import Testing
import TideReplay
import TideTestRunner

/// Every shipped integration's `tests/*.yml` passes, so `swift test` (the README's test command)
/// runs them all.
@Suite struct ShippedIntegrationsTests {
    static let integrations = #filePath.replacingOccurrences(of: "Tests/TideTestRunnerTests/ShippedIntegrationsTests.swift",
                                                             with: "integrations")

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: integrations)) ?? []
        return names.sorted().flatMap { TestCase.files(in: integrations + "/" + $0) }
    }

    @Test func theGitHubAndPagerDutyIntegrationsHaveCases() {
        #expect(Self.cases.contains { $0.contains("/github/tests/") })
        #expect(Self.cases.contains { $0.contains("/pagerduty/tests/") })
    }

    /// Every event matcher of every shipped webhook is reached by some case's event.
    @Test func everyShippedWebhookEventHasACase() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Self.integrations)) ?? []
        var matchers: [String: Int] = [:]
        for name in names.sorted() {
            let coverage = try TestRunner.webhookCoverage(directory: Self.integrations + "/" + name)
            matchers[name] = coverage.matchers
            #expect(coverage.untested.isEmpty, "\(name): \(coverage.untested.joined(separator: "\n"))")
        }
        #expect(matchers["jira"] ?? 0 > 0 && matchers["github"] ?? 0 > 0 && matchers["pagerduty"] ?? 0 > 0 && matchers["gitlab"] ?? 0 > 0, "\(matchers)")
    }

    @Test(arguments: cases)
    func shippedCasePasses(file: String) async throws {
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().path
        let report = await TestRunner.run(directory: directory, caseFiles: [file])
        #expect(report.error == nil, "\(report.error ?? "")")
        // A file read as no case, or a case that ran nothing, would pass vacuously.
        #expect(report.cases.count > 0, "\(file) gave no case")
        for result in report.cases {
            #expect(result.passed, "\(result.name):\n\(result.failures.joined(separator: "\n"))")
            #expect(result.requestCount + result.eventCount > 0, "\(result.name) made no request and sent no event")
        }
    }
}
