/// Type resolution of plain scalars by the YAML 1.2 **core schema**, not YAML 1.1.
///
/// Why 1.2: the 1.1 rules turn `yes`, `no`, `on`, `off` (country code `NO`, a flag named `on`)
/// into booleans and `0123` into octal, which surprises people writing mappings. So:
/// - null: `~`, `null`, `Null`, `NULL` and the empty scalar
/// - bool: `true`, `True`, `TRUE`, `false`, `False`, `FALSE` only
/// - int: `[-+]?[0-9]+` (decimal, so `0123` is 123), `0o[0-7]+`, `0x[0-9a-fA-F]+`
/// - float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf` and `.nan`
///   in the three spellings each
/// - anything else: a string.
/// An integer too large for `Int` resolves to the nearest `Double` rather than failing.
///
/// Note that PyYAML, which Ocean uses, implements YAML 1.1, so Tide deliberately differs on
/// `yes`/`no`/`on`/`off`, `0o`/`0123` octals and `1_000`-style numbers.
enum CoreSchema {
    static func resolve(plain text: String) -> YAMLValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        // Cheap rejection for the common case of words.
        guard let first = text.utf8.first,
              first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || isDigit(first)
        else { return .string(text) }
        return number(text) ?? .string(text)
    }

    private static func number(_ text: String) -> YAMLValue? {
        let bytes = Array(text.utf8)
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            if bytes[1] == UInt8(ascii: "o") { return radix(bytes[2...], 8) }
            if bytes[1] == UInt8(ascii: "x") { return radix(bytes[2...], 16) }
        }
        var index = 0
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
        let integerStart = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let integerDigits = index - integerStart
        if index == bytes.count {
            guard integerDigits > 0 else { return nil }
            if let value = Int(text) { return .int(value) }
            return Double(text).map { .float($0) }
        }
        var fractionDigits = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            fractionDigits = index - fractionStart
        }
        guard integerDigits > 0 || fractionDigits > 0 else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                index += 1
            }
            let exponentStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > exponentStart else { return nil }
        }
        guard index == bytes.count else { return nil }
        return Double(text).map { .float($0) }
    }

    private static func radix(_ digits: ArraySlice<UInt8>, _ base: Int) -> YAMLValue? {
        var exact: Int? = 0
        var approximate = 0.0
        for byte in digits {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
            guard digit < base else { return nil }
            approximate = approximate * Double(base) + Double(digit)
            if let value = exact {
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: base)
                let (sum, overflow2) = shifted.addingReportingOverflow(digit)
                exact = overflow1 || overflow2 ? nil : sum
            }
        }
        if let exact { return .int(exact) }
        return .float(approximate)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
