import Testing
import TideCore
import TideJQ
import TideSpec
import TideYAML

/// A small format exercising every kind of field the specs use.
enum Sample {
    static let pagination = TaggedSpec(tag: "type", variants: [
        .init("cursor", ObjectSpec("A cursor in the body.", fields: [FieldSpec("cursor", .string(.jq), required: true, "Where the cursor is.")])),
        .init("offset", ObjectSpec("Offset and limit.", fields: [FieldSpec("pageSize", .integer(minimum: 1), default: "50", "Items per page.")])),
    ], defaultVariant: "offset", commonFields: [FieldSpec("maxPages", .integer(minimum: 1), default: "1000", "A bound.")])

    static let root = SpecType.object(ObjectSpec("A sample.", fields: [
        FieldSpec("name", .string(), required: true, "The name.", hint: "every sample has a name"),
        FieldSpec("retries", .integer(minimum: 0, maximum: 10), default: "3", "Retries."),
        FieldSpec("ratio", .number(minimum: 0, maximum: 1), default: "0.5", "A ratio."),
        FieldSpec("enabled", .boolean, default: "true", "On or off."),
        FieldSpec("mode", .enumeration(["fast", "safe"]), default: "\"safe\"", "How."),
        FieldSpec("url", .string(.url), "Where."),
        FieldSpec("headers", .map(.string(.template)), "Headers."),
        FieldSpec("tags", .array(.string()), "Tags."),
        FieldSpec("note", .string(), "Empty means unset.", nullable: true),
        FieldSpec("pagination", .tagged(pagination), "How pages follow."),
    ]))

    static func node(_ text: String) throws -> YAMLNode { try YAML.parse(text, file: "sample.yml") }
}

@Suite struct SpecValidatorTests {
    @Test func aValidDocumentHasNoFindings() throws {
        let node = try Sample.node("""
        name: a
        retries: 10
        ratio: 1
        enabled: false
        mode: fast
        url: https://example.com
        headers: {Authorization: "Bearer {{ .config.token }}"}
        tags: [x, y]
        note:
        pagination: {type: cursor, cursor: .next, maxPages: 5}
        """)
        #expect(SpecValidator.validate(node, against: Sample.root).isEmpty)
    }

    @Test func everyFindingHasItsPlaceAndRule() throws {
        let node = try Sample.node("""
        retries: 11
        ratio: x
        enabled: yes please
        mode: fsat
        url: ftp://example.com
        tags: a
        nmae: b
        pagination: {type: cursor}
        """)
        let findings = SpecValidator.validate(node, against: Sample.root)
        let byRule = Dictionary(grouping: findings, by: \.rule).mapValues { $0.map(\.message) }
        // name missing, retries over 10, ratio not a number, enabled not a boolean, mode misspelt,
        // url not http(s), tags not a list, nmae unknown, cursor missing in the cursor variant.
        #expect(findings.count == 9, "\(findings.map(\.description))")
        #expect(byRule["range"] == ["retries must be between 0 and 10, found 11"])
        #expect(byRule["enum"]?.first?.contains(#"did you mean "fast"?"#) == true)
        #expect(findings.contains { $0.message.contains("name") && $0.hint == "every sample has a name" })
        #expect(findings.contains { $0.message.contains("nmae") })
        #expect(findings.allSatisfy { $0.location?.file == "sample.yml" && ($0.location?.line ?? 0) >= 1 })
        // Sorted by place: the unknown key on line 7 comes after the range error on line 1.
        #expect(findings == findings.sorted())
    }
}

@Suite struct SpecReaderTests {
    @Test func absentKeysReadAsTheSpecsDefaults() throws {
        let reader = SpecReader(try Sample.node("name: a"), Sample.root)
        #expect(reader.string("name") == "a")
        #expect(reader.int("retries") == 3)
        #expect(reader.double("ratio") == 0.5)
        #expect(reader.bool("enabled") == true)
        #expect(reader.string("mode") == "safe")
        #expect(reader.string("url") == nil)
        #expect(!reader.has("retries") && reader.has("name"))
        // The tagged object's default variant and its own and common defaults.
        let pagination = reader.child("pagination")
        #expect(pagination.string("type") == "offset")
        #expect(pagination.int("pageSize") == 50)
        #expect(pagination.int("maxPages") == 1000)
    }

    @Test func givenValuesWinAndNullMeansUnset() throws {
        let reader = SpecReader(try Sample.node("name: a\nretries: 0\nratio: 1\nenabled: false\nnote:\ntags: [x]\npagination: {type: cursor, cursor: .n}"),
                                Sample.root)
        #expect(reader.int("retries") == 0)
        #expect(reader.double("ratio") == 1)
        #expect(reader.bool("enabled") == false)
        #expect(reader.string("note") == nil)
        #expect(reader.json("tags") == #"["x"]"#)
        #expect(reader.json("retries") == "0")
        let pagination = reader.child("pagination")
        #expect(pagination.string("cursor") == ".n")
        #expect(pagination.int("maxPages") == 1000)
        #expect(pagination.int("pageSize") == nil)  // not a field of the cursor variant
    }

    /// A lenient reader reads a tree that failed validation: what the spec determines but the
    /// document lacks or gets wrong is a placeholder, and nested readers are lenient too.
    @Test func aLenientReaderGivesPlaceholdersWhereTheSpecDetermines() throws {
        enum Mode: String, CaseIterable { case fast, safe }
        let node = try Sample.node("retries: many\nmode: quick\npagination: {type: cursor}")
        #expect(!SpecValidator.validate(node, against: Sample.root).isEmpty)
        let reader = SpecReader(node, Sample.root, lenient: true)
        #expect(reader.string(specified: "name") == "")        // required, missing
        #expect(reader.int(specified: "retries") == 3)         // wrong type: the default, as ever
        #expect(reader.value(specified: "mode", as: Mode.self) == .fast)  // not a case: the first
        let pagination = reader.child("pagination")
        #expect(pagination.lenient)
        #expect(pagination.string(specified: "cursor") == "")  // required by the variant, missing
        #expect(pagination.int(specified: "maxPages") == 1000)
        #expect(!SpecReader(node, Sample.root).lenient)
    }
}

@Suite struct JSONSchemaExportTests {
    @Test func theSchemaDescribesEveryField() throws {
        let schema = JSONSchemaExporter.schema(for: Sample.root, id: "https://tide.dev/sample.json", title: "Sample", description: "A sample.")
        #expect(schema["$schema"]?.stringValue == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["$id"]?.stringValue == "https://tide.dev/sample.json")
        #expect(schema["type"]?.stringValue == "object")
        #expect(schema["additionalProperties"] == JSON(false))
        #expect(schema["required"]?.arrayElements.compactMap(\.stringValue) == ["name"])
        let properties = try #require(schema["properties"])
        #expect(properties.objectMembers.map(\.key) == ["name", "retries", "ratio", "enabled", "mode", "url", "headers", "tags", "note", "pagination"])
        #expect(properties["retries"]?["minimum"] == JSON(0) && properties["retries"]?["maximum"] == JSON(10))
        #expect(properties["retries"]?["default"] == JSON(3))
        #expect(properties["mode"]?["enum"]?.arrayElements.compactMap(\.stringValue) == ["fast", "safe"])
        #expect(properties["url"]?["x-tide-format"]?.stringValue == "url")
        #expect(properties["headers"]?["additionalProperties"]?["x-tide-format"]?.stringValue == "template")
        #expect(properties["tags"]?["items"]?["type"]?.stringValue == "string")
        // Nullable: the type or null.
        #expect(properties["note"]?["anyOf"]?.arrayElements.count == 2)
        // Tagged: one variant per tag value; the default variant does not require the tag.
        let variants = try #require(properties["pagination"]?["oneOf"]?.arrayElements)
        #expect(variants.count == 2)
        #expect(variants[0]["properties"]?["type"]?["const"]?.stringValue == "cursor")
        #expect(variants[0]["required"]?.arrayElements.compactMap(\.stringValue) == ["type", "cursor"])
        #expect(variants[1]["required"] == nil)
        #expect(variants[1]["properties"]?["maxPages"]?["default"] == JSON(1000))
    }
}
