import Foundation
import Testing
import TideCatalog
import TideModel
import TideTesting

/// Runs the real `tide catalog import`, kills it with SIGKILL while it writes, and checks that
/// the catalog holds only whole batches of whole entities: one transaction per batch, in the
/// SQLite file and in PostgreSQL alike.
@Suite struct KillSafetyTests {
    static let total = 200_000
    /// PostgreSQL takes a batch more slowly, so fewer entities still outlast the kill.
    static let totalForPostgreSQL = 50_000
    static let batchSize = 500

    static func line(_ index: Int) -> String {
        #"{"identifier":"e-\#(index)","blueprint":"svc","title":"Entity \#(index)","properties":\#(properties(index)),"relations":\#(relations(index))}"#
    }
    static func properties(_ index: Int) -> String { #"{"index":\#(index),"name":"entity-\#(index)","padding":"\#(String(repeating: "x", count: 64))"}"# }
    static func relations(_ index: Int) -> String { #"{"owner":"team-\#(index % 10)"}"# }

    // Synchronous on purpose: once started, the polling loop owns its thread, so other tests
    // saturating the shared task pool cannot delay the kill until the import has finished.
    @Test(arguments: backends) func killedImportLeavesWholeBatches(_ backend: Backend) throws {
        let binary = try TideBinary.url
        try #require(FileManager.default.isExecutableFile(atPath: binary.path),
                     "the tide binary is missing at \(binary.path); run `swift build` (with the same --scratch-path) before the tests")
        try withTemporaryFolder { folder in
            let input = folder.appendingPathComponent("entities.jsonl")
            var database = folder.appendingPathComponent("catalog.sqlite").path
            var scratch: Catalog?
            defer { try? scratch?.dropSchema() }
            if backend == .postgresql {
                // An empty catalog in a schema of its own, which the URL selects.
                let schema = TestPostgres.schemaName()
                scratch = try Catalog(postgreSQL: try TestPostgres.requireURL(), schema: schema)
                database = try TestPostgres.url(schema: schema)
            }
            let total = backend == .sqlite ? Self.total : Self.totalForPostgreSQL
            FileManager.default.createFile(atPath: input.path, contents: nil)
            let writer = try FileHandle(forWritingTo: input)
            var chunk = ""
            for index in 0..<total {
                chunk += Self.line(index) + "\n"
                if chunk.utf8.count > 1 << 20 { writer.write(Data(chunk.utf8)); chunk = "" }
            }
            writer.write(Data(chunk.utf8))
            try writer.close()

            let process = Process()
            process.executableURL = binary
            process.arguments = ["catalog", "import", "--catalog", database, "--batch-size", String(Self.batchSize), input.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try TideProcess.launch(process)

            // Wait until several batches are committed, reading through a second connection.
            var seen = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while seen < 10 * Self.batchSize, process.isRunning, ContinuousClock.now < deadline {
                usleep(10_000)
                guard backend == .postgresql || FileManager.default.fileExists(atPath: database),
                      let catalog = try? Catalog.open(database, create: false) else { continue }
                seen = (try? catalog.entityCount()) ?? 0
            }
            // A little longer, so the kill lands inside a later batch rather than between two.
            usleep(37_000)
            let wasRunning = process.isRunning
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try #require(wasRunning, "the import finished (status \(process.terminationStatus)) before it could be killed; raise `total`")
            #expect(process.terminationReason == .uncaughtSignal)

            let catalog = try Catalog.open(database, create: false)
            #expect(try catalog.integrityCheck() == "ok")
            let count = try catalog.entityCount()
            print("kill safety (\(backend)): saw \(seen) entities committed, killed, found \(count) of \(total)")
            #expect(count >= seen, "batches seen committed before the kill survive it")
            #expect(count < total)
            #expect(count % Self.batchSize == 0, "\(count) entities is not a whole number of batches of \(Self.batchSize)")
            // Batches are written in input order, so exactly entities 0..<count exist, each complete.
            var incomplete: [String] = []
            var identifiers = Set<String>()
            try catalog.forEachEntity(blueprint: "svc") { stored in
                identifiers.insert(stored.identifier)
                guard let index = Int(stored.identifier.dropFirst(2)),
                      stored.title == RawJSON("\"Entity \(index)\""),
                      stored.properties.text == Self.properties(index),
                      stored.relations.text == Self.relations(index),
                      stored.datasource != nil else {
                    incomplete.append(stored.jsonText)
                    return
                }
            }
            #expect(incomplete.isEmpty, "incomplete entities: \(incomplete.prefix(3))")
            #expect(identifiers == Set((0..<count).map { "e-\($0)" }))
        }
    }
}
