import Foundation
import TideCore
import TideFetch
import TideIntegration
import TideJQ
import TideMapping
import TideModel

public enum LiveEventError: Error, Sendable, CustomStringConvertible {
    case refetch(String)
    case sink(String)
    case timeout(Double)
    case evaluation(String)
    public var description: String {
        switch self {
        case .refetch(let message): "refetch failed: \(message)"
        case .sink(let message): "writing failed: \(message)"
        case .timeout(let seconds): "the event took longer than \(seconds)s"
        case .evaluation(let message): message
        }
    }
}

/// Applies events of one webhook path, for one worker. Owns compiled jq programs and mappers, so
/// one instance is used by one task at a time (the worker awaits each event before the next);
/// `@unchecked Sendable` only so the per-event timeout can run it in a child task.
final class EventProcessor: @unchecked Sendable {
    let definition: WebhookDefinition
    let integration: Integration
    let mapping: PortAppConfig
    let session: FetchSession
    let sink: any EntitySink
    let metrics: WebhookMetrics
    let config: JSON
    let mappingOptions: MappingOptions
    private var compiled: (items: [JQProgram], refetches: [[(name: String, program: JQProgram)]])?
    private var mappers: [Int: ResourceMapper] = [:]
    /// Kinds compiled on their first refetch, then reused: an event costs its request, not a compile.
    private var kinds: [String: CompiledKind] = [:]

    init(definition: WebhookDefinition, integration: Integration, mapping: PortAppConfig, session: FetchSession,
         sink: any EntitySink, metrics: WebhookMetrics, configJSON: String, mappingOptions: MappingOptions) {
        self.definition = definition
        self.integration = integration
        self.mapping = mapping
        self.session = session
        self.sink = sink
        self.metrics = metrics
        var options = mappingOptions
        // Records failing the selector are mapped too: they are deletes.
        options.parseAll = true
        self.mappingOptions = options
        config = (try? JSON(parsing: configJSON)) ?? JSON(object: [:])
    }

    /// Compiled on first use: intake has already compiled the same expressions at start, so errors
    /// surface there, and idle workers cost nothing.
    private func programs() throws(LiveEventError) -> (items: [JQProgram], refetches: [[(name: String, program: JQProgram)]]) {
        if let compiled { return compiled }
        do {
            let items = try definition.events.map { event throws(JQCompileError) in try JQProgram(event.item.source) }
            let refetches = try definition.events.map { event throws(JQCompileError) in
                try event.refetch.map { entry throws(JQCompileError) in
                    (entry.name, try JQProgram(WebhookDefinition.refetchHelpers + entry.expression.source))
                }
            }
            compiled = (items, refetches)
            return (items, refetches)
        } catch {
            throw .evaluation("webhook \(definition.path): \(error)")
        }
    }

    func process(_ event: QueuedEvent) async throws(LiveEventError) {
        let payload: JSON
        do { payload = try event.body.withUnsafeBufferPointer { pointer throws(JSONParseError) in try JSON(parsing: pointer) } } catch {
            throw .evaluation("the body is not JSON: \(error.message)")
        }
        let context = WebhookContext.make(payload: payload, headers: event.headers)
        let items = try programs().items
        for index in event.matchers {
            let matcher = definition.events[index]
            let item: JSON
            do { item = try items[index].first(context) ?? .null } catch {
                throw .evaluation("matcher \(matcher.name): item: \(error)")
            }
            for kind in matcher.kinds {
                for resource in mapping.resources where resource.kind == kind {
                    var updated: [JSON] = [], deleted: [JSON] = []
                    switch matcher.action {
                    case .upsert: updated = [item]
                    case .delete: deleted = [item]
                    case .refetch:
                        let records = try await refetch(kind: kind, resource: resource, matcher: index, payload: payload, item: item)
                        // Not found through the narrowed request: gone, or no longer selected.
                        if records.isEmpty { deleted = [item] } else { updated = records }
                    }
                    try await apply(resource, updated: updated, deleted: deleted)
                }
            }
        }
    }

    /// The kind's request with the selector narrowed, retried with exponential backoff.
    func refetch(kind: String, resource: ResourceConfig, matcher: Int, payload: JSON, item: JSON) async throws(LiveEventError) -> [JSON] {
        var selector = Dictionary(resource.selector.fields.map { ($0.name, $0.json) }) { $1 }
        var merged: [(String, JSON)] = []
        for field in integration.kind(kind)?.selector ?? [] {
            let text = selector[field.name] ?? field.defaultValue ?? "null"
            merged.append((field.name, (try? JSON(parsing: text)) ?? .null))
        }
        for (name, text) in selector where !merged.contains(where: { $0.0 == name }) {
            merged.append((name, (try? JSON(parsing: text)) ?? .null))
        }
        let context = JSON(object: ["payload": payload, "item": item, "selector": JSON(orderedObject: merged), "config": config])
        for (name, program) in try programs().refetches[matcher] {
            let value: JSON
            do { value = try program.first(context) ?? .null } catch {
                throw .evaluation("refetch selector \(name): \(error)")
            }
            // An empty selector field widens the request (a list instead of one record): refused.
            if value.kind == .null || value.stringValue == "" {
                throw .evaluation("refetch selector \(name) is \(value.kind == .null ? "null" : "empty"): the event names no record to read again")
            }
            selector[name] = value.serialized()
        }
        var attempt = 1
        while true {
            do {
                let compiled = try kinds[kind] ?? CompiledKind(session: session, kind: kind)
                kinds[kind] = compiled
                let fetcher = try KindFetcher(compiled: compiled, selector: selector)
                var records: [JSON] = []
                while let page = try await fetcher.next() { records += page.records }
                return records
            } catch {
                guard attempt < definition.retryAttempts, !Task.isCancelled else {
                    throw .refetch("\(error)")
                }
                metrics.retried(definition.path)
                let delay = min(definition.retryInitialDelay * pow(2, Double(attempt - 1)), definition.retryMaxDelay)
                attempt += 1
                do { try await Task.sleep(for: .seconds(delay)) } catch { throw .refetch("cancelled") }
            }
        }
    }

    /// Through the mapping, as Ocean's live events do: updated records that pass the selector are
    /// upserted, those that fail it deleted; deleted records are deleted whatever the selector says.
    func apply(_ resource: ResourceConfig, updated: [JSON], deleted: [JSON]) async throws(LiveEventError) {
        let mapper = mappers[resource.index] ?? ResourceMapper(resource: resource, options: mappingOptions)
        mappers[resource.index] = mapper
        var report = MappingReport()
        var upserts: [Entity] = [], deletes: [EntityKey] = []
        for record in updated where record.kind == .object {
            mapper.map(record: record, report: &report) { outcome in
                guard case .entity(let entity, let passed) = outcome else { return }
                if passed { upserts.append(entity) } else if let id = entity.identifierString {
                    deletes.append(EntityKey(blueprint: entity.blueprint, identifier: id))
                }
            }
        }
        for record in deleted where record.kind == .object {
            mapper.map(record: record, report: &report) { outcome in
                guard case .entity(let entity, _) = outcome, let id = entity.identifierString else { return }
                deletes.append(EntityKey(blueprint: entity.blueprint, identifier: id))
            }
        }
        let written = Set(upserts.compactMap { entity in entity.identifierString.map { EntityKey(blueprint: entity.blueprint, identifier: $0) } })
        deletes = deletes.filter { !written.contains($0) }
        do {
            if !upserts.isEmpty {
                let options = WriteOptions(merge: mapping.enableMergeEntity, createMissingRelatedEntities: mapping.createMissingRelatedEntities)
                let results = try await sink.upsert(upserts, options: options)
                if let failure = results.first(where: { !$0.succeeded }) { throw LiveEventError.sink(failure.failureReason ?? "refused") }
            }
            if !deletes.isEmpty { _ = try await sink.delete(deletes, deleteDependents: mapping.deleteDependentEntities) }
        } catch let error as LiveEventError {
            throw error
        } catch {
            throw .sink("\(error)")
        }
    }
}
