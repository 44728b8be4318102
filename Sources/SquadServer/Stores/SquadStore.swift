import Foundation
import Postgres
import SquadCore

/// All SQL for squads.
public enum SquadStore {
    public static func create(name: String, on connection: Connection) throws -> Squad {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if let problem = Squad.nameProblem(trimmed) { throw AdminError(.invalid, problem) }
        do {
            let rows = try connection.query("""
                INSERT INTO squads (name) VALUES (\(trimmed)) RETURNING id, name, created_at
                """)
            let (id, storedName, createdAt) = try rows[0].decode((Int64, String, Date).self)
            return Squad(id: id, name: storedName, athleteCount: 0, createdAt: createdAt)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw AdminError(.conflict, "a squad named '\(trimmed)' already exists")
        }
    }

    public static func list(on connection: Connection) throws -> [Squad] {
        try connection.query("""
            SELECT s.id, s.name, count(m.athlete_id)::bigint, s.created_at
            FROM squads s LEFT JOIN athlete_squads m ON m.squad_id = s.id
            GROUP BY s.id ORDER BY lower(s.name)
            """).map { row in
            let (id, name, count, createdAt) = try row.decode((Int64, String, Int, Date).self)
            return Squad(id: id, name: name, athleteCount: count, createdAt: createdAt)
        }
    }

    /// The id of the squad named `name` (case-insensitive).
    public static func id(named name: String, on connection: Connection) throws -> Int64 {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        let rows = try connection.query("SELECT id FROM squads WHERE lower(name) = lower(\(trimmed))")
        guard let row = rows.first else {
            throw AdminError(.notFound, "no squad named '\(trimmed)'; create it with: coach squads create '\(trimmed)'")
        }
        return try row.decode(Int64.self, at: 0)
    }
}
