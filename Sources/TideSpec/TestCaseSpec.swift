/// The definition of a `tide test` case (`DIR/tests/*.yml`). It lives here rather than beside its
/// runner (TideTestRunner) so that `tide schema`, `tide lint` and the reference docs, which cannot
/// depend on the runner, are generated from the same tree the runner validates with.
public enum TestCaseSpec {
    static let fixtureEntry = SpecType.json

    static let expectedEntity = SpecType.object(ObjectSpec(
        "An entity as the catalog holds it. With `subset: true` only the keys written here are compared (inside properties and relations too).",
        fields: [
            FieldSpec("blueprint", .string(), required: true, "Blueprint identifier."),
            FieldSpec("identifier", .string(), required: true, "Entity identifier."),
            FieldSpec("title", .json, "Title (null or absent when not mapped)."),
            FieldSpec("icon", .json, "Icon."),
            FieldSpec("team", .json, "Team(s)."),
            FieldSpec("properties", .map(.json), "Properties by name."),
            FieldSpec("relations", .map(.json), "Relations by name: an identifier, a list, or null."),
        ]))

    static let expectedError = SpecType.object(ObjectSpec("A kind that must fail, and why.", fields: [
        FieldSpec("kind", .string(), required: true, "The kind (as a resource names it) that fails."),
        FieldSpec("message", .string(), "Text the failure message contains."),
    ]))

    static let webhookExpectation = SpecType.object(ObjectSpec(
        "Not yet supported: an event to send and its effects. Validated, not run; the case report notes that they were not checked.",
        fields: [
            FieldSpec("event", .json, required: true, "The request to send: path, headers and body."),
            FieldSpec("upserts", .array(expectedEntity), "Entities the event writes."),
            FieldSpec("deletes", .array(.json), "Entities (blueprint and identifier) the event deletes."),
        ]))

    static let expect = SpecType.object(ObjectSpec("What the resync must produce.", fields: [
        FieldSpec("entities", .array(expectedEntity),
                  "The entities in the catalog after the resync: all of them, or with `subset: true` those listed."),
        FieldSpec("subset", .boolean, default: "false",
                  "Compare only the listed entities (by blueprint and identifier) and only their listed keys."),
        FieldSpec("counts", .map(.integer(minimum: 0)), "Number of entities per blueprint after the resync."),
        FieldSpec("errors", .array(expectedError),
                  "Kinds that must fail. A kind failing without being listed fails the case."),
        FieldSpec("webhooks", .array(webhookExpectation), "Not yet supported (live events are tested later)."),
    ]))

    /// The whole file.
    public static let root = SpecType.object(ObjectSpec("A `tide test` case: a resync against fixtures and its expected result.", fields: [
        FieldSpec("name", .string(), "Name shown in reports; the file name when absent."),
        FieldSpec("description", .string(), "What the case shows."),
        FieldSpec("config", .map(.json), "Configuration values, over those of configFile."),
        FieldSpec("configFile", .string(),
                  "A YAML or JSON file of configuration values, relative to this file; default: the integration's fixtures/config.yml when it exists."),
        FieldSpec("mapping", .either([.string(), .json]),
                  "The port-app-config to resync with: a path relative to this file, or the configuration inline; default: the integration's."),
        FieldSpec("kinds", .array(.string()), "Resync only the resources of these kinds."),
        FieldSpec("selectors", .map(.map(.json)),
                  "Selector fields to set, by kind, on every resource of that kind (e.g. pullRequest: {state: closed})."),
        FieldSpec("fixturesFile", .string(), "A fixtures.yml (docs/fixtures.md), relative to this file."),
        FieldSpec("fixtures", .array(fixtureEntry),
                  "Fixture entries in the fixtures.yml format, consulted before fixturesFile's; body files are relative to this file."),
        FieldSpec("allowUnusedFixtures", .boolean, default: "false",
                  "Do not fail on fixtures never requested (for cases that resync part of a shared fixtures file)."),
        FieldSpec("expect", expect, required: true, "The expected outcome."),
    ]))
}
