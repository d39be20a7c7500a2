import Foundation
import Testing
import TideCore
@testable import TideLint

/// Broken integrations under Corpus/, each asserting every diagnostic exactly: file, line,
/// column, severity and rule (and some messages), so a rule that stops firing, fires twice or
/// moves is caught.
@Suite struct CorpusTests {
    static let corpus = Bundle.module.resourceURL!.appendingPathComponent("Corpus").path

    /// `file:line:col severity [rule]`, with the file relative to the integration.
    static func findings(_ name: String) -> [String] {
        diagnostics(name).map { diagnostic in
            let location = diagnostic.location.map {
                "\($0.file.replacingOccurrences(of: corpus + "/" + name + "/", with: "")):\($0.line):\($0.column)"
            } ?? "-"
            return "\(location) \(diagnostic.severity.rawValue) [\(diagnostic.rule)]"
        }
    }

    static func diagnostics(_ name: String) -> [Diagnostic] { Linter.lint(directory: corpus + "/" + name) }

    static func message(_ name: String, rule: String) -> [String] {
        diagnostics(name).filter { $0.rule == rule }.map(\.message)
    }

    @Test func structureEveryKeyTypeEnumAndDuplicateFindingInOneFile() {
        #expect(Self.findings("structure") == [
            ".port/resources/port-app-config.yml:1:1 warning [unknown-key]",
            ".port/resources/port-app-config.yml:2:26 error [range]",
            ".port/resources/port-app-config.yml:6:14 warning [ocean-yaml-boolean]",
            ".port/resources/port-app-config.yml:12:11 warning [unknown-key]",
            ".port/resources/port-app-config.yml:13:16 warning [mapping-empty]",
            "integration.yml:2:1 error [unknown-key]",
            "integration.yml:5:11 error [enum]",
            "integration.yml:6:15 error [type]",
            "integration.yml:7:11 error [duplicate-name]",
            "integration.yml:10:16 error [range]",
            "integration.yml:11:26 error [duplicate-key]",
            "integration.yml:15:15 error [enum]",
            "integration.yml:18:7 error [required]",
            "integration.yml:21:5 error [required]",
        ])
        #expect(Self.message("structure", rule: "unknown-key") == [
            #"unknown key "deleteDependentEntitys" is ignored (did you mean "deleteDependentEntities"?)"#,
            #"unknown key "titel" in resources[0].port.entity.mappings is ignored (did you mean "title"?)"#,
            #"unknown key "titel" (did you mean "title"?)"#,
        ])
        #expect(Self.message("structure", rule: "enum").first == #"configuration[0].type must be one of string, integer, boolean, object, array, url, found "uri" (did you mean "url"?)"#)
        #expect(Self.message("structure", rule: "required").first == "kinds.item.pagination has no cursor, which is required")
    }

    @Test func yamlSyntaxErrorIsReportedWithLibyamlsPosition() {
        #expect(Self.findings("syntax") == ["integration.yml:5:1 error [yaml-syntax]"])
    }

    @Test func jqErrorsPointAtTheExpressionAndAtLibjqsLineInBlockScalars() {
        #expect(Self.findings("jq") == [
            ".port/resources/port-app-config.yml:4:14 error [jq-compile]",   // selector.query
            ".port/resources/port-app-config.yml:6:21 error [jq-compile]",   // itemsToParse
            ".port/resources/port-app-config.yml:9:23 error [jq-compile]",   // identifier
            ".port/resources/port-app-config.yml:15:15 error [jq-compile]",  // line 2 of a | block
            "integration.yml:5:21 error [jq-compile]",                       // {{ }} inside a quoted header
            "integration.yml:5:21 error [template-unknown-config]",
            "integration.yml:6:13 error [template]",                         // {{ never closed
            "integration.yml:10:24 error [jq-compile]",                      // after \" escapes in a path
            "integration.yml:14:7 error [jq-compile]",                       // line 3 of records' | block
            "integration.yml:17:13 error [jq-compile]",                      // stop sees $headers/$page only
            "integration.yml:21:15 error [jq-compile]",                      // records sees $parent, not $page
        ])
        let messages = Self.message("jq", rule: "jq-compile")
        #expect(messages.contains(#"kinds.item.request.path: jq ""a" | nosuchfunction" does not compile: nosuchfunction/0 is not defined"#))
        #expect(messages.contains(#"kinds.item.pagination.stop: jq ".isLast and $nope" does not compile: $nope is not defined"#))
        #expect(messages.contains("kinds.item.records: jq does not compile: syntax error, unexpected ')'"))
        #expect(messages.contains(#"kinds.child.records: jq ".[] | {item: $parent.id, page: $page}" does not compile: $page is not defined"#))
    }

    @Test func referencesKindsSelectorsParentsPaginationAndSecrets() {
        #expect(Self.findings("references") == [
            ".port/resources/port-app-config.yml:2:11 error [unknown-kind]",
            ".port/resources/port-app-config.yml:13:7 error [unknown-selector-field]",
            "integration.yml:13:16 error [template-unknown-config]",
            "integration.yml:19:13 error [pagination-no-end]",
            "integration.yml:21:21 error [template-unknown-selector]",
            "integration.yml:22:18 warning [sensitive-in-url]",
            "integration.yml:27:13 error [unknown-parent]",
            "integration.yml:32:15 error [pagination-no-end]",
            "integration.yml:35:13 error [parent-cycle]",
            "integration.yml:38:13 error [parent-cycle]",
            "integration.yml:41:21 error [path-segment]",
        ])
        let messages = Self.diagnostics("references").map(\.message)
        #expect(messages.contains("http.auth.token reads .config.apiTokn, which configuration does not declare (did you mean \"apiToken\"?)"))
        #expect(messages.contains(#"resources[0].kind "projects" is not a kind of this integration (did you mean "project"?); it defines project, issue, loopA, loopB, whole"#))
        #expect(messages.contains(#"kinds.issue.pagination.cursor is the constant "next", so every page asks for the same next page and pagination cannot end"#))
    }

    @Test func mappingsAreCheckedAgainstBlueprintsJSON() {
        #expect(Self.findings("blueprints") == [
            ".port/resources/port-app-config.yml:8:23 warning [constant-identifier]",
            ".port/resources/port-app-config.yml:10:11 error [required-property-unmapped]",
            ".port/resources/port-app-config.yml:12:13 error [unknown-property]",
            ".port/resources/port-app-config.yml:13:11 error [required-relation-unmapped]",
            ".port/resources/port-app-config.yml:14:13 error [unknown-relation]",
            ".port/resources/port-app-config.yml:22:22 error [unknown-blueprint]",
        ])
        #expect(Self.message("blueprints", rule: "unknown-blueprint") == [#"resources[1].port.entity.mappings.blueprint "itme" is not in blueprints.json (did you mean "item"?)"#])
    }

    @Test func webhooksAreCheckedAndAnUnverifiedOneIsAWarning() {
        #expect(Self.findings("webhooks") == [
            "integration.yml:11:5 warning [webhook-unverified]",
            "integration.yml:18:19 error [template-unknown-config]",
            "integration.yml:21:16 error [jq-compile]",
            "integration.yml:22:17 error [unknown-kind]",
        ])
        #expect(Self.message("webhooks", rule: "unknown-kind") == [#"webhooks[1].events[0].kinds names "itme", which is not a kind here (did you mean "item"?)"#])
    }

    @Test func anUnreadableBlueprintsFileIsAnError() {
        #expect(Self.findings("badblueprints") == [".port/resources/blueprints.json:1:1 error [blueprints]"])
    }

    @Test func aFileIsLintedInItsIntegrationAndOnlyItsFindingsAreShown() throws {
        let file = Self.corpus + "/references/.port/resources/port-app-config.yml"
        #expect(try Linter.lint(paths: [file]).map(\.rule) == ["unknown-kind", "unknown-selector-field"])
        let all = try Linter.lint(paths: [Self.corpus + "/..."])
        #expect(Set(all.compactMap { $0.location?.file.replacingOccurrences(of: Self.corpus + "/", with: "").split(separator: "/").first })
                == ["badblueprints", "blueprints", "jq", "references", "structure", "syntax", "testcases", "webhooks"])
        #expect(all == all.sorted())
    }

    /// `tide lint DIR` reads the integration's test cases and fixtures.yml with the readers
    /// `tide test` uses; `tide run`'s check (`lint(directory:)`) leaves them out.
    @Test func testCasesAndFixturesAreReadByTheirOwnReaders() throws {
        let directory = Self.corpus + "/testcases"
        let found = try Linter.lint(paths: [directory]).map { diagnostic in
            let location = diagnostic.location.map { "\($0.file.replacingOccurrences(of: directory + "/", with: "")):\($0.line):\($0.column)" } ?? "-"
            return "\(location) \(diagnostic.severity.rawValue) [\(diagnostic.rule)]"
        }
        #expect(found == [
            "fixtures/fixtures.yml:3:22 error [range]",
            "tests/bad.yml:4:14 error [required]",
            "tests/bad.yml:4:15 error [unknown-key]",
            "tests/bad.yml:7:3 error [unknown-key]",
        ])
        #expect(Self.findings("testcases").isEmpty)
    }

    @Test func unusablePathsAreErrorsNotFindings() {
        #expect(throws: Linter.PathError.self) { try Linter.lint(paths: ["/nonexistent/integration"]) }
        #expect(throws: Linter.PathError.self) { try Linter.lint(paths: [Self.corpus]) }  // no integration.yml: needs /...
    }
}

/// Every integration Tide ships lints clean: no errors and no warnings.
@Suite struct ShippedIntegrationsTests {
    static let integrations = #filePath.replacingOccurrences(of: "Tests/TideLintTests/CorpusTests.swift", with: "integrations")

    @Test func everyShippedIntegrationLintsClean() throws {
        #expect(!Linter.integrations(below: Self.integrations).isEmpty)
        let findings = try Linter.lint(paths: [Self.integrations + "/..."])
        #expect(findings.isEmpty, "\(findings.map(\.description).joined(separator: "\n"))")
    }
}
