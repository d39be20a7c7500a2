import Foundation
import Testing
@testable import TideCatalog
import TideCore
import TideJQ
import TideModel

/// What only the PostgreSQL catalog has: a server to reach, a schema shared with other
/// applications and with other Tide processes. (Its Port semantics are the shared behaviour
/// tests, run against both engines.) One test at a time: they block their thread on the server
/// (deadlock detection, row locks), and the suites that wait on loopback servers need the rest.
@Suite(.enabled(if: TestPostgres.url != nil || TestPostgres.required, "needs TIDE_TEST_POSTGRES_URL (scripts/with-postgres.sh)"),
       .serialized)
struct PostgreSQLTests {
    /// Raw SQL on the test server, in `schema` when given.
    func sql(_ text: String, schema: String? = nil) throws {
        let connection = try PostgreSQLConnection(url: try TestPostgres.requireURL(), schema: schema)
        try connection.execute(text)
    }

    /// The test server's URL with another password.
    func url(password: String) throws -> String {
        let url = try TestPostgres.requireURL().value
        let scheme = try #require(url.range(of: "://"))
        let at = try #require(url.range(of: "@"))
        let user = url[scheme.upperBound..<at.lowerBound].split(separator: ":").first ?? ""
        return String(url[..<scheme.upperBound]) + user + ":" + password + String(url[at.lowerBound...])
    }

    @Test func passwordsAreMaskedInEveryForm() {
        #expect(PostgreSQLURL.redact("postgresql://tide:s3cret@db:5432/tide") == "postgresql://tide:***@db:5432/tide")
        #expect(PostgreSQLURL.redact("postgres://tide:p%40ss@db/tide?sslmode=require&password=x&application_name=a")
                == "postgres://tide:***@db/tide?sslmode=require&password=***&application_name=a")
        #expect(PostgreSQLURL.redact("postgresql://tide@db/tide") == "postgresql://tide@db/tide")
        #expect(PostgreSQLURL.redact("postgresql:///tide?host=/run/postgresql") == "postgresql:///tide?host=/run/postgresql")
        #expect(PostgreSQLURL.redact(".tide/catalog.sqlite") == ".tide/catalog.sqlite")
        #expect(Catalog.isPostgreSQL("POSTGRES://x/y") && !Catalog.isPostgreSQL("catalog.sqlite"))
    }

    @Test func aServerThatIsNotThereIsNamedWithoutThePassword() throws {
        let password = "pw-\(UUID().uuidString)"
        let error = #expect(throws: CatalogError.self) { try Catalog.open("postgresql://tide:\(password)@127.0.0.1:1/tide") }
        #expect(error?.kind == .unreachable)
        let text = error?.description ?? ""
        #expect(text.contains("postgresql://tide:***@127.0.0.1:1/tide"), "\(text)")
        #expect(text.contains("\"127.0.0.1\", port 1"), "\(text)")
        #expect(!text.contains(password))
    }

    @Test func aWrongPasswordIsReportedWithoutIt() throws {
        let password = "wrong-\(UUID().uuidString)"
        let error = #expect(throws: CatalogError.self) { try Catalog.open(try url(password: password)) }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("password authentication failed") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(password) == false)
    }

    @Test func readingDoesNotCreateTheTables() throws {
        let schema = TestPostgres.schemaName()
        let error = #expect(throws: CatalogError.self) {
            try Catalog(postgreSQL: try TestPostgres.requireURL(), schema: schema, create: false)
        }
        #expect(error?.kind == .missing)
        // The schema exists but is empty: still missing, and still not created.
        try sql("CREATE SCHEMA \(schema)")
        defer { try? sql("DROP SCHEMA \(schema) CASCADE") }
        let again = #expect(throws: CatalogError.self) { try Catalog.open(try TestPostgres.url(schema: schema), create: false) }
        #expect(again?.kind == .missing)
        #expect(again?.description.contains("tide catalog import") == true)
    }

    @Test func anotherApplicationsTablesAreRefusedAndLeftAlone() throws {
        let schema = TestPostgres.schemaName()
        try sql("CREATE SCHEMA \(schema); CREATE TABLE \(schema).entities (id int); INSERT INTO \(schema).entities VALUES (7)")
        defer { try? sql("DROP SCHEMA \(schema) CASCADE") }
        let error = #expect(throws: CatalogError.self) { try Catalog.open(try TestPostgres.url(schema: schema)) }
        #expect(error?.kind == .notACatalog)
        let connection = try PostgreSQLConnection(url: try TestPostgres.requireURL(), schema: schema)
        #expect(try connection.rows("SELECT id FROM entities") == [[.integer(7)]])
        #expect(try connection.integer("SELECT count(*) FROM pg_tables WHERE schemaname = ?", [.text(schema)]) == 1)
    }

    @Test func aNewerSchemaIsRefused() throws {
        try withCatalog(.postgresql) { catalog in
            let schema = try #require((catalog.connection as? PostgreSQLConnection)?.schema)
            try sql("UPDATE tide_schema SET version = 99", schema: schema)
            let error = #expect(throws: CatalogError.self) { try reopen(catalog) }
            #expect(error?.kind == .newerSchema)
            #expect(error?.description.contains("schema 99") == true)
        }
    }

    /// Many openers of one new catalog at once: one creates the tables, the others wait on the
    /// advisory lock and find them made.
    @Test func concurrentOpenersMigrateOnce() throws {
        let schema = TestPostgres.schemaName()
        defer { try? sql("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        let url = try TestPostgres.requireURL()
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do { _ = try Catalog(postgreSQL: url, schema: schema) } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.current.isEmpty, "\(failures.current)")
        let connection = try PostgreSQLConnection(url: url, schema: schema)
        #expect(try connection.rows("SELECT version FROM tide_schema") == [[.integer(Int64(Catalog.schemaVersion))]])
    }

    /// Two writers merging into one entity at the same moment: every key of both survives, as
    /// the merge reads the row locked (no lost update).
    @Test func concurrentMergesIntoOneEntityLoseNothing() throws {
        try withCatalog(.postgresql) { catalog in
            _ = try catalog.upsertOne(entity("shared", properties: #"{"seed":true}"#))
            let writers = [catalog, try reopen(catalog), try reopen(catalog)]
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: writers.count) { writer in
                for round in 0..<40 {
                    do {
                        let result = try writers[writer].upsertOne(entity("shared", properties: #"{"w\#(writer)-\#(round)":\#(round)}"#))
                        if let reason = result.failureReason { failures.withLock { $0.append(reason) } }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            #expect(failures.current.isEmpty, "\(failures.current.prefix(3))")
            let stored = try #require(try catalog.entity(blueprint: "service", identifier: "shared"))
            let keys = Set(try JSON(parsing: stored.properties.text).objectMembers.map(\.key))
            #expect(keys.count == 1 + writers.count * 40, "lost \(1 + writers.count * 40 - keys.count) keys")
        }
    }

    /// Pages that write the same entities in opposite orders deadlock in PostgreSQL; the loser's
    /// transaction is retried, so both pages land whole.
    @Test func pagesInOppositeOrdersAreRetriedAfterADeadlock() throws {
        try withCatalog(.postgresql) { catalog in
            let keys = (0..<200).map { "e\($0)" }
            let writers = [catalog, try reopen(catalog)]
            let failures = Locked<[String]>([])
            // Both writers start each round together, so their pages overlap in time.
            let arrived = Locked<[Int]>([0, 0])
            DispatchQueue.concurrentPerform(iterations: 2) { writer in
                let order = writer == 0 ? keys : keys.reversed()
                for round in 0..<8 {
                    arrived.withLock { $0[writer] = round + 1 }
                    while arrived.current[1 - writer] < round + 1 { usleep(100) }
                    do {
                        let results = try writers[writer].upsert(order.map { entity($0, properties: #"{"w\#(writer)":\#(round)}"#) },
                                                                  datasource: "writer-\(writer)")
                        if results.contains(where: { !$0.succeeded }) { failures.withLock { $0.append("an entity failed") } }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            #expect(failures.current.isEmpty, "\(failures.current.prefix(3))")
            let retried = writers.compactMap { ($0.connection as? PostgreSQLConnection)?.retriedTransactions }.reduce(0, +)
            print("opposite orders: \(retried) transactions retried after a deadlock")
            #expect(retried > 0, "no deadlock happened, so the retry was not exercised")
            for stored in try catalog.entities() {
                #expect(sameJSON(stored.properties, #"{"w0":7,"w1":7}"#), "\(stored.jsonText)")
            }
        }
    }

    /// A search the server rejects part-way through a page (a stored string PostgreSQL cannot
    /// turn into text) fails that entity alone; the page's transaction goes on.
    @Test func aSearchTheServerRejectsFailsOnlyItsEntity() throws {
        try withCatalog(.postgresql) { catalog in
            _ = try catalog.upsertOne(entity("odd", properties: #"{"name":"a\u0000b"}"#))
            let results = try catalog.upsert([
                entity("before"),
                searchEntity(#"{"combinator":"and","rules":[{"property":"name","operator":"=","value":"x"}]}"#),
                entity("after"),
            ], datasource: nil)
            #expect(results.map(\.succeeded) == [true, false, true])
            #expect(results[1].failureReason?.contains("failed") == true, "\(results[1].failureReason ?? "")")
            #expect(try catalog.entities().map(\.identifier) == ["after", "before", "odd"])
        }
    }

    /// Values PostgreSQL would refuse (aborting the page) are refused per entity beforehand.
    @Test func valuesTheServerWouldRefuseFailTheirEntityOnly() throws {
        try withCatalog(.postgresql) { catalog in
            let results = try catalog.upsert([
                entity("nul-\u{0}-inside"),
                entity(String(repeating: "k", count: 3000)),
                entity("bad-title", title: "{oops"),
                entity("fine"),
            ], datasource: nil)
            #expect(results.map(\.succeeded) == [false, false, false, true])
            #expect(results[0].failureReason?.contains("NUL") == true)
            #expect(results[1].failureReason?.contains("at most") == true)
            #expect(results[2].failureReason?.contains("not valid JSON") == true)
            #expect(try catalog.entityCount() == 1)
        }
    }

    @Test func jsonSyntaxIsCheckedStrictly() {
        #expect(JSONSyntax.kind(of: #" {"a": [1, -2.5e3, true, null, "x\n\u00e9"]} "#) == .object)
        #expect(JSONSyntax.kind(of: "\"s\"") == .string)
        #expect(JSONSyntax.kind(of: "0") == .number)
        for bad in ["", "{", "{\"a\":}", "[1,]", "01", "1.", "nan", "'x'", "{\"a\":1}x", "\"\u{1}\"", "\"\\x\"", "tru"] {
            #expect(JSONSyntax.kind(of: bad) == nil, "\(bad)")
        }
    }
}
