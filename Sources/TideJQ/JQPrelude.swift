/// jq definitions prepended to every program so that Debian's libjq (jq 1.6) gives the results
/// of jq 1.8.2, the version port-ocean 0.56.2 runs. Each definition is checked against jq 1.8.2's
/// recorded output in Tests/TideJQTests (see scripts/jq-oracle.py); what cannot be matched is listed
/// in CompatBuiltinsTests.knownDifferences.
///
/// Notes on the definitions (the jq text itself carries no comments, see `source`):
/// - Originals that a shadowing definition needs are bound first under a `_tide_` name.
/// - libjq's own builtins call each other directly, so every builtin that reaches a fixed one
///   (e.g. `sub`, `scan`, `splits`, `capture` → `match`; `map_values`, `walk` → `_modify`) is redefined too.
/// - `_modify`, `_assign`, `_multiply`, `_divide` and `format` are what libjq's parser calls for
///   `|=`/`+=`, `=`, `*`, `/` and `@fmt`/string interpolation; defining them here overrides the operators
///   (constant-folded literal arithmetic such as `0 / 0` still bypasses them).
/// - Crash guards (libjq 1.6 aborts or segfaults): `setpath`/`=`/`|=` with an array index of 2^29 or more
///   (allocation abort; 1.8 says "Array index too large"), `strftime`/`strflocaltime` with a non-string
///   format (assertion), and global regex matching that yields an empty match inside a string with
///   multi-byte characters (segfault; matched here one search at a time with `\K`).
/// - 1.6 repeats an empty global match once per byte between search start and match; `match` drops the
///   repeats and adds 1.8's final empty match at the end of the string.
/// - `leaf_paths`, `recurse_down`, `scalars_or_empty`, `_nwise` are gone in 1.8 (a compile error there);
///   here they raise a runtime error with the same wording.
/// - `input`/`inputs`/`input_filename`/`input_line_number`: Tide has no input callback; libjq 1.6
///   segfaults on `input` and reads uninitialised memory in `input_filename` without one. They answer
///   as jq 1.8.2 under jq.py does (`input` raises "break", `inputs` is empty).
/// - `paths`/`paths(f)` collect their paths before emitting: libjq 1.6 asserts (`path_len == 0` in
///   stack_restore) when a program is stopped after an output emitted from inside `path(...)`
///   (JQProgram.first) and then restarted or torn down.
/// - `_tide_pass`/`_tide_caught` make a 1.6 `try` catch only its body's errors (see JQRewrite); the
///   prelude's own `try`s use them too, or `first`'s `break` would reach their handlers.
/// - `strftime` writes `%Z` as 1.8 does for UTC times ("GMT"; 1.6's libc says "UTC"), and takes a
///   broken-down time of any length, normalised as `mktime` does (1.8: `[] | todate` is
///   "1899-12-31T00:00:00Z", `[2024, 1, 30]` is March 1st; 1.6 refuses fewer than 6 fields).
/// - `have_decnum`/`have_literal_numbers` answer what Ocean's jq answers (true), although libjq 1.6
///   keeps no number literals.
public enum JQPrelude {
    /// One line, no trailing newline: the user's program then starts on line 1, so `$__loc__` and
    /// libjq's error positions need no shifting.
    public static let source = definitions.joined(separator: " ") + " "

    static let definitions: [String] = #"""
        def _tide_error(msg): error(msg);
        def _tide_pass: try . catch _tide_error({"__tide_downstream": .});
        def _tide_caught(h): if type == "object" and has("__tide_downstream") then _tide_error(.__tide_downstream) else h end;
        def _tide_dump: type as $t | tojson | if utf8bytelength <= 29 then . else (reduce explode[] as $c ({n: 0, out: [], done: false}; if .done then . else (if $c < 128 then 1 elif $c < 2048 then 2 elif $c < 65536 then 3 else 4 end) as $w | if .n + $w > 25 then .done = true else .n += $w | .out += [$c] end end) | .out | implode) + "..." + ({"string": "\"", "object": "}", "array": "]"}[$t] // "") end;
        def _tide_typeerr(msg): _tide_error(type + " (" + _tide_dump + ") " + msg);
        def error(msg): msg as $m | if $m == null then _tide_error("null (not a string)") else _tide_error($m) end;
        def error: error(.);
        def _tide_setpath($p; $v): setpath($p; $v);
        def setpath($p; $v): if ($p | type) == "array" and ([$p[] | numbers | select(. >= 536870912)] | length) > 0 then error("Array index too large") else _tide_setpath($p; $v) end;
        def _assign(paths; $v): reduce path(paths) as $p (.; setpath($p; $v));
        def _modify(paths; update): reduce path(paths) as $p ([., []]; . as [$doc, $gone] | label $done | (($doc | getpath($p) | update) as $new | [($doc | setpath($p; $new)), $gone] | ., break $done), [$doc, $gone + [$p]]) | . as [$doc, $gone] | $doc | delpaths($gone);
        def map_values(f): .[] |= f;
        def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; setpath($p; $top | getpath($p)));
        def abs: if type == "number" then (if . < 0 then - . else . end) elif . < 0 then _tide_typeerr("cannot be negated") else . end;
        def ltrim: if type == "string" then .[(match("^\\s*").length):] else error("trim input must be a string") end;
        def rtrim: if type == "string" then .[:(match("\\s*$").offset)] else error("trim input must be a string") end;
        def trim: ltrim | rtrim;
        def ltrimstr($x): if startswith($x) then .[($x | length):] else . end;
        def rtrimstr($x): if endswith($x) then .[:length - ($x | length)] else . end;
        def trimstr($x): ltrimstr($x) | rtrimstr($x);
        def add(f): reduce f as $x (null; . + $x);
        def debug(msgs): (msgs | debug | empty), .;
        def have_decnum: true;
        def have_literal_numbers: true;
        def input_line_number: error("Unknown input line number");
        def input_filename: null;
        def input: error("No more inputs");
        def inputs: empty;
        def fromstream(f): foreach f as $ev ({doc: null, done: false}; (if .done then {doc: null, done: false} else . end) | if ($ev | length) == 2 then .done = ($ev[0] | length == 0) | setpath(["doc"] + $ev[0]; $ev[1]) else .done = ($ev[0] | length == 1) end; if .done then .doc else empty end);
        def toboolean: if type == "boolean" then . elif . == "true" then true elif . == "false" then false else _tide_typeerr("cannot be parsed as a boolean") end;
        def limit($n; f): if $n > 0 then label $stop | foreach f as $x ($n; . - 1; $x, if . <= 0 then break $stop else empty end) elif $n == 0 then empty else error("limit doesn't support negative count") end;
        def skip($n; f): if $n > 0 then foreach f as $x ($n; . - 1; if . < 0 then $x else empty end) elif $n == 0 then f else error("skip doesn't support negative count") end;
        def last(f): reduce f as $x (null; [$x]) | if . == null then empty else .[0] end;
        def nth($n; f): if $n < 0 then error("nth doesn't support negative indices") else first(skip($n; f)) end;
        def isempty(g): first((g | false), true);
        def all(g; cond): isempty(g | cond and empty);
        def any(g; cond): isempty(g | cond or empty) | not;
        def all(cond): all(.[]; cond);
        def any(cond): any(.[]; cond);
        def all: all(.[]; .);
        def any: any(.[]; .);
        def _tide_strindices($i): if $i == "" then [] else (explode | .[$i | explode]) // [] end;
        def indices($i): if type == "array" and ($i | type) == "array" then .[$i] elif type == "array" then .[[$i]] elif type == "string" and ($i | type) == "string" then _tide_strindices($i) else .[$i] end;
        def index($i): indices($i) | .[0];
        def rindex($i): indices($i) | .[-1:][0];
        def _tide_match_impl($re; $flags; $test): if type == "string" and ($flags | type) == "string" and ($flags | contains("g")) and length > \#(JQLimits.globalRegexCharacters) then error("a global regular expression (gsub, scan, splits, split/2, match with \"g\") over a string of \(length) characters: Tide's limit is \#(JQLimits.globalRegexCharacters) characters per call, as libjq 1.6 cannot be stopped inside one") else _match_impl($re; $flags; $test) end;
        def _tide_gmatch($re; $flags): . as $s | length as $n | if $n > \#(JQLimits.globalRegexCharacters) then error("a global regular expression (gsub, scan, splits, split/2, match with \"g\") over a string of \($n) characters: Tide's limit is \#(JQLimits.globalRegexCharacters) characters per call") else . end | def _step($k): if $k > $n then empty else ($s | _tide_match_impl("\\A(?m:.){" + ($k | tostring) + ",}?\\K(?:" + $re + ")"; $flags; false)) as $r | if ($r | length) == 0 then empty else $r[0] | ., _step(if .length == 0 then .offset + 1 else .offset + .length end) end end; _step(0);
        def match($re; $flags): . as $s | (($flags | type) == "string" and ($flags | contains("g"))) as $g | if $g and type == "string" and utf8bytelength != length then (_tide_match_impl($re; null; true) | empty), _tide_gmatch($re; $flags | split("g") | join("")) else _tide_match_impl($re; $flags; false) | if $g then (. as $raw | [range(0; length) as $i | $raw[$i] | select($i == 0 or .length > 0 or $raw[$i - 1].length > 0 or $raw[$i - 1].offset != .offset)]) else . end | .[], (if $g and length > 0 then (.[-1] | .offset + .length) as $stop | if (.[-1].length > 0 and $stop == ($s | length)) or (.[-1].length == 0 and $stop == ($s | length) - 1) then ($s | _tide_match_impl("\\z(?:" + $re + ")"; $flags | split("g") | join(""); false)[]) else empty end else empty end) end;
        def _tide_re_args($val): if ($val | type) == "string" then [$val, null] elif ($val | type) == "array" and ($val | length) > 0 then [$val[0], $val[1]] else error(($val | type) + " not a string or array") end;
        def match($val): _tide_re_args($val) as [$re, $flags] | match($re; $flags);
        def _tide_captures: reduce (.captures[] | select(.name != null)) as $c ({}; . + {($c.name): $c.string});
        def capture($re; $flags): match($re; $flags) | _tide_captures;
        def capture($val): _tide_re_args($val) as [$re, $flags] | capture($re; $flags);
        def scan($re; $flags): match($re; "g" + $flags) | if (.captures | length) > 0 then [.captures[].string] else .string end;
        def scan($re): scan($re; null);
        def splits($re; $flags): . as $s | [0, (match($re; "g" + $flags) | .offset, .offset + .length), ($s | length)] | range(0; length; 2) as $i | $s[.[$i]:.[$i + 1]];
        def splits($re): splits($re; null);
        def split($re; $flags): [splits($re; $flags)];
        def sub($re; s; $flags): . as $in | (reduce match($re; $flags) as $m ({parts: [], at: 0}; $in[.at:$m.offset] as $gap | [$m | _tide_captures | s] as $reps | reduce range(0; $reps | length) as $k (.; .parts[$k] = .parts[$k] + $gap + $reps[$k]) | .at = $m.offset + $m.length) | .parts[] + $in[.at:]) // $in;
        def sub($re; s): sub($re; s; "");
        def gsub($re; s; $flags): sub($re; s; $flags + "g");
        def gsub($re; s): sub($re; s; "g");
        def paths: [path(..)] | .[] | select(length > 0);
        def paths(node_filter): [path(.. | select(node_filter))] | .[] | select(length > 0);
        def walk(f): def _w: (if type == "object" then map_values(_w) elif type == "array" then map(_w) else . end) | f; _w;
        def leaf_paths: error("leaf_paths/0 is not defined");
        def recurse_down: error("recurse_down/0 is not defined");
        def scalars_or_empty: error("scalars_or_empty/0 is not defined");
        def _nwise($n): error("_nwise/1 is not defined");
        def _nwise(a; $n): error("_nwise/2 is not defined");
        def _tide_tonumber: tonumber;
        def tonumber: if type == "string" then (. as $s | if . == "" or test("^[ \\t\\n\\r\\f\\v]|[ \\t\\n\\r\\f\\v]$") then _tide_typeerr("cannot be parsed as a number") else (try (_tide_tonumber | _tide_pass) catch _tide_caught($s | _tide_typeerr("cannot be parsed as a number"))) end) else _tide_tonumber end;
        def _tide_bsearch($t): bsearch($t);
        def bsearch($t): if type == "array" then _tide_bsearch($t) else _tide_typeerr("cannot be searched from") end;
        def _tide_gmtime: gmtime;
        def gmtime: try (_tide_gmtime | _tide_pass) catch _tide_caught(if type == "string" and startswith("errror") then error("e" + .[2:]) else error end);
        def _tide_mktime: mktime;
        def mktime: if type == "array" and length < 8 and all(.[]; type == "number") then (. as $a | [1900, 0, 0, 0, 0, 0, 0, 0] | to_entries | map($a[.key] // .value)) | .[0] |= ((. - 1900) | trunc) + 1900 | _tide_mktime else _tide_mktime end;
        def _tide_strftime($f): strftime($f);
        def strftime($f): if ($f | type) != "string" then error("strftime/1 requires a string format") else ($f | split("%%") | map(split("%Z") | join("GMT")) | join("%%")) as $g | if type == "number" then gmtime | _tide_strftime($g) elif type == "array" then (if all(.[]; type == "number") then mktime | gmtime | _tide_strftime($g) else error("strftime/1 requires parsed datetime inputs") end) else _tide_strftime($g) end end;
        def _tide_strflocaltime($f): strflocaltime($f);
        def strflocaltime($f): if ($f | type) != "string" then error("strflocaltime/1 requires a string format") elif type == "number" then localtime | _tide_strflocaltime($f) else _tide_strflocaltime($f) end;
        def todate: strftime("%Y-%m-%dT%H:%M:%SZ");
        def todateiso8601: todate;
        def _tide_multiply(a; b): a * b;
        def _multiply(a; b): b as $b | a as $a | if ($a | type) == "number" and ($b | type) == "number" then _tide_multiply($a; $b) elif ($a | type) == "string" and ($b | type) == "number" and ($a | utf8bytelength) * $b > \#(JQLimits.stringBytes) then error("Repeat string result too long") elif ($a | type) == "number" and ($b | type) == "string" and ($b | utf8bytelength) * $a > \#(JQLimits.stringBytes) then error("Repeat string result too long") elif ($a | type) == "string" and ($b | type) == "number" and $b >= 0 and $b < 1 then "" elif ($a | type) == "number" and ($b | type) == "string" and $a >= 0 and $a < 1 then "" else _tide_multiply($a; $b) end;
        def _tide_divide(a; b): a / b;
        def _divide(a; b): b as $b | a as $a | if $a == 0 and $b == 0 then error("number (0) and number (0) cannot be divided because the divisor is zero") else _tide_divide($a; $b) end;
        def _tide_hex: explode | map(if . >= 97 then . - 87 elif . >= 65 then . - 55 else . - 48 end) | .[0] * 16 + .[1];
        def _tide_utf8: reduce .[] as $b ({cps: [], need: 0, cp: 0}; if .need > 0 then (if $b >= 128 and $b < 192 then .cp = .cp * 64 + $b - 128 | .need -= 1 | if .need == 0 then .cps += [.cp] else . end else error("bad") end) elif $b < 128 then .cps += [$b] elif $b >= 194 and $b < 224 then .need = 1 | .cp = $b - 192 elif $b >= 224 and $b < 240 then .need = 2 | .cp = $b - 224 elif $b >= 240 and $b < 245 then .need = 3 | .cp = $b - 240 else error("bad") end) | if .need > 0 then error("bad") else .cps | implode end;
        def _tide_urid: tostring as $in | try (split("%") as $p | reduce $p[1:][] as $piece ({text: $p[0], bytes: []}; if ($piece | test("^[0-9A-Fa-f]{2}")) then . else error("bad") end | .bytes += [$piece[:2] | _tide_hex] | if ($piece | length) > 2 then .text += (.bytes | _tide_utf8) + $piece[2:] | .bytes = [] else . end) | .text + (.bytes | _tide_utf8) | _tide_pass) catch _tide_caught($in | _tide_typeerr("is not a valid uri encoding"));
        def _tide_format($f): format($f);
        def format($f): if $f == "text" then tostring elif $f == "uri" then _tide_format("uri") | split("!") | join("%21") | split("*") | join("%2A") | split("'") | join("%27") | split("(") | join("%28") | split(")") | join("%29") elif $f == "urid" then _tide_urid elif $f == "base32" or $f == "base32d" then error($f + " is not a valid format") else _tide_format($f) end;
        """#.split(separator: "\n").map { String($0.drop(while: { $0 == " " })) }

    /// The definitions `program` can reach, in prelude order: those it names, those they name in
    /// turn, and those libjq's parser calls for its operators. Compiling the whole prelude costs
    /// milliseconds per program (libjq parses it every time); most programs need a few lines of it.
    /// Over-inclusion is harmless, so the name scan is deliberately loose.
    public static func source(for program: String) -> String {
        var wanted = names(in: program)
        var pending = Array(wanted)
        while let name = pending.popLast() {
            for index in byName[name] ?? [] {
                for reference in entries[index].references where !wanted.contains(reference) {
                    wanted.insert(reference)
                    pending.append(reference)
                }
            }
        }
        var text = ""
        for entry in entries where wanted.contains(entry.name) { text += entry.text + " " }
        return text
    }

    struct Entry {
        var name: String
        var text: String
        var references: Set<String>
    }

    static let entries: [Entry] = definitions.map { line in
        let afterDef = line.dropFirst(4)
        let name = String(afterDef.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        return Entry(name: name, text: line, references: names(in: line))
    }

    static let byName: [String: [Int]] = Dictionary(grouping: entries.indices, by: { entries[$0].name })

    /// Identifiers in `text`, plus the hidden functions its operators compile to.
    static func names(in text: String) -> Set<String> {
        var found = Set<String>()
        var current = ""
        for character in text.unicodeScalars {
            if character.properties.isAlphabetic || character == "_" || (!current.isEmpty && ("0"..."9").contains(character)) {
                current.unicodeScalars.append(character)
            } else if !current.isEmpty {
                found.insert(current)
                current = ""
            }
        }
        if !current.isEmpty { found.insert(current) }
        if text.contains("=") { found.formUnion(["_assign", "_modify"]) }
        if text.contains("*") { found.insert("_multiply") }
        if text.contains("/") { found.insert("_divide") }
        if text.contains("@") || text.contains("\\(") { found.insert("format") }
        return found
    }

    /// Appended after the prelude when environment access is switched off, as Ocean does.
    static let withoutEnvironment = "def env: {}; {} as $ENV | "
}
