import Foundation
import Postgres
import SquadCore

/// The audit trail of coach actions. Written in the same transaction as the action.
public enum AuditStore {
    public struct Entry: Sendable, Codable {
        public var id: Int64
        public var athlete: String?
        public var actor: String
        public var action: String
        public var subject: String
        public var before: JSONValue?
        public var after: JSONValue?
        public var note: String?
        public var at: Date
    }

    public static func record(athleteID: Int64, actor: String, action: String, subject: String, before: JSONValue?, after: JSONValue?,
                              note: String?, on connection: Connection) throws {
        try connection.execute("""
            INSERT INTO audit_log (athlete_id, actor, action, subject, before, after, note)
            VALUES (\(athleteID), \(actor), \(action), \(subject), \(before?.canonicalText)::jsonb, \(after?.canonicalText)::jsonb, \(note))
            """)
    }

    /// Newest first, optionally one athlete's.
    public static func list(handle: String?, limit: Int = 200, on connection: Connection) throws -> [Entry] {
        var filter: SQL = ""
        if let handle {
            guard let athlete = try AthleteStore.find(handle: handle, on: connection) else { throw AdminError(.notFound, "no athlete with handle '\(handle)'") }
            filter = "WHERE l.athlete_id = \(athlete.id)"
        }
        return try connection.query("""
            SELECT l.id, a.handle, l.actor, l.action, l.subject, l.before::text, l.after::text, l.note, l.at
            FROM audit_log l LEFT JOIN athletes a ON a.id = l.athlete_id \(filter) ORDER BY l.id DESC LIMIT \(limit)
            """).map { row in
            let (id, handle, actor, action, subject, before, after, note, at) =
                try row.decode((Int64, String?, String, String, String, String?, String?, String?, Date).self)
            return Entry(id: id, athlete: handle, actor: actor, action: action, subject: subject,
                         before: before.flatMap { try? StrictJSON.parse($0) }, after: after.flatMap { try? StrictJSON.parse($0) }, note: note, at: at)
        }
    }
}
