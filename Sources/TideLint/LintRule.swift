import TideIntegration

/// The rule ids `tide lint` reports, one place for code, tests and docs/lint.md.
///
/// Structural rules (`yaml-syntax`, `unknown-key`, `type`, `required`, `enum`, `range`,
/// `duplicate-key`) come from TideYAML and `SpecValidator`, and the cross-checks
/// (`duplicate-name`, `unknown-parent`, `parent-cycle`, `unknown-kind`, `unknown-selector-field`)
/// and `blueprints` from the loader itself (`Integration.read`), which `tide lint` runs; the rest
/// are the linter's own rules on the loaded model.
public enum LintRule {
    public static let yamlSyntax = "yaml-syntax"
    public static let unknownKey = "unknown-key"
    public static let type = "type"
    public static let required = "required"
    public static let enumeration = "enum"
    public static let range = "range"
    public static let duplicateKey = "duplicate-key"
    public static let duplicateName = Integration.duplicateNameRule
    public static let jqCompile = "jq-compile"
    public static let template = "template"
    public static let templateUnknownConfig = "template-unknown-config"
    public static let templateUnknownSelector = "template-unknown-selector"
    public static let unknownParent = KindParents.unknownParentRule
    public static let parentCycle = KindParents.cycleRule
    public static let unknownKind = Integration.unknownKindRule
    public static let unknownSelectorField = Integration.unknownSelectorFieldRule
    public static let unknownBlueprint = "unknown-blueprint"
    public static let unknownProperty = "unknown-property"
    public static let unknownRelation = "unknown-relation"
    public static let requiredPropertyUnmapped = "required-property-unmapped"
    public static let requiredRelationUnmapped = "required-relation-unmapped"
    public static let constantIdentifier = "constant-identifier"
    public static let paginationNoEnd = "pagination-no-end"
    public static let sensitiveInURL = "sensitive-in-url"
    public static let pathSegment = "path-segment"
    public static let oceanYAMLBoolean = "ocean-yaml-boolean"
    public static let mappingEmpty = "mapping-empty"
    public static let blueprints = "blueprints"
    public static let io = "io"
    public static let webhookUnverified = "webhook-unverified"
}
