import Testing
import TideYAML

/// Plain scalars resolve by the YAML 1.2 core schema, not YAML 1.1.
@Suite struct CoreSchemaTests {
    private func value(_ plain: String) throws -> YAMLValue {
        let node = try load("v: \(plain)\n")
        let scalar = try #require(node["v"]?.scalar)
        #expect(scalar.style == .plain)
        #expect(scalar.text == plain)
        return scalar.value
    }

    @Test(arguments: ["~", "null", "Null", "NULL", ""])
    func nulls(_ text: String) throws {
        #expect(try value(text) == .null)
    }

    @Test(arguments: ["true", "True", "TRUE"])
    func trues(_ text: String) throws {
        #expect(try value(text) == .bool(true))
    }

    @Test(arguments: ["false", "False", "FALSE"])
    func falses(_ text: String) throws {
        #expect(try value(text) == .bool(false))
    }

    /// YAML 1.1 booleans, sexagesimals, underscores and near-misses stay strings.
    @Test(arguments: ["yes", "no", "on", "off", "Yes", "NO", "y", "n", "tRUE", "nULL", "1_000", "1:30",
                      "0x", "0o", "0o8", "0xG", "-0x1F", "+0o7", "1.2.3", "e3", "1e", "1e+", ".", "+", "-x",
                      "+-1", "inf", ".infinity", "nan", "0b101", "12abc", "1 2"])
    func strings(_ text: String) throws {
        #expect(try value(text) == .string(text))
    }

    @Test(arguments: [("0", 0), ("-12", -12), ("+12", 12), ("0123", 123), ("0o17", 15), ("0o0", 0),
                      ("0x1F", 31), ("0xff", 255), ("9223372036854775807", Int.max),
                      ("-9223372036854775808", Int.min), ("0x7FFFFFFFFFFFFFFF", Int.max)])
    func integers(_ text: String, _ expected: Int) throws {
        #expect(try value(text) == .int(expected))
    }

    @Test(arguments: [("1.5", 1.5), ("-1.5", -1.5), ("+1.5", 1.5), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0),
                      ("-2.5E-3", -0.0025), ("6.02e+23", 6.02e23), ("0.0", 0.0),
                      ("9223372036854775808", 9223372036854775808.0), ("0x10000000000000000", 18446744073709551616.0)])
    func floats(_ text: String, _ expected: Double) throws {
        #expect(try value(text) == .float(expected))
    }

    @Test(arguments: [".inf", ".Inf", ".INF", "+.inf"])
    func positiveInfinity(_ text: String) throws {
        #expect(try value(text) == .float(.infinity))
    }

    @Test(arguments: ["-.inf", "-.Inf", "-.INF"])
    func negativeInfinity(_ text: String) throws {
        #expect(try value(text) == .float(-.infinity))
    }

    @Test(arguments: [".nan", ".NaN", ".NAN"])
    func notANumber(_ text: String) throws {
        guard case .float(let number) = try value(text) else {
            Issue.record("\(text) did not resolve to a float")
            return
        }
        #expect(number.isNaN)
    }

    @Test func quotedScalarsAreAlwaysStrings() throws {
        let root = try load("a: 'true'\nb: \"12\"\nc: '~'\nd: \"\"\ne: '.inf'\n")
        #expect(root["a"]?.value == .string("true"))
        #expect(root["b"]?.value == .string("12"))
        #expect(root["c"]?.value == .string("~"))
        #expect(root["d"]?.value == .string(""))
        #expect(root["e"]?.value == .string(".inf"))
    }

    @Test func typeNames() throws {
        let root = try load("[{}, [], s, 1, 1.5, true, ~, .nan]")
        #expect(root.items?.map(\.typeName)
            == ["mapping", "sequence", "string", "integer", "number", "boolean", "null", "number"])
    }
}
