// Port's vocabulary for writing entities, shared by every sink (the embedded catalog, Port's API).
import Foundation


/// A catalog entity's key: Port identifies an entity by its blueprint and identifier.
public struct EntityKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var blueprint: String
    public var identifier: String
    public init(blueprint: String, identifier: String) {
        self.blueprint = blueprint
        self.identifier = identifier
    }
    public static func < (a: EntityKey, b: EntityKey) -> Bool {
        (a.blueprint, a.identifier) < (b.blueprint, b.identifier)
    }
    public var description: String { "\(blueprint)/\(identifier)" }
}

/// What happened to one entity of an upserted batch, at the entity's index in the batch.
public struct UpsertResult: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case created
        case updated
        /// Not written; the reason reads as a sentence about this entity.
        case failed(String)
    }

    public var index: Int
    public var blueprint: String
    /// The identifier written, after resolving a search-query identifier; nil when it failed
    /// before one was known.
    public var identifier: String?
    public var outcome: Outcome
    /// Written, but something was off (a single relation whose search query matched 0 or several
    /// entities was stored as null).
    public var warnings: [String]

    public init(index: Int, blueprint: String, identifier: String?, outcome: Outcome, warnings: [String] = []) {
        self.index = index
        self.blueprint = blueprint
        self.identifier = identifier
        self.outcome = outcome
        self.warnings = warnings
    }

    public var succeeded: Bool {
        if case .failed = outcome { return false }
        return true
    }
    public var failureReason: String? {
        if case .failed(let reason) = outcome { return reason }
        return nil
    }
}
