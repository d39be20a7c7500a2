/// The definition of `fixtures.yml` (docs/fixtures.md): recorded requests and the responses to
/// replay. The fixture reader validates with it, test cases embed its entries, and `tide schema`
/// and the reference docs are generated from it.
public enum FixturesSpec {
    /// Query values and headers are compared as text, so `startAt: 0` means "startAt=0".
    static let text = SpecType.either([.string(), .number(), .boolean])

    public static let request = SpecType.object(ObjectSpec("The request to recognise: every key written must match.", fields: [
        FieldSpec("method", .string(), default: "\"GET\"", "The HTTP method."),
        FieldSpec("path", .string(), required: true,
                  "The path, compared exactly (percent-decoded); starts with / and has no ?… (list parameters under query)."),
        FieldSpec("query", .map(text), "Parameters that must be in the query with these values (others may be there too)."),
        FieldSpec("headers", .map(text), "Headers that must be present with these values (names case-insensitive)."),
        FieldSpec("body", .json, "For JSON requests: keys (and values) the body must contain, written as YAML."),
    ]))

    public static let response = SpecType.object(ObjectSpec("The response to give.", fields: [
        FieldSpec("status", .integer(minimum: 100, maximum: 599), default: "200", "The HTTP status."),
        FieldSpec("headers", .map(text), "Response headers (Content-Type: application/json is added for JSON bodies)."),
        FieldSpec("body", .string(), "A file with the body, relative to the fixtures file's folder."),
        FieldSpec("json", .json, "The body inline, written as YAML (instead of body)."),
    ]))

    public static let entry = SpecType.object(ObjectSpec(
        "A request to recognise and the response to give. Entries with the same request answer in turn (the last repeats).",
        fields: [
            FieldSpec("name", .string(), "A name for reports (\"never requested\"); default: the entry's line and request."),
            FieldSpec("request", request, required: true, "The request."),
            FieldSpec("response", response, required: true, "The response."),
        ]))

    /// The whole file: a list of entries (an empty file serves nothing).
    public static let root = SpecType.array(entry)
}
