import Foundation
import TideCatalog
import TideCore
import TideHTTP
import TideModel

/// Port's API as a resync's sink, writing and reconciling exactly as Ocean's
/// `HttpEntitiesStateApplier` does.
///
/// Ocean's threshold is not "stale / owned": it is stale / (entities listed by
/// `datasource-entities` with `before` = resync start). Port moves `updatedAt` only for entities
/// actually sent, so the base holds the stale entities plus those skipped as unchanged. The sink
/// therefore remembers every entity the resync produced (Ocean's "reduced" copy: key and
/// relations) and reports `ownedBefore` = the listing's size, which reproduces Ocean's numbers.
/// Unlike Ocean it keeps that record on disk (`EntityLedger`), so memory does not grow with the
/// number of entities.
public final class PortSink: EntitySink {
    public let client: PortClient
    /// Ocean's `upsert_entities_batch_max_length` and `…_max_size_in_bytes`.
    public let batchMaxLength: Int
    public let batchMaxBytes: Int

    private struct State {
        var resyncID = UUID().uuidString.lowercased()
        /// Entities this resync produced, with their relations, for reconciliation.
        var produced: EntityLedger?
        /// Why the record of produced entities is incomplete, if it is: then nothing may be
        /// deleted on its account.
        var ledgerFailure: String?
        var blueprintRelations: [String: [String: String]] = [:]
        var deleteFailures: [String] = []
        var skippedUnchanged = 0
    }
    private let state = Locked(State())

    public init(client: PortClient, batchMaxLength: Int = 20, batchMaxBytes: Int = 1_048_576) {
        self.client = client
        self.batchMaxLength = batchMaxLength
        self.batchMaxBytes = batchMaxBytes
    }

    /// Entities the last resync skipped because Port already held them unchanged.
    public var skippedUnchanged: Int { state.current.skippedUnchanged }
    /// Bulk deletes Port refused (Ocean logs them and goes on).
    public var deleteFailures: [String] { state.current.deleteFailures }

    var eventQuery: [(String, String)] {
        [("ocean_info_event_type", "resync"), ("ocean_info_resync_id", state.current.resyncID)]
    }

    // MARK: EntitySink

    /// Blueprints are created by `PortIntegrationLifecycle` at start-up, as Ocean does; here a new
    /// resync only forgets what the previous one produced.
    public func prepare(blueprints: [Blueprint]) async throws {
        let ledger = try EntityLedger()
        state.withLock { state in
            state = State()
            state.produced = ledger
        }
    }

    /// The resync's ledger, made on first use when `prepare` was not called.
    private func ledger() throws -> EntityLedger {
        if let ledger = state.current.produced { return ledger }
        let made = try EntityLedger()
        return state.withLock { state in
            if let ledger = state.produced { return ledger }
            state.produced = made
            return made
        }
    }

    /// Several pages of a resource at once, each page's batches all at once as Ocean sends them:
    /// Port answers a bulk upsert in tens of milliseconds to seconds, which would otherwise pace a
    /// resync whose pages arrive side by side. Four pages of up to three batches each stay within
    /// the connections Ocean itself opens (5–13 were seen).
    public var pagesInFlight: Int { 4 }

    public func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        var results = [UpsertResult?](repeating: nil, count: entities.count)
        // Ocean compares with Port only for pages of more than 10 entities without search queries.
        let compares = entities.count > 10 && !entities.contains { $0.usesSearchIdentifier || Self.hasSearchRelation($0) }
        var toSend = Array(entities.indices)
        if compares, let unchanged = await unchangedEntities(entities) {
            toSend.removeAll { unchanged.contains($0) }
            for index in unchanged {
                results[index] = UpsertResult(index: index, blueprint: entities[index].blueprint,
                                              identifier: entities[index].identifierString, outcome: .updated)
            }
            state.withLock { $0.skippedUnchanged += unchanged.count }
        }

        // Group by blueprint in first-seen order, then cut each group into Ocean's batches.
        var order: [String] = []
        var groups: [String: [Int]] = [:]
        for index in toSend {
            let blueprint = entities[index].blueprint
            if groups[blueprint] == nil { order.append(blueprint) }
            groups[blueprint, default: []].append(index)
        }
        var batches: [(String, [Int])] = []
        for blueprint in order {
            let indices = groups[blueprint]!
            let size = batchSize(indices.prefix(10).map { entities[$0] })
            for start in stride(from: 0, to: indices.count, by: size) {
                batches.append((blueprint, Array(indices[start..<min(start + size, indices.count)])))
            }
        }
        // Every batch of the page at once, as Ocean's asyncio.gather does.
        let written = await withTaskGroup(of: [UpsertResult].self) { group in
            for (blueprint, indices) in batches {
                group.addTask { await self.upsertBatch(blueprint: blueprint, indices: indices, entities: entities, options: options) }
            }
            var all: [UpsertResult] = []
            for await part in group { all += part }
            return all
        }
        for result in written { results[result.index] = result }
        let final = results.enumerated().map { index, result in
            result ?? UpsertResult(index: index, blueprint: entities[index].blueprint, identifier: entities[index].identifierString,
                                   outcome: .failed("Port did not report this entity"))
        }

        // Ocean's bookkeeping: on the compared path every entity of the page counts as synced;
        // otherwise only those Port accepted (under the identifier Port resolved).
        remember(final, of: entities, compared: compares)
        return final
    }

    /// Records what the page produced in the ledger; a failure to record makes reconciliation
    /// refuse to delete anything. (Synchronous on purpose: Swift 6.3's optimizer crashes on this
    /// code inside the async `upsert`.)
    private func remember(_ results: [UpsertResult], of entities: [Entity], compared: Bool) {
        var produced: [(key: EntityKey, relations: String?)] = []
        for result in results {
            let entity = entities[result.index]
            if result.succeeded || compared, let identifier = result.identifier ?? entity.identifierString {
                produced.append((EntityKey(blueprint: entity.blueprint, identifier: identifier), entity.relations?.text))
            }
        }
        do { try ledger().record(produced) } catch {
            let message = "\(error)"
            state.withLock { $0.ledgerFailure = $0.ledgerFailure ?? message }
        }
    }

    public func staleEntities(resyncStart: Date) async throws -> StaleEntities {
        if let failure = state.current.ledgerFailure {
            throw IncompleteRecord(reason: failure)
        }
        let produced = try ledger()
        var stale: [EntityKey] = []
        var listed = 0
        // A listing page at a time: memory follows the stale entities, not everything owned.
        try await listOwned(before: resyncStart) { keys in
            listed += keys.count
            stale += try produced.unrecorded(keys)
        }
        return StaleEntities(keys: stale, ownedBefore: listed)
    }

    public func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> {
        let candidateSet = Set(candidates)
        let byIdentifier = Dictionary(grouping: candidates, by: \.identifier)
        let produced = try ledger()
        // Relation name → target blueprint, for the blueprints of kept entities that have relations.
        var definitions: [String: [String: String]] = [:]
        for blueprint in try produced.blueprintsWithRelations() { definitions[blueprint] = try await relationDefinitions(of: blueprint) }
        var found: Set<EntityKey> = []
        try produced.forEachWithRelations { key, relationsText in
            guard let relations = JSONValue.parse(relationsText)?.objectValue else { return }
            for (name, value) in relations {
                let identifiers = value.arrayValue?.compactMap(\.stringValue) ?? [value.stringValue].compactMap { $0 }
                for identifier in identifiers {
                    if let target = definitions[key.blueprint]?[name] {
                        let target = EntityKey(blueprint: target, identifier: identifier)
                        if candidateSet.contains(target) { found.insert(target) }
                    } else {
                        found.formUnion(byIdentifier[identifier] ?? [])
                    }
                }
            }
        }
        return found
    }

    public func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int {
        let grouped = Dictionary(grouping: keys, by: \.blueprint)
        if deleteDependents {
            // Batches of min(OCEAN__DELETE_ENTITIES_MAX_BATCH_SIZE, 100) = 100, all at once.
            var calls: [(String, [String])] = []
            for blueprint in grouped.keys.sorted() {
                let identifiers = grouped[blueprint]!.map(\.identifier)
                for start in stride(from: 0, to: identifiers.count, by: 100) {
                    calls.append((blueprint, Array(identifiers[start..<min(start + 100, identifiers.count)])))
                }
            }
            return await withTaskGroup(of: Int.self) { group in
                for (blueprint, identifiers) in calls {
                    group.addTask { await self.bulkDelete(blueprint: blueprint, identifiers: identifiers, dependents: true) }
                }
                return await group.reduce(0, +)
            }
        }
        // Without dependents Ocean deletes one entity per call, one after the other.
        var deleted = 0
        for key in keys { deleted += await bulkDelete(blueprint: key.blueprint, identifiers: [key.identifier], dependents: false) }
        return deleted
    }

    // MARK: Load

    /// `min(20, 1 MiB // (1.5 × mean JSON size of the first ≤10 entities))`, at least 1.
    func batchSize(_ sample: [Entity]) -> Int {
        guard !sample.isEmpty else { return batchMaxLength }
        let mean = Double(sample.reduce(0) { $0 + $1.jsonText().utf8.count }) / Double(sample.count)
        let bySize = Int(Double(batchMaxBytes) / (mean * 1.5))
        return max(1, min(batchMaxLength, bySize))
    }

    func writeQuery(_ options: WriteOptions) -> [(String, String)] {
        [("upsert", "true"), ("merge", options.merge ? "true" : "false"),
         ("create_missing_related_entities", options.createMissingRelatedEntities ? "true" : "false"),
         ("validation_only", "false")] + eventQuery
    }

    func upsertBatch(blueprint: String, indices: [Int], entities: [Entity], options: WriteOptions) async -> [UpsertResult] {
        let path = "/v1/blueprints/\(PortClient.encode(blueprint))/entities/bulk"
        let body = "{\"entities\":[" + indices.map { entities[$0].jsonText() }.joined(separator: ",") + "]}"
        func failed(_ reason: String) -> [UpsertResult] {
            indices.map { UpsertResult(index: $0, blueprint: blueprint, identifier: entities[$0].identifierString, outcome: .failed(reason)) }
        }
        let response: PortResponse
        do {
            response = try await client.send(.post, path, query: writeQuery(options), body: body, entityRoute: true)
        } catch {
            return failed(error.description)
        }
        if response.status == 413 {
            // Too large as a whole: Ocean sends the batch again one entity at a time.
            var results: [UpsertResult] = []
            for index in indices { results.append(await upsertOne(index: index, entity: entities[index], options: options)) }
            return results
        }
        guard response.isSuccess, let json = response.json else {
            return failed("Port answered \(response.status) on POST \(path): \(PortClient.message(in: response))")
        }
        var results: [UpsertResult] = []
        var reported = Set<Int>()
        for item in json["entities"]?.arrayValue ?? [] {
            guard let position = item["index"]?.numberValue.map(Int.init), indices.indices.contains(position) else { continue }
            let index = indices[position]
            reported.insert(position)
            let created = item["created"]?.boolValue ?? false
            results.append(UpsertResult(index: index, blueprint: blueprint,
                                        identifier: item["identifier"]?.stringValue ?? entities[index].identifierString,
                                        outcome: created ? .created : .updated))
        }
        for item in json["errors"]?.arrayValue ?? [] {
            guard let position = item["index"]?.numberValue.map(Int.init), indices.indices.contains(position),
                  !reported.contains(position) else { continue }
            reported.insert(position)
            let index = indices[position]
            let message = item["message"]?.stringValue ?? item["error"]?.stringValue ?? "refused by Port"
            let identifier = item["identifier"]?.stringValue
            results.append(UpsertResult(index: index, blueprint: blueprint,
                                        identifier: identifier == "unknown" ? entities[index].identifierString : (identifier ?? entities[index].identifierString),
                                        outcome: .failed(message)))
        }
        for position in indices.indices where !reported.contains(position) {
            let index = indices[position]
            results.append(UpsertResult(index: index, blueprint: blueprint, identifier: entities[index].identifierString,
                                        outcome: .failed("Port's answer did not mention this entity")))
        }
        return results
    }

    /// `POST /v1/blueprints/{bp}/entities`: one entity, after a 413 on its batch.
    func upsertOne(index: Int, entity: Entity, options: WriteOptions) async -> UpsertResult {
        let path = "/v1/blueprints/\(PortClient.encode(entity.blueprint))/entities"
        do {
            let response = try await client.send(.post, path, query: writeQuery(options), body: entity.jsonText(), entityRoute: true)
            guard response.isSuccess else {
                return UpsertResult(index: index, blueprint: entity.blueprint, identifier: entity.identifierString,
                                    outcome: .failed(PortClient.message(in: response)))
            }
            let stored = response.json?["entity"]
            return UpsertResult(index: index, blueprint: entity.blueprint,
                                identifier: stored?["identifier"]?.stringValue ?? entity.identifierString,
                                outcome: response.status == 201 ? .created : .updated)
        } catch {
            return UpsertResult(index: index, blueprint: entity.blueprint, identifier: entity.identifierString,
                                outcome: .failed(error.description))
        }
    }

    static func hasSearchRelation(_ entity: Entity) -> Bool {
        guard let relations = entity.relations, relations.text.contains("combinator"),
              let members = JSONValue.parse(relations.text)?.objectValue else { return false }
        return members.values.contains { $0.objectValue != nil }
    }

    // MARK: Compare with Port

    /// Indices of entities Port already holds exactly as mapped; nil when the search failed
    /// (Ocean then sends everything).
    func unchangedEntities(_ entities: [Entity]) async -> Set<Int>? {
        var unchanged: Set<Int> = []
        let byBlueprint = Dictionary(grouping: entities.indices, by: { entities[$0].blueprint })
        for blueprint in byBlueprint.keys.sorted() {
            let indices = byBlueprint[blueprint]!
            for start in stride(from: 0, to: indices.count, by: 50) {
                let chunk = Array(indices[start..<min(start + 50, indices.count)])
                guard let found = await search(blueprint: blueprint, chunk.map { entities[$0] }) else { return nil }
                for index in chunk {
                    if let identifier = entities[index].identifierString, let stored = found[identifier],
                       Self.isUnchanged(entities[index], stored) {
                        unchanged.insert(index)
                    }
                }
            }
        }
        return unchanged
    }

    /// `POST /v1/entities/search` for up to 50 identifiers of one blueprint, with Ocean's
    /// `include` list and ownership rules.
    func search(blueprint: String, _ entities: [Entity]) async -> [String: JSONValue]? {
        var include: [String] = ["blueprint", "identifier"]
        if entities.contains(where: { $0.title != nil }) { include.append("title") }
        if entities.contains(where: { $0.team != nil }) { include.append("team") }
        var properties: [String] = []
        var relations: [String] = []
        for entity in entities {
            for key in (entity.properties.flatMap { JSONValue.parse($0.text)?.objectValue }?.keys).map(Array.init) ?? [] where !properties.contains(key) { properties.append(key) }
            for key in (entity.relations.flatMap { JSONValue.parse($0.text)?.objectValue }?.keys).map(Array.init) ?? [] where !relations.contains(key) { relations.append(key) }
        }
        include += properties.sorted().map { "properties.\($0)" } + relations.sorted().map { "relations.\($0)" }
        let ids = entities.compactMap(\.identifierString).map(JSONValue.quoted).joined(separator: ",")
        let datasource = client.datasource
        let body = """
        {"combinator":"and","rules":[{"property":"$identifier","operator":"in","value":[\(ids)]},\
        {"property":"$blueprint","operator":"=","value":\(JSONValue.quoted(blueprint))},\
        {"property":"$datasource","operator":"contains","value":\(JSONValue.quoted(datasource.prefix))},\
        {"property":"$datasource","operator":"contains","value":\(JSONValue.quoted(datasource.suffix))}]}
        """
        let query = [("exclude_calculated_properties", "true")] + include.map { ("include", $0) }
        guard let response = try? await client.call(.post, "/v1/entities/search", query: query, body: body, entityRoute: true),
              let found = response.json?["entities"]?.arrayValue else { return nil }
        var byIdentifier: [String: JSONValue] = [:]
        for entity in found { if let identifier = entity["identifier"]?.stringValue { byIdentifier[identifier] = entity } }
        return byIdentifier
    }

    /// Ocean's comparison: title, team, properties and relations equal as sorted-key JSON; a key
    /// that is null on one side and absent on the other is no difference. Icon is not compared.
    static func isUnchanged(_ entity: Entity, _ stored: JSONValue) -> Bool {
        func same(_ mine: RawJSON?, _ theirs: JSONValue?) -> Bool {
            guard let mine else { return true }
            let value = JSONValue.parse(mine.text) ?? .null
            return normalised(value) == normalised(theirs ?? .null)
        }
        func sameObject(_ mine: RawJSON?, _ theirs: JSONValue?) -> Bool {
            guard let mine else { return true }
            let left = (JSONValue.parse(mine.text)?.objectValue ?? [:]).filter { !$0.value.isNull }
            let right = (theirs?.objectValue ?? [:]).filter { !$0.value.isNull }
            return JSONValue.object(left).text(sorted: true) == JSONValue.object(right).text(sorted: true)
        }
        return same(entity.title, stored["title"]) && same(entity.team, stored["team"])
            && sameObject(entity.properties, stored["properties"]) && sameObject(entity.relations, stored["relations"])
    }

    /// Team lists compare sorted, as Ocean compares them.
    static func normalised(_ value: JSONValue) -> String {
        if case .array(let items) = value {
            return JSONValue.array(items.sorted { $0.text(sorted: true) < $1.text(sorted: true) }).text(sorted: true)
        }
        return value.text(sorted: true)
    }

    // MARK: Reconcile

    /// `POST /v1/blueprints/entities/datasource-entities`, paging on `next`.
    /// Every entity the installation owned before `before`, a page (of up to 5,000) at a time.
    func listOwned(before: Date, page: ([EntityKey]) throws -> Void) async throws {
        let datasource = client.datasource
        var next: JSONValue? = nil
        repeat {
            var body = "{\"datasource_prefix\":\(JSONValue.quoted(datasource.prefix)),\"datasource_suffix\":\(JSONValue.quoted(datasource.suffix)),\"limit\":5000,\"before\":\(JSONValue.quoted(Self.iso(before)))"
            if let next { body += ",\"from\":\(next.text())" }
            body += "}"
            let response = try await client.call(.post, "/v1/blueprints/entities/datasource-entities", body: body, entityRoute: true)
            guard let json = response.json else {
                throw PortError(method: "POST", path: "/v1/blueprints/entities/datasource-entities", status: response.status,
                                message: "the answer is not JSON")
            }
            var keys: [EntityKey] = []
            for entity in json["entities"]?.arrayValue ?? [] {
                if let identifier = entity["identifier"]?.stringValue, let blueprint = entity["blueprint"]?.stringValue {
                    keys.append(EntityKey(blueprint: blueprint, identifier: identifier))
                }
            }
            try page(keys)
            next = json["next"].flatMap { $0.isNull ? nil : $0 }
        } while next != nil
    }

    /// Relation name → target blueprint, from `GET /v1/blueprints/{bp}` (once per resync).
    func relationDefinitions(of blueprint: String) async throws(PortError) -> [String: String] {
        if let known = state.current.blueprintRelations[blueprint] { return known }
        let response = try await client.call(.get, "/v1/blueprints/\(PortClient.encode(blueprint))", accepting: [404])
        var relations: [String: String] = [:]
        for (name, definition) in response.json?["blueprint"]?["relations"]?.objectValue ?? [:] {
            if let target = definition["target"]?.stringValue { relations[name] = target }
        }
        state.withLock { $0.blueprintRelations[blueprint] = relations }
        return relations
    }

    func bulkDelete(blueprint: String, identifiers: [String], dependents: Bool) async -> Int {
        let path = "/v1/blueprints/\(PortClient.encode(blueprint))/bulk/entities/delete"
        let body = "{\"entities\":[" + identifiers.map(JSONValue.quoted).joined(separator: ",") + "]}"
        do {
            let response = try await client.call(.post, path, query: [("delete_dependents", dependents ? "true" : "false")] + eventQuery,
                                                 body: body, entityRoute: true)
            // Port may delete part of a batch; its list is what counts.
            return response.json?["deletedEntities"]?.arrayValue?.count ?? 0
        } catch {
            state.withLock { $0.deleteFailures.append(error.description) }
            return 0
        }
    }

    /// ISO 8601 with microseconds and an explicit UTC offset, as Python's `isoformat()` writes it.
    static func iso(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'+00:00'"
        return formatter.string(from: date)
    }
}

/// Reconciliation cannot tell what is stale when the record of what the resync wrote failed.
struct IncompleteRecord: Error, CustomStringConvertible {
    var reason: String
    var description: String {
        "the record of what this resync wrote is incomplete (\(reason)), so nothing is deleted; check the free space of the temporary directory"
    }
}
