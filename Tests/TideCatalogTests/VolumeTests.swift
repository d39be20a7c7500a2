import Foundation
import Testing
import TideCatalog
import TideModel

/// Volume, not speed (speed is measured in Benchmarks/): 100k entities in batches of 500 take the
/// plain insert path, then the merge path, and every one is accounted for. PostgreSQL, whose
/// statements are round trips to a server, gets 5k: what is tested is the same.
@Suite struct VolumeTests {
    @Test(arguments: backends) func upsertsManyEntitiesInBatches(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let count = backend == .sqlite ? 100_000 : 5_000, batchSize = 500
            let entities = (0..<count).map { index in
                entity("entity-\(index)", title: "\"Entity \(index)\"",
                       properties: #"{"index":\#(index),"status":"open","labels":["a","b"]}"#,
                       relations: #"{"project":"project-\#(index % 100)"}"#)
            }
            var created = 0
            do {
                for start in stride(from: 0, to: count, by: batchSize) {
                    let results = try catalog.upsert(Array(entities[start..<min(start + batchSize, count)]),
                                                     datasource: jiraDatasource.userAgent, at: t0)
                    created += results.filter { $0.outcome == .created }.count
                }
            }
            #expect(created == count)
            var updated = 0
            do {
                for start in stride(from: 0, to: count, by: batchSize) {
                    let results = try catalog.upsert(Array(entities[start..<min(start + batchSize, count)]),
                                                     datasource: jiraDatasource.userAgent, at: t1)
                    updated += results.filter { $0.outcome == .updated }.count
                }
            }
            #expect(updated == count)
            #expect(try catalog.entityCount() == count)
            let sample = try #require(try catalog.entity(blueprint: "service", identifier: "entity-\(count - 1)"))
            #expect(sample.relations.text == #"{"project":"project-99"}"#)
        }
    }
}
