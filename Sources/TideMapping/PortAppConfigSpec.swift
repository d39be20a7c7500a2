import TideSpec
import TideCore

/// The definition of Ocean's `port-app-config.yml` (port-ocean 0.56.2's `PortAppConfig`). The
/// loader validates with it before building the model, and `tide lint`, `tide schema` and the
/// docs derive from it, so they cannot disagree about what the file may hold.
///
/// Ocean reads this file with PyYAML and pydantic, which ignore keys they do not know, so here an
/// unknown or repeated key is a warning, never an error: a file Ocean accepts must load.
public enum PortAppConfigSpec {
    static let jq = SpecType.string(.jq)
    /// A jq expression, or a search query object (`combinator` and `rules`) whose strings are jq.
    static let expressionOrQuery = SpecType.either([jq, .map(.json)])

    static let mappings = SpecType.object(ObjectSpec("How each record becomes one Port entity; every string is a jq expression over the record.", fields: [
        FieldSpec("identifier", expressionOrQuery, required: true, "The entity's identifier (or a search query that finds it).",
                  nullable: true),
        FieldSpec("title", jq, "The entity's title.", nullable: true),
        FieldSpec("blueprint", jq, required: true, "The blueprint; a literal is a jq string, e.g. '\"jiraIssue\"'.",
                  nullable: true, hint: "a literal blueprint is written as a jq string: '\"myBlueprint\"'"),
        FieldSpec("icon", jq, "The entity's icon.", nullable: true),
        FieldSpec("team", expressionOrQuery, "The owning team(s), or a search query.", nullable: true),
        FieldSpec("properties", .map(.json), default: "{}", "Blueprint property → jq expression (objects and lists of them are evaluated leaf by leaf).",
                  nullable: true),
        FieldSpec("relations", .map(.json), default: "{}", "Relation → jq expression giving the target identifier(s), or a search query.",
                  nullable: true),
    ], unknownKeys: .warning))

    static let entity = SpecType.object(ObjectSpec("The entity made from each record.", fields: [
        FieldSpec("mappings", mappings, required: true, "One entity per record."),
    ], unknownKeys: .warning))

    static let port = SpecType.object(ObjectSpec("What to send to Port.", fields: [
        FieldSpec("entity", entity, required: true, "The entity mapping."),
        FieldSpec("itemsToParse", jq, "jq giving an array inside each record; each element is mapped as its own item.", nullable: true),
        FieldSpec("itemsToParseName", .string(), default: "\"item\"", "The key under which each element of itemsToParse is seen."),
        FieldSpec("itemsToParseTopLevelTransform", .boolean, default: "true",
                  "Whether each item sees the record without the parsed array (saves memory)."),
    ], unknownKeys: .warning))

    /// Integration-specific selector fields (`jql`, `expand`…) are accepted here and checked by
    /// `tide lint` against the fields the integration's kind declares.
    static let selector = SpecType.object(ObjectSpec("Which records to map; the integration's kind may declare more fields.", fields: [
        FieldSpec("query", jq, required: true, "jq over each record; only records for which it is true are mapped.",
                  hint: "Ocean requires one; write query: 'true' to keep every record"),
    ], allowsOtherKeys: true, unknownKeys: .warning))

    static let resource = SpecType.object(ObjectSpec("One kind to fetch and how to map its records.", fields: [
        FieldSpec("kind", .string(), required: true, "A kind the integration defines."),
        FieldSpec("selector", selector, required: true, "Record filter and the kind's request parameters."),
        FieldSpec("port", port, required: true, "The entity mapping."),
        FieldSpec("enableDelete", .boolean, "false keeps this resource's stale entities (of the blueprints it names or wrote in the resync) from deletion; upserts still run. Unset means true (port-ocean 0.56)."),
    ], unknownKeys: .warning))

    /// The whole file.
    public static let root = SpecType.object(ObjectSpec("Ocean's port-app-config: which kinds to fetch and how they become Port entities.", fields: [
        FieldSpec("enableMergeEntity", .boolean, default: "true", "Upsert with merge (Port's merge=true)."),
        FieldSpec("deleteDependentEntities", .boolean, default: "true", "Delete dependents with an entity (Port's delete_dependents=true)."),
        FieldSpec("createMissingRelatedEntities", .boolean, default: "true",
                  "Create relation targets that do not exist yet (Port's create_missing_related_entities=true)."),
        FieldSpec("entityDeletionThreshold", .number(minimum: 0, maximum: 1), default: "0.9",
                  "Stale entities are deleted only when deleted / owned is at most this (0 never deletes, 1 always does)."),
        FieldSpec("resources", .array(resource), default: "[]", "Processed in order; a kind may appear several times.", nullable: true),
    ], unknownKeys: .warning))
}
