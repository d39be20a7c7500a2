import Foundation
import TideCore
import TideEngine
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
    private var compiled: Programs?
    private struct Programs {
        var items: [JQProgram]
        var refetches: [[(name: String, program: JQProgram)]]
        /// Each matcher's `parent`, when it gives one.
        var parents: [JQProgram?]
    }
    /// Each resource's fetch → map → write, compiled once: an event costs its request, not a compile.
    private var passes: [Int: ResourcePass] = [:]
    private var selectors: [Int: JSON] = [:]

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
    private func programs() throws(LiveEventError) -> Programs {
        if let compiled { return compiled }
        do {
            let items = try definition.events.map { event throws(JQCompileError) in try JQProgram(event.item.source) }
            let refetches = try definition.events.map { event throws(JQCompileError) in
                try event.refetch.map { entry throws(JQCompileError) in
                    (entry.name, try JQProgram(WebhookDefinition.refetchHelpers + entry.expression.source))
                }
            }
            let parents = try definition.events.map { event throws(JQCompileError) in
                try event.parent.map { expression throws(JQCompileError) in try JQProgram(expression.source) }
            }
            let programs = Programs(items: items, refetches: refetches, parents: parents)
            compiled = programs
            return programs
        } catch {
            throw .evaluation("webhook \(definition.path): \(error)")
        }
    }

    /// The resource's selector as the refetch expressions see it: the kind's fields with the
    /// resource's values over their defaults, then the resource's other fields. Built once.
    private func selectorJSON(_ resource: ResourceConfig, selector: [String: String]) -> JSON {
        if let built = selectors[resource.index] { return built }
        var merged: [(String, JSON)] = []
        for field in integration.kind(resource.kind)?.selector ?? [] {
            let text = selector[field.name] ?? field.defaultValue ?? "null"
            merged.append((field.name, (try? JSON(parsing: text)) ?? .null))
        }
        for (name, text) in selector.sorted(by: { $0.key < $1.key }) where !merged.contains(where: { $0.0 == name }) {
            merged.append((name, (try? JSON(parsing: text)) ?? .null))
        }
        let built = JSON(orderedObject: merged)
        selectors[resource.index] = built
        return built
    }

    private func pass(for resource: ResourceConfig) -> ResourcePass {
        if let pass = passes[resource.index] { return pass }
        let pass = ResourcePass(resource: resource, mapping: mapping, session: session, sink: sink, options: mappingOptions)
        passes[resource.index] = pass
        return pass
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
        let pass = pass(for: resource)
        var selector = pass.selector
        let context = JSON(object: ["payload": payload, "item": item, "selector": selectorJSON(resource, selector: selector),
                                    "config": config])
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
        // The parent record from the payload: one run read, instead of every parent listed again.
        var parent: JSON?
        if let program = try programs().parents[matcher] {
            do { parent = try program.first(context) } catch { throw .evaluation("refetch parent: \(error)") }
            guard let value = parent, value.kind == .object else {
                throw .evaluation("refetch parent gave \(parent.map { $0.kind.name } ?? "nothing"), not the parent record (an object)")
            }
        }
        var attempt = 1
        while true {
            do {
                return try await pass.records(selector: selector, parent: parent)
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
        do {
            try await pass(for: resource).apply(updated: updated, deleted: deleted)
        } catch {
            throw .sink("\(error)")
        }
    }
}
