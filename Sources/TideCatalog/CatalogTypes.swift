import TideCore
import Foundation
import TideModel

/// Why a catalog operation failed as a whole. Always names the database file (or the PostgreSQL
/// URL, its password masked), because the person reading the message needs to know which catalog
/// to look at.
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The folder that should hold the file does not exist.
        case folderMissing
        /// The file exists but is not an SQLite database (or is encrypted/corrupt).
        case notADatabase
        /// An SQLite database, but another application's (or a PostgreSQL schema holding another
        /// application's `blueprints` or `entities` table).
        case notACatalog
        /// The file or its folder cannot be written.
        case readOnly
        /// No catalog file (or no catalog tables in the PostgreSQL schema) where one was
        /// expected: read commands do not create one.
        case missing
        /// Written by a newer Tide whose schema this one does not know.
        case newerSchema
        /// Another process holds the write lock longer than the busy timeout.
        case busy
        /// Any other SQLite failure (disk full, I/O error…), with SQLite's words.
        case sqlite
        /// The PostgreSQL server cannot be reached, refused the login, or dropped the connection.
        case unreachable
        /// Any other PostgreSQL failure, with PostgreSQL's words and SQLSTATE.
        case database
    }

    public var kind: Kind
    public var path: String
    public var message: String

    public init(_ kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// A blueprint as listed by the catalog: stored definitions and blueprints that only have entities.
public struct BlueprintSummary: Sendable, Hashable {
    public var identifier: String
    /// nil when the blueprint has entities but no stored definition.
    public var title: String?
    public var entityCount: Int
    public var isDefined: Bool
}

/// An entity as stored. JSON-valued fields are JSON text; absent ones are nil.
public struct StoredEntity: Sendable, Hashable {
    public var blueprint: String
    public var identifier: String
    public var title: RawJSON?
    public var icon: RawJSON?
    public var team: RawJSON?
    public var properties: RawJSON
    public var relations: RawJSON
    public var datasource: String?
    /// Milliseconds since 1970 (UTC), as stored.
    public var createdAt: Int64
    public var updatedAt: Int64

    public var key: EntityKey { EntityKey(blueprint: blueprint, identifier: identifier) }

    /// Port's entity shape, keys always present and in this order:
    /// `identifier, title, icon, team, blueprint, properties, relations, createdAt, updatedAt, $datasource`.
    /// Absent title/icon/team/datasource are `null`; times are ISO-8601 UTC with milliseconds.
    public var jsonText: String {
        var text = "{\"identifier\":" + JSONText.quoted(identifier)
        text += ",\"title\":" + (title?.text ?? "null")
        text += ",\"icon\":" + (icon?.text ?? "null")
        text += ",\"team\":" + (team?.text ?? "null")
        text += ",\"blueprint\":" + JSONText.quoted(blueprint)
        text += ",\"properties\":" + properties.text
        text += ",\"relations\":" + relations.text
        text += ",\"createdAt\":\"" + CatalogTime.iso8601(createdAt) + "\""
        text += ",\"updatedAt\":\"" + CatalogTime.iso8601(updatedAt) + "\""
        text += ",\"$datasource\":" + (datasource.map(JSONText.quoted) ?? "null")
        return text + "}"
    }
}

/// Times are stored as integer milliseconds since 1970 UTC: they sort and compare as numbers,
/// and convert to Port's ISO-8601 form only for display.
public enum CatalogTime {
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    public static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// `2024-05-01T12:00:00.123Z`.
    public static func iso8601(_ milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let millis = Int(milliseconds - seconds * 1000)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

