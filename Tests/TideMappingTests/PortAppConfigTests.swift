import Testing
import TideCore
@testable import TideMapping
import Foundation

/// Reading port-app-config.yml: defaults, validation, positions (reference §1).
@Suite struct PortAppConfigTests {
    @Test func defaultsAreOceansCodeDefaults() throws {
        let config = try PortAppConfig.parse("resources: []", file: "p.yml")
        #expect(config.enableMergeEntity)
        #expect(config.deleteDependentEntities)
        #expect(config.createMissingRelatedEntities)
        #expect(config.entityDeletionThreshold == 0.9)
        #expect(config.resources.isEmpty)
    }

    @Test func flagsAreRead() throws {
        let config = try PortAppConfig.parse("""
        enableMergeEntity: false
        deleteDependentEntities: false
        createMissingRelatedEntities: false
        entityDeletionThreshold: 0
        """, file: "p.yml")
        #expect(!config.enableMergeEntity && !config.deleteDependentEntities && !config.createMissingRelatedEntities)
        #expect(config.entityDeletionThreshold == 0)
    }

    @Test(arguments: ["1.5", "-0.1"])
    func thresholdOutsideZeroToOneIsAnErrorAtItsPosition(value: String) {
        #expect {
            _ = try PortAppConfig.parse("resources: []\nentityDeletionThreshold: \(value)\n", file: "p.yml")
        } throws: { error in
            let diagnostics = (error as? Diagnostics)?.items ?? []
            return diagnostics.count == 1 && diagnostics[0].location == SourceLocation(file: "p.yml", line: 2, column: 26)
                && diagnostics[0].message.contains("between 0 and 1")
        }
    }

    @Test func resourcesKeepListOrderAndAKindMayRepeat() throws {
        let config = try PortAppConfig.parse("""
        resources:
          - kind: issue
            selector: {query: 'true', jql: 'project = A'}
            port: {entity: {mappings: {identifier: .key, blueprint: '"a"'}}}
          - kind: project
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .key, blueprint: '"p"'}}}
          - kind: issue
            selector: {query: 'true', jql: 'project = B'}
            port: {entity: {mappings: {identifier: .key, blueprint: '"b"'}}}
        """, file: "p.yml")
        #expect(config.resources.map(\.kind) == ["issue", "project", "issue"])
        #expect(config.resources.map(\.index) == [0, 1, 2])
        #expect(config.resources(ofKind: "issue").map { $0.selector.field("jql") } == [#""project = A""#, #""project = B""#])
    }

    @Test func everyMissingRequiredPieceIsReportedWithItsPosition() {
        #expect {
            _ = try PortAppConfig.parse("""
            resources:
              - kind: issue
                port:
                  entity:
                    mappings:
                      title: .name
              - selector:
                  jql: x
                port: {entity: {mappings: {identifier: .key, blueprint: '"b"'}}}
            """, file: "p.yml")
        } throws: { error in
            let messages = ((error as? Diagnostics)?.items ?? []).map(\.description)
            return messages == [
                #"p.yml:2:5: error: resources[0] has no selector, which is required [required]"#,
                #"p.yml:6:11: error: resources[0].port.entity.mappings has no blueprint, which is required [required]"# + "\n  hint: a literal blueprint is written as a jq string: '\"myBlueprint\"'",
                #"p.yml:6:11: error: resources[0].port.entity.mappings has no identifier, which is required [required]"#,
                #"p.yml:7:5: error: resources[1] has no kind, which is required [required]"#,
                "p.yml:8:7: error: resources[1].selector has no query, which is required [required]\n  hint: Ocean requires one; write query: 'true' to keep every record",
            ]
        }
    }

    @Test func wrongTypesAreErrorsNamingThePath() {
        #expect {
            _ = try PortAppConfig.parse("""
            enableMergeEntity: "yes"
            resources:
              - kind: issue
                enableDelete: 'false'
                selector: {query: 'true'}
                port: {entity: {mappings: [{identifier: .key}]}}
            """, file: "p.yml")
        } throws: { error in
            let messages = ((error as? Diagnostics)?.items ?? []).map(\.description)
            return messages == [
                #"p.yml:1:20: error: enableMergeEntity must be true or false, found a string [type]"#,
                #"p.yml:4:19: error: resources[0].enableDelete must be true or false, found a string [type]"#,
                #"p.yml:6:31: error: resources[0].port.entity.mappings must be a mapping, found a sequence [type]"#,
            ]
        }
    }

    @Test func anEmptyDocumentOrNullResourcesIsAnEmptyConfiguration() throws {
        #expect(try PortAppConfig.parse("", file: "p.yml").resources.isEmpty)
        let config = try PortAppConfig.parse("resources:\n", file: "p.yml")
        #expect(config.resources.isEmpty && config.warnings.isEmpty)
    }

    @Test func repeatedKeysAndIntegrationSelectorFieldsAreAccepted() throws {
        let config = try PortAppConfig.parse("""
        resources:
          - kind: issue
            selector: {query: 'true', jql: 'project = A', jql: 'project = B'}
            port: {entity: {mappings: {identifier: .key, blueprint: '"b"'}}}
        """, file: "p.yml")
        // The last value wins, as in PyYAML; the repetition is reported, not fatal.
        #expect(config.warnings.map(\.description) == [
            #"p.yml:3:51: warning: resources[0].selector.jql appears twice; the last one is used [duplicate-key]"#,
        ])
        #expect(config.resources[0].selector.field("jql") == #""project = B""#)
    }

    @Test func unknownKeysAreWarningsWithASuggestion() throws {
        let config = try PortAppConfig.parse("""
        deleteDependentEntitys: true
        resources:
          - kind: issue
            selector: {query: 'true'}
            port:
              entity:
                mappings: {identifier: .key, blueprint: '"b"', titel: .name}
        """, file: "p.yml")
        #expect(config.warnings.map(\.description) == [
            #"p.yml:1:1: warning: unknown key "deleteDependentEntitys" is ignored (did you mean "deleteDependentEntities"?) [unknown-key]"#,
            #"p.yml:7:56: warning: unknown key "titel" in resources[0].port.entity.mappings is ignored (did you mean "title"?) [unknown-key]"#,
        ])
    }

    @Test func anUnquotedBooleanExpressionIsFlaggedAsAnOceanDifference() throws {
        let config = try PortAppConfig.parse("""
        resources:
          - kind: issue
            selector: {query: true}
            port: {entity: {mappings: {identifier: .key, blueprint: '"b"'}}}
        """, file: "p.yml")
        #expect(config.warnings.map(\.rule) == ["ocean-yaml-boolean"])
        #expect(config.resources[0].selector.query.source == "true")
    }

    @Test func invalidYAMLIsASyntaxErrorWithLibyamlsReason() {
        #expect {
            _ = try PortAppConfig.parse("resources:\n  - kind: issue\n   selector: x\n", file: "p.yml")
        } throws: { error in
            let diagnostic = (error as? Diagnostics)?.items.first
            return diagnostic?.rule == "yaml-syntax" && diagnostic?.location?.line == 3
        }
    }

    @Test func aMissingFileNamesThePath() {
        #expect {
            _ = try PortAppConfig.load(contentsOf: "/nonexistent/port-app-config.yml")
        } throws: { error in
            (error as? Diagnostics)?.description.contains("/nonexistent/port-app-config.yml") == true
        }
    }

    @Test func expressionsKeepTheirSourcePositions() throws {
        let config = try PortAppConfig.parse("""
        resources:
          - kind: issue
            selector:
              query: .fields.ok
            port:
              entity:
                mappings:
                  identifier: .key
                  blueprint: '"b"'
                  properties:
                    url: .self
        """, file: "p.yml")
        let resource = config.resources[0]
        #expect(resource.selector.query.location == SourceLocation(file: "p.yml", line: 4, column: 14))
        guard case .object(let properties)? = resource.port.entity.tree("properties"),
              case .expression(let url) = properties[0].value else {
            Issue.record("properties not read")
            return
        }
        #expect(url.location == SourceLocation(file: "p.yml", line: 11, column: 18))
    }

    @Test func theJiraDefaultMappingLoadsCleanly() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/TideMappingTests/PortAppConfigTests.swift",
                                                  with: "integrations/jira/.port/resources/port-app-config.yml")
        let config = try PortAppConfig.load(contentsOf: path)
        #expect(config.warnings.isEmpty)
        #expect(config.resources.map(\.kind) == ["project", "user", "issue"])
    }
}
