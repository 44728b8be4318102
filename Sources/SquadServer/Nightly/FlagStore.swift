import Foundation
import Postgres
import SquadCore

/// All SQL for flags: at most one live (open or acknowledged) flag per athlete and code.
public enum FlagStore {
    /// A stored flag as coaches and `--json` see it.
    public struct Flag: Sendable, Codable, Equatable {
        public var id: UUID
        public var athlete: String
        public var code: String
        public var severity: String
        public var date: Day
        public var rule: String
        public var ruleVersion: Int
        public var evidence: AnyJSON
        public var dataQuality: String
        public var status: String
        public var clearedOn: Day?

        enum CodingKeys: String, CodingKey {
            case id, athlete, code, severity, date, rule, ruleVersion = "rule_version", evidence, dataQuality = "data_quality", status
            case clearedOn = "cleared_on"
        }

        public static func == (lhs: Flag, rhs: Flag) -> Bool { lhs.id == rhs.id && lhs.status == rhs.status && lhs.severity == rhs.severity }
    }

    static let columns: SQL = """
        f.flag_id, a.handle, f.code, f.severity, f.raised_on, f.rule, f.rule_version, f.evidence::text, f.data_quality, f.status, f.cleared_on
        """

    static func decode(_ row: Row) throws -> Flag {
        let (id, handle, code, severity, raised, rule, version, evidence, quality, status, cleared) =
            try row.decode((UUID, String, String, String, Day, String, Int, String, String, String, Day?).self)
        return Flag(id: id, athlete: handle, code: code, severity: severity, date: raised, rule: rule, ruleVersion: version,
                    evidence: AnyJSON((try? StrictJSON.parse(evidence)) ?? .null), dataQuality: quality, status: status, clearedOn: cleared)
    }

    /// Live flags of these athletes.
    public static func live(_ ids: [Int64], on connection: Connection) throws -> [Int64: [String: Flag]] {
        var result: [Int64: [String: Flag]] = [:]
        for row in try connection.query("""
            SELECT \(columns), f.athlete_id FROM flags f JOIN athletes a ON a.id = f.athlete_id
            WHERE f.athlete_id = ANY(\(ids)) AND f.status <> 'cleared'
            """) {
            let flag = try decode(row)
            result[try row.decode(Int64.self, at: 11), default: [:]][flag.code] = flag
        }
        return result
    }

    /// Raises flags (the caller knows no live flag of their code exists), in one statement.
    /// A flag raised and cleared within one catch-up run comes with its `clearedOn`.
    public static func raise(_ batch: [(athleteID: Int64, signal: FlagSignal, day: Day, id: UUID, clearedOn: Day?)], on connection: Connection) throws {
        guard !batch.isEmpty else { return }
        try connection.execute("""
            INSERT INTO flags (flag_id, athlete_id, code, severity, raised_on, rule, rule_version, evidence, data_quality, status, cleared_on)
            SELECT f.id, f.athlete, f.code, f.severity, f.day, f.rule, f.version, f.evidence::jsonb, f.quality,
                   CASE WHEN f.cleared IS NULL THEN 'open' ELSE 'cleared' END, f.cleared
            FROM unnest(\(batch.map(\.id)), \(batch.map(\.athleteID)), \(batch.map(\.signal.code.rawValue))::text[],
                        \(batch.map(\.signal.severity.rawValue))::text[], \(batch.map(\.day)), \(batch.map(\.signal.rule))::text[],
                        \(batch.map(\.signal.ruleVersion)), \(batch.map(\.signal.evidence.canonicalText))::text[], \(batch.map(\.signal.dataQuality))::text[],
                        \(batch.map(\.clearedOn)))
                 AS f(id, athlete, code, severity, day, rule, version, evidence, quality, cleared)
            """)
    }

    /// A live flag whose condition got worse: new severity and evidence, same flag.
    public static func escalate(_ flag: Flag, to signal: FlagSignal, on connection: Connection) throws {
        try connection.execute("""
            UPDATE flags SET severity = \(signal.severity.rawValue), evidence = \(signal.evidence.canonicalText)::jsonb,
                   data_quality = \(signal.dataQuality), updated_at = now()
            WHERE flag_id = \(flag.id)
            """)
    }

    /// Clears live flags whose condition no longer holds, each on its night.
    public static func clear(_ batch: [(id: UUID, day: Day)], on connection: Connection) throws {
        guard !batch.isEmpty else { return }
        try connection.execute("""
            UPDATE flags f SET status = 'cleared', cleared_on = c.day, updated_at = now()
            FROM unnest(\(batch.map(\.id)), \(batch.map(\.day))) AS c(id, day) WHERE f.flag_id = c.id
            """)
    }

    /// Flags, newest first, optionally one athlete's and only live ones.
    public static func list(handle: String?, onlyOpen: Bool, on connection: Connection) throws -> [Flag] {
        var sql: SQL = "SELECT \(columns) FROM flags f JOIN athletes a ON a.id = f.athlete_id WHERE true"
        if let handle { sql = sql + " AND a.handle = \(handle)" }
        if onlyOpen { sql = sql + " AND f.status <> 'cleared'" }
        return try connection.query("\(sql) ORDER BY f.raised_on DESC, a.handle, f.code").map(decode)
    }
}

extension FlagStore {
    /// A coach has seen a flag: it stays live (a re-run never raises it again) until its
    /// condition clears, but no longer counts as open.
    public static func acknowledge(_ id: UUID, by coach: String, note: String?, on connection: Connection) throws -> Flag {
        let rows = try connection.query("""
            UPDATE flags SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = \(coach), ack_note = \(note), updated_at = now()
            WHERE flag_id = \(id) AND status = 'open'
            RETURNING flag_id
            """)
        guard rows.count == 1 else {
            let existing = try connection.query("SELECT status FROM flags WHERE flag_id = \(id)")
            guard let status = try existing.first?.decode(String.self, at: 0) else { throw AdminError(.notFound, "no flag \(id)") }
            throw AdminError(.conflict, "flag \(id) is \(status), not open")
        }
        let rows2 = try connection.query("SELECT \(columns), f.athlete_id FROM flags f JOIN athletes a ON a.id = f.athlete_id WHERE f.flag_id = \(id)")
        let flag = try decode(rows2[0])
        try AuditStore.record(athleteID: try rows2[0].decode(Int64.self, at: 11), actor: coach, action: "flag.ack", subject: id.lowercasedText,
                              before: .object(["status": .string("open"), "code": .string(flag.code)]),
                              after: .object(["status": .string("acknowledged"), "code": .string(flag.code)]), note: note, on: connection)
        return flag
    }
}
