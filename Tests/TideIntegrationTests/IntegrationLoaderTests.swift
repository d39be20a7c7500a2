import Foundation
import Testing
import TideCore
import TideJQ
@testable import TideIntegration
import TideMapping

@Suite struct IntegrationLoaderTests {
    static let jiraDirectory = #filePath.replacingOccurrences(of: "Tests/TideIntegrationTests/IntegrationLoaderTests.swift",
                                                              with: "integrations/jira")

    @Test func loadsTheJiraIntegration() throws {
        let jira = try Integration.load(directory: Self.jiraDirectory)
        #expect(jira.name == "jira")
        #expect(jira.kinds.map(\.name) == ["project", "issue", "user"])
        #expect(jira.sensitiveFields == ["atlassianUserEmail", "atlassianUserToken", "webhookSecret"])
        #expect(jira.http.auth.count == 2)
        #expect(jira.http.concurrency == 16)
        #expect(jira.defaultMapping?.resources.map(\.kind) == ["project", "user", "issue"])
        let issue = try #require(jira.kind("issue"))
        #expect(issue.request.method == "POST")
        #expect(issue.request.retryable == true)
        #expect(issue.selector.map(\.name) == ["jql", "fields", "expand"])
        guard case .cursor(let cursor, let param, let inBody) = issue.pagination.strategy else {
            Issue.record("issue pagination is \(issue.pagination.strategy)")
            return
        }
        #expect(cursor.source == ".nextPageToken" && param == "nextPageToken" && inBody)
        guard case .offset(let offsetParam, let limitParam, let limit, let start, _, _)? = jira.kind("user")?.pagination.strategy else {
            Issue.record("user pagination")
            return
        }
        #expect((offsetParam, limitParam, limit, start) == ("startAt", "maxResults", 50, 0))
    }
}

/// The request budget's settings: the integration's defaults, the operator's overrides.
@Suite struct HTTPBudgetSettingsTests {
    @Test func theSpecsDefaultsAndTheIntegrationsValues() throws {
        let jira = try Integration.load(directory: IntegrationLoaderTests.jiraDirectory)
        #expect(jira.http.liveShare == 0.1)
        #expect(jira.http.rateLimit == nil)
        let pagerduty = try Integration.load(directory: IntegrationLoaderTests.jiraDirectory.replacingOccurrences(of: "/jira", with: "/pagerduty"))
        #expect(pagerduty.http.rateLimit?.requests == 600)
        #expect(pagerduty.http.rateLimit?.per == 60)
    }

    @Test func ratesAreReadAsRequestsPerTime() throws {
        var compared = 0
        let cases: [(String, HTTPOverrides.Rate)] = [
            ("20/s", .limit(requests: 20, per: 1)), ("600/min", .limit(requests: 600, per: 60)),
            ("5000/h", .limit(requests: 5000, per: 3600)), ("100/10s", .limit(requests: 100, per: 10)),
            ("0.5/s", .limit(requests: 1, per: 2)), (" 30 / second ", .limit(requests: 30, per: 1)),
            ("none", .unlimited), ("off", .unlimited), ("0", .unlimited),
        ]
        for (text, expected) in cases {
            #expect(try HTTPOverrides.rate(text) == expected, "\(text)")
            compared += 1
        }
        #expect(compared == cases.count)
        for bad in ["20", "20/fortnight", "-1/s", "x/s", "20/0s", "/s", ""] {
            #expect(throws: HTTPOverrides.ParseError.rate(bad)) { try HTTPOverrides.rate(bad) }
        }
    }

    @Test func concurrencyIsCheckedAgainstTheSpecsRange() throws {
        #expect(HTTPOverrides.concurrencyRange == 1...256)
        #expect(try HTTPOverrides.concurrency("32") == 32)
        for bad in ["0", "257", "ten", "-3"] {
            #expect(throws: HTTPOverrides.ParseError.concurrency(bad)) { try HTTPOverrides.concurrency(bad) }
        }
        #expect(HTTPOverrides.ParseError.concurrency("0").description == #"takes a number of requests in flight, 1 to 256; got "0""#)
    }

    @Test func overridesReplaceTheIntegrationsSettings() throws {
        let jira = try Integration.load(directory: IntegrationLoaderTests.jiraDirectory)
        var http = jira.http
        http.apply(HTTPOverrides(concurrency: 3, rateLimit: .limit(requests: 20, per: 1)))
        #expect(http.concurrency == 3)
        #expect(http.rateLimit?.requests == 20 && http.rateLimit?.per == 1)
        http.apply(HTTPOverrides(rateLimit: HTTPOverrides.Rate.unlimited))
        #expect(http.rateLimit == nil)
        #expect(http.concurrency == 3)
        http.apply(HTTPOverrides())
        #expect(http.concurrency == 3)
    }
}

@Suite struct TemplateTests {
    let context = try! JSON(parsing: #"{"config": {"host": "https://x.io", "size": 50, "none": null}, "selector": {"fields": "a, b"}}"#)

    @Test func interpolatesTextAndKeepsTypeForASingleExpression() throws {
        #expect(try CompiledTemplate(TemplateSource("{{ .config.host }}/api?x=1")).renderString(context) == "https://x.io/api?x=1")
        let number = try CompiledTemplate(TemplateSource("{{ .config.size }}")).render(context)
        #expect(number?.numberValue == 50)
        let array = try CompiledTemplate(TemplateSource(#"{{ .selector.fields | split(", ") }}"#)).render(context)
        #expect(array?.serialized() == #"["a","b"]"#)
        #expect(try CompiledTemplate(TemplateSource("{{ .config.none }}")).render(context) == nil)
        #expect(try CompiledTemplate(TemplateSource("plain \"text\" \\ here")).renderString(context) == "plain \"text\" \\ here")
    }

    @Test func bracesInsideTheExpressionAndStringsDoNotEndIt() throws {
        let template = try CompiledTemplate(TemplateSource(#"{{ {a: {b: "}}"}} | .a.b }}!"#))
        #expect(try template.renderString(context) == "}}!")
    }

    @Test func anUnclosedOrBrokenTemplateIsADiagnosticAtItsPosition() {
        let place = SourceLocation(file: "i.yml", line: 3, column: 9)
        #expect(throws: Diagnostic.self) { try CompiledTemplate(TemplateSource("{{ .a ", location: place)) }
        do {
            _ = try CompiledTemplate(TemplateSource("x {{ .a | | .b }}", location: place))
            Issue.record("expected a compile error")
        } catch {
            #expect(error.location == place)
            #expect(error.rule == "jq-compile")
        }
    }
}
