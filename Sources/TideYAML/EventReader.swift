import CYAML
import TideCore

/// Turns libyaml's event stream into a `YAMLNode` tree.
///
/// libyaml's parser keeps its own state on the heap, and this reader keeps open collections
/// on an explicit stack, so nesting depth costs memory rather than call stack; `maxDepth`
/// then keeps the finished tree shallow enough for the recursive code that consumes it.
struct EventReader {
    private struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var tag: String?
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        var pendingKey: YAMLNode?
        /// Values of `<<` keys, applied when the mapping ends so explicit keys win wherever
        /// they are written.
        var merges: [YAMLNode] = []
        /// `nodeCount` when the collection began: the difference at its end is its size.
        var countAtStart: Int
        /// Collection levels in this subtree, itself included.
        var height = 1
    }

    private enum Anchored {
        /// Still being built: an alias to it would make the tree infinite.
        case open
        case done(YAMLNode, weight: Int, height: Int)
    }

    private let file: String
    private let limits: YAMLLimits
    private var stack: [Frame] = []
    private var anchors: [String: Anchored] = [:]
    /// Nodes so far with aliases counted at their expanded size.
    private var nodeCount = 0
    private var root: YAMLNode?

    private init(file: String, limits: YAMLLimits) {
        self.file = file
        self.limits = limits
    }

    static func parse(_ input: [UInt8], file: String, limits: YAMLLimits) throws(Diagnostic) -> YAMLNode {
        var bytes = input
        // libyaml only strips a byte order mark when it detects the encoding itself; we fix the
        // encoding to UTF-8 (what Ocean files are), so drop the mark here and keep column 1 right.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let length = bytes.count
        // A trailing byte libyaml never reads guarantees a non-nil base address for empty input.
        bytes.append(0)

        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw Diagnostic(at: SourceLocation(file: file, line: 1, column: 1),
                             "out of memory while starting the YAML parser", rule: YAML.Rule.syntax)
        }
        defer { yaml_parser_delete(&parser) }
        var reader = EventReader(file: file, limits: limits)
        return try bytes.withUnsafeBufferPointer { buffer throws(Diagnostic) -> YAMLNode in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, length)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            return try reader.run(&parser, input: buffer)
        }
    }

    private mutating func run(_ parser: inout yaml_parser_t, input: UnsafeBufferPointer<UInt8>)
        throws(Diagnostic) -> YAMLNode
    {
        var documents = 0
        var documentEnded = false
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                throw syntaxError(parser, input: input, afterDocument: documentEnded)
            }
            defer { yaml_event_delete(&event) }
            let location = at(event.start_mark)
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return root ?? YAMLNode(
                    kind: .scalar(YAMLScalar(text: "", style: .plain, value: .null)),
                    location: SourceLocation(file: file, line: 1, column: 1))
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw Diagnostic(
                        at: location, "only one YAML document is allowed", rule: YAML.Rule.multipleDocuments,
                        hint: "remove the '---' (or '...') separating a second document, or move it to its own file")
                }
            case YAML_SCALAR_EVENT:
                let data = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length),
                                  as: UTF8.self)
                let style = Self.style(data.style)
                let rawTag = Self.string(data.tag)
                let value = try resolve(text, style: style, tag: rawTag, at: location)
                try countNode(at: location)
                let node = YAMLNode(kind: .scalar(YAMLScalar(text: text, style: style, value: value)),
                                    location: location, tag: rawTag.map(Self.shortTag))
                if let anchor = Self.string(data.anchor) {
                    anchors[anchor] = .done(node, weight: 1, height: 0)
                }
                try add(node, height: 0)
            case YAML_SEQUENCE_START_EVENT:
                let data = event.data.sequence_start
                try open(isMapping: false, at: location, tag: Self.string(data.tag),
                         anchor: Self.string(data.anchor))
            case YAML_MAPPING_START_EVENT:
                let data = event.data.mapping_start
                try open(isMapping: true, at: location, tag: Self.string(data.tag),
                         anchor: Self.string(data.anchor))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                try close()
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                try alias(name, at: location)
            case YAML_DOCUMENT_END_EVENT:
                documentEnded = true
            default:
                // STREAM-START and NO-EVENT carry nothing for the tree.
                break
            }
        }
    }

    // MARK: Building

    private mutating func countNode(at location: SourceLocation, weight: Int = 1) throws(Diagnostic) {
        nodeCount += weight
        if nodeCount > limits.maxNodes {
            throw Diagnostic(
                at: location,
                "document has more than \(limits.maxNodes) nodes once aliases are expanded",
                rule: YAML.Rule.limit,
                hint: "each alias counts as a full copy of its anchored node; the limit stops alias bombs")
        }
    }

    private mutating func open(isMapping: Bool, at location: SourceLocation, tag: String?, anchor: String?)
        throws(Diagnostic)
    {
        if stack.count + 1 > limits.maxDepth { throw tooDeep(at: location) }
        try countNode(at: location)
        if let anchor { anchors[anchor] = .open }
        stack.append(Frame(isMapping: isMapping, location: location, tag: tag.map(Self.shortTag),
                           anchor: anchor, countAtStart: nodeCount - 1))
    }

    private mutating func close() throws(Diagnostic) {
        guard var frame = stack.popLast() else { return }
        let node: YAMLNode
        if frame.isMapping {
            if !frame.merges.isEmpty { frame.pairs = Self.merged(frame.merges, into: frame.pairs) }
            node = YAMLNode(kind: .mapping(frame.pairs), location: frame.location, tag: frame.tag)
        } else {
            node = YAMLNode(kind: .sequence(frame.items), location: frame.location, tag: frame.tag)
        }
        if let anchor = frame.anchor {
            anchors[anchor] = .done(node, weight: nodeCount - frame.countAtStart, height: frame.height)
        }
        try add(node, height: frame.height)
    }

    private mutating func alias(_ name: String, at location: SourceLocation) throws(Diagnostic) {
        switch anchors[name] {
        case nil:
            throw Diagnostic(at: location, "undefined alias '*\(name)'", rule: YAML.Rule.alias,
                             hint: "an alias must come after the '&\(name)' anchor it refers to")
        case .open?:
            throw Diagnostic(at: location, "alias '*\(name)' refers to a node that contains it",
                             rule: YAML.Rule.alias)
        case .done(var node, let weight, let height)?:
            if stack.count + height > limits.maxDepth { throw tooDeep(at: location) }
            try countNode(at: location, weight: weight)
            node.location = location
            try add(node, height: height)
        }
    }

    /// Attaches a finished node to the open collection, or makes it the document.
    private mutating func add(_ node: YAMLNode, height: Int) throws(Diagnostic) {
        let top = stack.count - 1
        guard top >= 0 else {
            root = node
            return
        }
        stack[top].height = max(stack[top].height, height + 1)
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        guard let key = stack[top].pendingKey else {
            stack[top].pendingKey = node
            return
        }
        stack[top].pendingKey = nil
        if Self.isMergeKey(key) {
            try Self.checkMergeValue(node)
            stack[top].merges.append(node)
        } else {
            stack[top].pairs.append(YAMLPair(key: key, value: node))
        }
    }

    private func tooDeep(at location: SourceLocation) -> Diagnostic {
        Diagnostic(at: location, "collections are nested more than \(limits.maxDepth) levels deep",
                   rule: YAML.Rule.limit)
    }

    // MARK: Merge keys

    /// A plain `<<` (or one tagged `!!merge`); a quoted `'<<'` is an ordinary key.
    private static func isMergeKey(_ key: YAMLNode) -> Bool {
        guard case .scalar(let scalar) = key.kind, scalar.text == "<<" else { return false }
        if key.tag == "!!merge" { return true }
        return key.tag == nil && scalar.style == .plain
    }

    private static func checkMergeValue(_ value: YAMLNode) throws(Diagnostic) {
        switch value.kind {
        case .mapping:
            return
        case .sequence(let items):
            for item in items where item.pairs == nil {
                throw Diagnostic(at: item.location,
                                 "a '<<' merge list may only hold mappings, found a \(item.typeName)",
                                 rule: YAML.Rule.merge)
            }
        case .scalar:
            throw Diagnostic(at: value.location,
                             "a '<<' merge key needs a mapping or a list of mappings, found a \(value.typeName)",
                             rule: YAML.Rule.merge)
        }
    }

    /// PyYAML's `flatten_mapping`: sources are taken in order, a list's mappings in reverse, and
    /// a later source overrides an earlier one, so in `[*a, *b]` `a` wins and repeated `<<` keys
    /// let the last win. Keys the mapping itself defines are dropped from the merged ones.
    private static func merged(_ merges: [YAMLNode], into explicit: [YAMLPair]) -> [YAMLPair] {
        var sources: [[YAMLPair]] = []
        for merge in merges {
            switch merge.kind {
            case .mapping(let pairs): sources.append(pairs)
            case .sequence(let items): sources.append(contentsOf: items.reversed().compactMap(\.pairs))
            case .scalar: break
            }
        }
        var result: [YAMLPair] = []
        var positions: [String: Int] = [:]
        for source in sources {
            for pair in source {
                let key = pair.key.keyText
                if let position = positions[key] {
                    result[position] = pair
                } else {
                    positions[key] = result.count
                    result.append(pair)
                }
            }
        }
        let defined = Set(explicit.map(\.key.keyText))
        return result.filter { !defined.contains($0.key.keyText) } + explicit
    }

    // MARK: Scalars

    private static let yamlTagPrefix = "tag:yaml.org,2002:"

    /// `tag:yaml.org,2002:str` back to the `!!str` people write.
    private static func shortTag(_ tag: String) -> String {
        tag.hasPrefix(yamlTagPrefix) ? "!!" + tag.dropFirst(yamlTagPrefix.count) : tag
    }

    private func resolve(_ text: String, style: YAMLScalar.Style, tag: String?, at location: SourceLocation)
        throws(Diagnostic) -> YAMLValue
    {
        let implicit = style == .plain ? CoreSchema.resolve(plain: text) : .string(text)
        guard let tag else { return implicit }
        let wanted: String
        switch tag {
        case Self.yamlTagPrefix + "str", "!": return .string(text)
        case Self.yamlTagPrefix + "null": wanted = "null"
        case Self.yamlTagPrefix + "bool": wanted = "boolean"
        case Self.yamlTagPrefix + "int": wanted = "integer"
        case Self.yamlTagPrefix + "float": wanted = "number"
        default: return implicit
        }
        // The explicit tag applies whatever the quoting: `!!int "3"` is 3.
        let resolved = CoreSchema.resolve(plain: text)
        if resolved.typeName == wanted { return resolved }
        if wanted == "number", case .int(let number) = resolved { return .float(Double(number)) }
        throw Diagnostic(at: location, "'\(text)' is not a valid \(wanted) for tag \(Self.shortTag(tag))",
                         rule: YAML.Rule.tag)
    }

    private static func style(_ style: yaml_scalar_style_t) -> YAMLScalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    // MARK: Positions and errors

    private func at(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: mark.line + 1, column: mark.column + 1)
    }

    private func syntaxError(_ parser: yaml_parser_t, input: UnsafeBufferPointer<UInt8>, afterDocument: Bool)
        -> Diagnostic
    {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if afterDocument && problem == "did not find expected <document start>" {
            // Content after a `...` end marker: a second document that lacks its `---`.
            return Diagnostic(at: at(parser.problem_mark), "only one YAML document is allowed",
                              rule: YAML.Rule.multipleDocuments,
                              hint: "nothing but comments may follow the '...' that ends the document")
        }
        switch parser.error {
        case YAML_READER_ERROR:
            // Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark.
            var message = problem
            if parser.problem_value >= 0 {
                let value = String(parser.problem_value, radix: 16, uppercase: true)
                message += problem.contains("octet") || problem.contains("UTF-8")
                    ? " (byte 0x\(value))" : " (U+\(String(repeating: "0", count: max(0, 4 - value.count)) + value))"
            }
            return Diagnostic(at: location(ofByte: parser.problem_offset, in: input), message,
                              rule: YAML.Rule.syntax, hint: "a YAML file must be UTF-8 text without control characters")
        case YAML_MEMORY_ERROR:
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1),
                              "out of memory while parsing YAML", rule: YAML.Rule.syntax)
        default:
            var message = problem
            if let context = parser.context {
                let start = at(parser.context_mark)
                let position = at(parser.problem_mark)
                message += start == position
                    ? " (\(String(cString: context)))"
                    : " (\(String(cString: context)) that starts at line \(start.line), column \(start.column))"
            }
            var hint = firstByte(atLine: parser.problem_mark.line, column: parser.problem_mark.column, in: input)
                == UInt8(ascii: "\t") ? "YAML indentation must use spaces; this is a tab" : nil
            if hint == nil, problem.contains("mapping values are not allowed") {
                // Most often a jq expression with `key: value` inside, written without quotes.
                hint = "a value that contains ': ' (a jq object such as {a: .b}) must be quoted: put the whole expression in single quotes, e.g. title: '.a | {b: .c}'"
            }
            return Diagnostic(at: at(parser.problem_mark), message, rule: YAML.Rule.syntax, hint: hint)
        }
    }

    /// The first byte of the character at a 0-based libyaml mark, to explain errors such as tabs.
    private func firstByte(atLine line: Int, column: Int, in input: UnsafeBufferPointer<UInt8>) -> UInt8? {
        var currentLine = 0
        var currentColumn = 0
        for index in 0..<input.count - 1 {
            let byte = input[index]
            if byte & 0xC0 == 0x80 { continue }
            if currentLine == line && currentColumn == column { return byte }
            if currentLine > line { return nil }
            if byte == UInt8(ascii: "\n") || (byte == UInt8(ascii: "\r") && input[index + 1] != UInt8(ascii: "\n")) {
                currentLine += 1
                currentColumn = 0
            } else if byte != UInt8(ascii: "\r") {
                currentColumn += 1
            }
        }
        return nil
    }

    /// Line and column (in Unicode scalars, as libyaml's marks count) of a byte offset.
    private func location(ofByte offset: Int, in input: UnsafeBufferPointer<UInt8>) -> SourceLocation {
        var line = 1
        var column = 1
        var index = 0
        let end = min(offset, input.count)
        while index < end {
            let byte = input[index]
            if byte == UInt8(ascii: "\n") || (byte == UInt8(ascii: "\r")
                && (index + 1 >= input.count || input[index + 1] != UInt8(ascii: "\n"))) {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 && byte != UInt8(ascii: "\r") {
                column += 1
            }
            index += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
