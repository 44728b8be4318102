import Foundation
import Postgres
import SquadCore

/// Coaches, their squads and their API tokens (shown once, stored as SHA-256).
public enum CoachStore {
    public struct Coach: Sendable, Encodable {
        public var id: Int64
        public var handle: String
        public var name: String
        public var squads: [String]
        public var revoked: Bool
    }

    /// A coach behind a valid token: the squads it may see.
    public struct AuthenticatedCoach: Sendable {
        public var id: Int64
        public var handle: String
        public var squadIDs: [Int64]
    }

    public enum Authentication: Sendable {
        case valid(AuthenticatedCoach)
        case revoked
        case unknown
    }

    /// Adds a coach to a squad (creating the coach if new) and issues a new token.
    public static func add(handle: String, name: String?, squad: String, on connection: Connection) throws -> (Coach, String) {
        if let problem = Handle.problem(handle) { throw AdminError(.invalid, "coach name '\(handle)' \(problem)") }
        let squadID = try SquadStore.id(named: squad, on: connection)
        let token = DeviceToken.generate().replacingOccurrences(of: "sq_", with: "sqc_")
        let rows = try connection.query("""
            INSERT INTO coaches (handle, name, token_hash) VALUES (\(handle), \(name ?? handle), \(DeviceToken.hash(token)))
            ON CONFLICT (handle) DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL
            RETURNING id
            """)
        let id = try rows[0].decode(Int64.self, at: 0)
        try connection.execute("INSERT INTO coach_squads (coach_id, squad_id) VALUES (\(id), \(squadID)) ON CONFLICT DO NOTHING")
        guard let coach = try list(on: connection).first(where: { $0.id == id }) else { throw AdminError(.notFound, "coach vanished") }
        return (coach, token)
    }

    public static func list(on connection: Connection) throws -> [Coach] {
        try connection.query("""
            SELECT c.id, c.handle, c.name, coalesce((SELECT array_agg(s.name ORDER BY s.name) FROM coach_squads m JOIN squads s ON s.id = m.squad_id
                                                     WHERE m.coach_id = c.id), '{}'), c.revoked_at IS NOT NULL
            FROM coaches c ORDER BY c.handle
            """).map { row in
            let (id, handle, name, squads, revoked) = try row.decode((Int64, String, String, [String], Bool).self)
            return Coach(id: id, handle: handle, name: name, squads: squads, revoked: revoked)
        }
    }

    public static func revoke(handle: String, on connection: Connection) throws {
        let rows = try connection.query("UPDATE coaches SET revoked_at = now() WHERE handle = \(handle) AND revoked_at IS NULL RETURNING id")
        guard !rows.isEmpty else { throw AdminError(.notFound, "no active coach '\(handle)'") }
    }

    public static func authenticate(token: String, on connection: Connection) throws -> Authentication {
        guard let row = try connection.query("""
            SELECT c.id, c.handle, c.revoked_at IS NOT NULL, coalesce((SELECT array_agg(squad_id) FROM coach_squads WHERE coach_id = c.id), '{}')
            FROM coaches c WHERE c.token_hash = \(DeviceToken.hash(token))
            """).first else { return .unknown }
        let (id, handle, revoked, squads) = try row.decode((Int64, String, Bool, [Int64]).self)
        return revoked ? .revoked : .valid(AuthenticatedCoach(id: id, handle: handle, squadIDs: squads))
    }

    /// The athlete with this handle when the coach may see it (one of the coach's squads).
    public static func visibleAthlete(_ handle: String, to coach: AuthenticatedCoach, on connection: Connection) throws -> Athlete? {
        let rows = try connection.query("""
            SELECT 1 FROM athletes a JOIN athlete_squads m ON m.athlete_id = a.id
            WHERE a.handle = \(handle) AND m.squad_id = ANY(\(coach.squadIDs)) LIMIT 1
            """)
        guard !rows.isEmpty else { return nil }
        return try AthleteStore.find(handle: handle, on: connection)
    }

    /// Whether the coach may see the athlete with this id.
    public static func sees(athleteID: Int64, coach: AuthenticatedCoach, on connection: Connection) throws -> Bool {
        !(try connection.query("SELECT 1 FROM athlete_squads WHERE athlete_id = \(athleteID) AND squad_id = ANY(\(coach.squadIDs)) LIMIT 1")).isEmpty
    }
}
