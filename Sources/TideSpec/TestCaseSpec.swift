/// The definition of a `tide test` case (`DIR/tests/*.yml`). It lives here rather than beside its
/// runner (TideTestRunner) so that `tide schema`, `tide lint` and the reference docs, which cannot
/// depend on the runner, are generated from the same tree the runner validates with.
public enum TestCaseSpec {
    static let fixtureEntry = FixturesSpec.entry

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

    static let entityKey = SpecType.object(ObjectSpec("An entity by its key.", fields: [
        FieldSpec("blueprint", .string(), required: true, "Blueprint identifier."),
        FieldSpec("identifier", .string(), required: true, "Entity identifier."),
    ]))

    static let webhookEvent = SpecType.object(ObjectSpec("The request to send to the integration's webhook server.", fields: [
        FieldSpec("path", .string(), "The webhook's path as integration.yml declares it (e.g. /webhook); default: the integration's only webhook."),
        FieldSpec("headers", .map(.string()), "Headers to send, e.g. X-GitHub-Event: push (Content-Type: application/json is added unless given)."),
        FieldSpec("query", .map(.string()), "Query parameters."),
        FieldSpec("body", .json, "The JSON body, written as YAML."),
        FieldSpec("bodyFile", .string(), "A file whose bytes are the body, relative to this file (instead of body)."),
        FieldSpec("signed", .boolean, default: "true",
                  "Sign the request as the webhook's verify says, with the secrets the case configures (nothing to sign when none is set); false sends it as written."),
    ]))

    static let webhookExpectation = SpecType.object(ObjectSpec(
        "An event sent through the real webhook server after the resync (if any), and what it must change. Events are sent in order, each once the previous one is processed.",
        fields: [
            FieldSpec("name", .string(), "Name shown in reports; default: the event's position."),
            FieldSpec("event", webhookEvent, required: true, "The request to send."),
            FieldSpec("status", .integer(minimum: 100, maximum: 599), default: "202",
                      "The status the server must answer (401 for a request that fails verification)."),
            FieldSpec("upserts", .array(expectedEntity), "Every entity the event writes, in any order; none when absent."),
            FieldSpec("deletes", .array(entityKey), "Every entity the event deletes, in any order; none when absent."),
            FieldSpec("subset", .boolean,
                      "Compare only the keys listed in upserts (default: expect.subset); which entities are written is always compared whole."),
            FieldSpec("error", .string(), "Text the event's processing failure must contain: the event must fail (a refetch the API refuses…)."),
        ]))

    static let expect = SpecType.object(ObjectSpec("What the case must produce.", fields: [
        FieldSpec("entities", .array(expectedEntity),
                  "The entities in the catalog at the end (after the resync and the webhook events): all of them, or with `subset: true` those listed."),
        FieldSpec("subset", .boolean, default: "false",
                  "Compare only the listed entities (by blueprint and identifier) and only their listed keys."),
        FieldSpec("counts", .map(.integer(minimum: 0)), "Number of entities per blueprint at the end."),
        FieldSpec("errors", .array(expectedError),
                  "Kinds that must fail. A kind failing without being listed fails the case."),
        FieldSpec("webhooks", .array(webhookExpectation),
                  "Events to send through the webhook server after the resync (if any), with the upserts and deletes each must cause."),
    ]))

    static let incremental = SpecType.object(ObjectSpec(
        "Run an incremental pass (as tide run --incremental) instead of a full resync, from cursors seeded in the scratch catalog.", fields: [
        FieldSpec("at", .string(), required: true, "When the pass starts, as an ISO 8601 date-time (2026-12-06T12:00:00Z): fixes what .cursor renders, so that requests match the fixtures."),
        FieldSpec("cursors", .map(.map(.string())),
                  "Cursors before the pass, by resource (kind[index], as the run report names it) and run (the partition's value, the parent's incremental.key, or \"\" for a kind read in one run): the start of the last pass that read the run, as an ISO 8601 date-time. A run without one is read whole."),
    ]))

    /// The whole file.
    public static let root = SpecType.object(ObjectSpec("A `tide test` case: a resync against fixtures, webhook events, and the expected result.", fields: [
        FieldSpec("name", .string(), "Name shown in reports; the file name when absent."),
        FieldSpec("description", .string(), "What the case shows."),
        FieldSpec("config", .map(.json), "Configuration values, over those of configFile."),
        FieldSpec("configFile", .string(),
                  "A YAML or JSON file of configuration values, relative to this file; default: the integration's fixtures/config.yml when it exists."),
        FieldSpec("mapping", .either([.string(), .json]),
                  "The port-app-config to resync with: a path relative to this file, or the configuration inline; default: the integration's."),
        FieldSpec("kinds", .array(.string()), "Resync only the resources of these kinds (webhook events apply to these kinds only too)."),
        FieldSpec("incremental", incremental, "Make the resync an incremental pass, from these cursors."),
        FieldSpec("resync", .boolean, default: "true",
                  "Resync first; false starts from an empty catalog, for cases about webhook events only."),
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
