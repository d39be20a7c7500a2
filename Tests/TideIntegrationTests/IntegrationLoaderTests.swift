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
        #expect(jira.http.concurrency == 10)
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
