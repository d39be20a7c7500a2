import Foundation
import Testing
import TideJQ

/// Work the watchdog's clock cannot stop (one long builtin call) is bounded by size instead.
@Suite struct BoundsTests {
    var long: JSON { JSON(object: ["a": JSON(String(repeating: "a", count: 300_000)),
                                    "u": JSON("é" + String(repeating: "a", count: 300_000))]) }

    @Test func globalRegularExpressionsRefuseHugeStrings() throws {
        let programs = [#".a | gsub("a"; "b")"#, #"[.a | splits("a")]"#, #".a | split("a"; null)"#, #"[.a | scan("a")]"#,
                        #"[.a | match("a"; "g")]"#, #".u | gsub("a"; "b")"#]
        var compared = 0
        for source in programs {
            let input = long
            #expect(throws: JQRuntimeError.self, "\(source)") { _ = try JQProgram(source).first(input) }
            do { _ = try JQProgram(source).first(long) } catch let error as JQRuntimeError {
                #expect(error.description.contains("limit is \(JQLimits.globalRegexCharacters) characters per call"), "\(source): \(error)")
            }
            compared += 1
        }
        #expect(compared == programs.count)
        // Below the limit, and without "g", nothing changes.
        let short = JSON(object: ["a": JSON(String(repeating: "a", count: 1000))])
        #expect(try JQProgram(#".a | gsub("a"; "b") | length"#).first(short)?.numberValue == 1000)
        #expect(try JQProgram(#".a | test("b")"#).first(long)?.boolValue == false)
        #expect(try JQProgram(#".a | sub("a"; "b") | .[0:2]"#).first(long)?.stringValue == "ba")
    }

    @Test func repeatingAStringPastTheLimitIsAnError() throws {
        do {
            _ = try JQProgram(#".a * 1000"#).first(long)
            Issue.record("a 300 MB string was built")
        } catch let error as JQRuntimeError {
            // jq 1.8's own words for a repetition too long (its limit is higher: docs/jq.md).
            #expect(error.description == "Repeat string result too long", "\(error)")
        }
        #expect(try JQProgram(#""ab" * 3"#).first(.null)?.stringValue == "ababab")
    }

    /// `input` has nothing to read in a mapping: jq 1.8's words, not libjq's internal "break".
    @Test func inputInAMappingSaysThereIsNoInput() throws {
        do {
            _ = try JQProgram("input").first(.null)
            Issue.record("input gave a value")
        } catch let error as JQRuntimeError {
            #expect(error.description == "No more inputs")
        }
    }
}
