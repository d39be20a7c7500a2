import Foundation
import Testing
import TideFetch
import TideJQ
import TideTesting

/// Kinds read as partitions (and parent records) side by side: the union of the runs is what
/// the API holds, a failing run fails the kind, and a count that shows records missing makes the
/// kind read once more unpartitioned.
@Suite struct PartitionTests {
    /// `project` lists three projects over two pages; `issue` is read once per project.
    static func projectKinds(partitions: String, concurrency: Int = 4) -> String {
        """
        project:
          request: {path: /projects}
          records: .values
          pagination: {type: offset, offsetParam: startAt, limit: 2}
        issue:
          request:
            path: /issues
            query:
              project: "{{ .partition }}"
          records: .values
          concurrency: \(concurrency)
          partitions:
        \(partitions.indented(4))
        """
    }

    static func projectFixtures(delay: Duration = .milliseconds(60)) -> [Fixture] {
        func delayed(_ response: TestResponse) -> TestResponse {
            var response = response
            response.delay = delay
            return response
        }
        return [
            Fixture(match: get("/projects", ["startAt": "0"]), response: .json(#"{"values": [{"key": "A"}, {"key": "B"}]}"#)),
            Fixture(match: get("/projects", ["startAt": "2"]), response: .json(#"{"values": [{"key": "C"}]}"#)),
            Fixture(match: get("/issues", ["project": "A"]), response: delayed(page([1, 2]))),
            Fixture(match: get("/issues", ["project": "B"]), response: delayed(page([3]))),
            Fixture(match: get("/issues", ["project": "C"]), response: delayed(page([4, 5, 6]))),
        ]
    }

    @Test func partitionsFromAnotherKindCoverItsRecordsSideBySide() async throws {
        let yaml = integrationYAML(kinds: Self.projectKinds(partitions: "fromKind: project\nvalue: .key\ncomplete: true"))
        let harness = try await Harness.start(yaml, fixtures: Self.projectFixtures(delay: .milliseconds(300)))
        let source = try harness.resyncSource("issue")
        let outcome = await drain(source)
        #expect(outcome.error == nil)
        #expect(outcome.ids.sorted() == ["1", "2", "3", "4", "5", "6"])
        let projects = harness.server.requests.filter { $0.path == "/issues" }.compactMap { $0.queryValue("project") }
        #expect(projects.sorted() == ["A", "B", "C"], "each partition read once: \(projects)")
        #expect(harness.server.maxConcurrentRequests > 1, "partitions overlapped")
        #expect(source.runs == { var counts = RunCounts(); counts.started = 3; counts.finished = 3; counts.listed = true; return counts }())
        #expect(harness.server.unmatchedRequests.isEmpty)
        await harness.stop()
    }

    /// Concurrency 1 reads the same records as concurrency 4, one partition after the other.
    @Test func oneAtATimeReadsTheSameRecords() async throws {
        var results: [[String]] = []
        for concurrency in [1, 4] {
            let yaml = integrationYAML(kinds: Self.projectKinds(partitions: "fromKind: project\nvalue: .key\ncomplete: true", concurrency: concurrency))
            let harness = try await Harness.start(yaml, fixtures: Self.projectFixtures(delay: .milliseconds(20)))
            let outcome = await drain(try harness.resyncSource("issue"))
            #expect(outcome.error == nil)
            if concurrency == 1 { #expect(harness.server.maxConcurrentRequests == 1) }
            results.append(outcome.ids.sorted())
            await harness.stop()
        }
        #expect(results.count == 2 && results[0] == results[1] && results[0].count == 6)
    }

    @Test func aFailingPartitionFailsTheKind() async throws {
        let yaml = integrationYAML(kinds: Self.projectKinds(partitions: "fromKind: project\nvalue: .key\ncomplete: true"))
        var fixtures = Self.projectFixtures()
        fixtures[3] = Fixture(match: get("/issues", ["project": "B"]), response: TestResponse(status: 403, body: Array(#"{"errorMessages":["no"]}"#.utf8)))
        let harness = try await Harness.start(yaml, fixtures: fixtures)
        let outcome = await drain(try harness.resyncSource("issue"))
        let error = try #require(outcome.error)
        #expect(error.status == 403)
        #expect(error.description.contains("project=B"), "names the partition's request: \(error.description)")
        await harness.stop()
    }

    @Test func aFailureListingThePartitionsFailsTheKind() async throws {
        let yaml = integrationYAML(kinds: Self.projectKinds(partitions: "fromKind: project\nvalue: .key\ncomplete: true"))
        var fixtures = Self.projectFixtures()
        fixtures[1] = Fixture(match: get("/projects", ["startAt": "2"]), response: .json(#"{"errorMessages": ["boom"]}"#))
        let harness = try await Harness.start(yaml, fixtures: fixtures)
        let outcome = await drain(try harness.resyncSource("issue"))
        let error = try #require(outcome.error)
        #expect(error.reason == .unexpectedRecords)
        #expect(error.description.contains("issue"), "says whose partitions failed: \(error.description)")
        await harness.stop()
    }

    /// Fewer records than the API counts: the kind is read once more unpartitioned.
    @Test func aShortCountReadsTheKindWhole() async throws {
        for (count, wholeRead) in [(7, true), (6, false)] {
            let partitions = """
            fromKind: project
            value: .key
            count:
              request: {path: /count}
              value: .total
            """
            var fixtures = Self.projectFixtures(delay: .milliseconds(5))
            fixtures.insert(Fixture(match: get("/count"), response: .json("{\"total\": \(count)}")), at: 0)
            // Read whole (no project parameter: `.partition` is null, which drops it), one more issue.
            fixtures.append(Fixture(match: get("/issues"), response: page([1, 2, 3, 4, 5, 6, 7])))
            let harness = try await Harness.start(integrationYAML(kinds: Self.projectKinds(partitions: partitions)), fixtures: fixtures)
            let source = try harness.resyncSource("issue")
            let outcome = await drain(source)
            #expect(outcome.error == nil)
            let whole = harness.server.requests.filter { $0.path == "/issues" && $0.queryValue("project") == nil }
            #expect(whole.count == (wholeRead ? 1 : 0), "count \(count)")
            #expect(Set(outcome.ids) == Set((1...(wholeRead ? 7 : 6)).map(String.init)))
            #expect(source.notes.count == (wholeRead ? 1 : 0))
            if wholeRead { #expect(source.notes.first?.contains("counts 7") == true) }
            await harness.stop()
        }
    }

    @Test func fixedValuesFromTheConfiguration() async throws {
        let yaml = integrationYAML(kinds: """
            item:
              request: {path: "/regions/{{ .partition }}/items"}
              records: .values
              partitions:
                values: .config.regions | split(",")
                complete: true
            """, configuration: "- {name: regions, type: string}")
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: get("/regions/eu/items"), response: page([1])),
            Fixture(match: get("/regions/us/items"), response: page([2, 3])),
        ], config: ["regions": jsonString("eu,us,eu")])
        let outcome = await drain(try harness.resyncSource("item"))
        #expect(outcome.error == nil)
        #expect(outcome.ids.sorted() == ["1", "2", "3"])
        #expect(harness.server.requests.count == 2, "a repeated value is one partition")
        await harness.stop()
    }

    /// Date windows cover every instant: the first is open below, the last above, and each ends
    /// where the next begins.
    @Test func dateWindowsLeaveNoGap() async throws {
        let start = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3.5 * 86_400))
        let yaml = integrationYAML(kinds: """
            item:
              request:
                path: /items
                query:
                  since: "{{ .partition.from }}"
                  until: "{{ .partition.to }}"
              records: .values
              partitions:
                dateWindows: {start: "\(start)", days: 1}
            """)
        let harness = try await Harness.start(yaml, fixtures: [Fixture(match: get("/items"), response: page([]))])
        let outcome = await drain(try harness.resyncSource("item"))
        #expect(outcome.error == nil)
        let windows = harness.server.requests.map { (since: $0.queryValue("since").flatMap { Int($0) }, until: $0.queryValue("until").flatMap { Int($0) }) }
            .sorted { ($0.since ?? Int.min) < ($1.since ?? Int.min) }
        #expect(windows.count == 5, "before start, three whole days, and the rest: \(windows)")
        #expect(windows.first?.since == nil && windows.last?.until == nil)
        var joined = 0
        for (earlier, later) in zip(windows, windows.dropFirst()) where earlier.until == later.since && earlier.until != nil { joined += 1 }
        #expect(joined == windows.count - 1)
        await harness.stop()
    }

    /// A kind with a parent reads its parents' runs side by side, each parent once.
    @Test func childRunsOfParentsSideBySide() async throws {
        let yaml = integrationYAML(kinds: """
            project:
              request: {path: /projects}
              records: .values
              pagination: {type: offset, offsetParam: startAt, limit: 2}
            issue:
              parent: project
              request:
                path: /issues
                query:
                  project: "{{ .parent.key }}"
              records: ".values | map(. + {project: $parent.key})"
            """)
        let harness = try await Harness.start(yaml, fixtures: Self.projectFixtures(delay: .milliseconds(300)))
        let source = try harness.resyncSource("issue")
        var projects: [String: String] = [:]
        while let page = try await source.next() {
            for record in page.records { projects[record["id"]!.serialized()] = record["project"]?.stringValue }
        }
        #expect(projects == ["1": "A", "2": "A", "3": "B", "4": "C", "5": "C", "6": "C"])
        #expect(harness.server.maxConcurrentRequests > 1)
        await harness.stop()
    }
}
