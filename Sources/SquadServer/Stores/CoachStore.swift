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
    public static func add(handle: String, name: String?, squad: String, key: TokenKey, on connection: Connection) throws -> (Coach, String) {
        if let problem = Handle.problem(handle) { throw AdminError(.invalid, "coach name '\(handle)' \(problem)") }
        let squadID = try SquadStore.id(named: squad, on: connection)
        try key.check(on: connection)
        let (token, parts) = DeviceToken.generate(prefix: DeviceToken.coachPrefix)
        let rows = try connection.query("""
            INSERT INTO coaches (handle, name, token_lookup, token_hash) VALUES (\(handle), \(name ?? handle), \(parts.lookup), \(key.mac(parts.secret)))
            ON CONFLICT (handle) DO UPDATE SET token_lookup = excluded.token_lookup, token_hash = excluded.token_hash, revoked_at = NULL
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

    /// By the token's lookup id and the HMAC of its secret (constant time); legacy tokens by SHA-256.
    public static func authenticate(token: String, key: TokenKey, on connection: Connection) throws -> Authentication {
        let select: SQL = """
            SELECT c.id, c.handle, c.revoked_at IS NOT NULL, coalesce((SELECT array_agg(squad_id) FROM coach_squads WHERE coach_id = c.id), '{}'), c.token_hash
            FROM coaches c
            """
        let parts = DeviceToken.parse(token)
        let filter: SQL = parts.map { "WHERE c.token_lookup = \($0.lookup)" } ?? "WHERE c.token_lookup IS NULL AND c.token_hash = \(DeviceToken.legacyHash(token))"
        guard let row = try connection.query(select + " " + filter).first else { return .unknown }
        if let parts, !key.verify(parts.secret, against: try row.decode(Data.self, at: 4)) { return .unknown }
        let (id, handle, revoked, squads) = try (row.decode(Int64.self, at: 0), row.decode(String.self, at: 1), row.decode(Bool.self, at: 2), row.decode([Int64].self, at: 3))
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
