import Foundation
import Postgres
import SquadCore

/// All SQL for digests: what the nightly run needs to write them, and reading them back.
public enum DigestStore {
    /// Per athlete: eight weeks of volume, planned volume, and sync health.
    public struct Context: Sendable {
        public var weeklyKm: [Day: Double] = [:]
        public var weeklyPlannedKm: [Day: Double] = [:]
        public var openConflicts = 0
        public var duplicatesMerged = 0
        public init() {}
    }

    /// Three set-based reads for a whole batch (LATERAL ... OFFSET 0: index scans per athlete).
    public static func context(_ targets: [(id: Int64, night: Day)], plans: [Int64: UUID], on connection: Connection) throws -> [Int64: Context] {
        guard !targets.isEmpty else { return [:] }
        var result: [Int64: Context] = [:]
        let ids = targets.map(\.id)
        let nights = targets.map(\.night)
        for row in try connection.query("""
            SELECT t.athlete_id, w.week, w.km
            FROM unnest(\(ids), \(nights)) AS t(athlete_id, night)
            CROSS JOIN LATERAL (
                SELECT date_trunc('week', local_date)::date AS week, sum(run_m) / 1000 AS km FROM daily_rollups
                WHERE athlete_id = t.athlete_id AND local_date BETWEEN date_trunc('week', t.night)::date - 49 AND t.night
                GROUP BY 1 OFFSET 0) w
            """) {
            let (id, week, km) = try row.decode((Int64, Day, Double).self)
            result[id, default: Context()].weeklyKm[week] = km
        }
        let planned = targets.filter { plans[$0.id] != nil }
        if !planned.isEmpty {
            for row in try connection.query("""
                SELECT t.athlete_id, w.week, w.km
                FROM unnest(\(planned.map(\.id)), \(planned.map { plans[$0.id]! }), \(planned.map(\.night))) AS t(athlete_id, plan_id, night)
                CROSS JOIN LATERAL (
                    SELECT date_trunc('week', session_date)::date AS week, sum(distance_m)::float8 / 1000 AS km FROM plan_sessions
                    WHERE plan_id = t.plan_id AND session_date BETWEEN date_trunc('week', t.night)::date - 49 AND date_trunc('week', t.night)::date + 6
                    GROUP BY 1 OFFSET 0) w
                """) {
                let (id, week, km) = try row.decode((Int64, Day, Double).self)
                result[id, default: Context()].weeklyPlannedKm[week] = km
            }
        }
        for row in try connection.query("""
            SELECT t.athlete_id,
                   (SELECT count(*) FROM sync_conflicts c WHERE c.athlete_id = t.athlete_id AND c.status = 'open'),
                   (SELECT count(*) FROM duplicate_groups g WHERE g.athlete_id = t.athlete_id AND g.status = 'active')
            FROM unnest(\(ids)) AS t(athlete_id)
            """) {
            let (id, conflicts, duplicates) = try row.decode((Int64, Int, Int).self)
            result[id, default: Context()].openConflicts = conflicts
            result[id, default: Context()].duplicatesMerged = duplicates
        }
        return result
    }

    /// Stores night digests (a re-processed night replaces its own), in one statement.
    public static func save(_ batch: [(athleteID: Int64, digest: Digest)], on connection: Connection) throws {
        guard !batch.isEmpty else { return }
        let docs = batch.map(\.digest.json.canonicalText)
        try connection.execute("""
            INSERT INTO digests (athlete_id, night, digest, worst_severity)
            SELECT d.id, d.night, d.doc::jsonb, d.worst
            FROM unnest(\(batch.map(\.athleteID)), \(batch.map(\.digest.date)), \(docs)::text[], \(batch.map { $0.digest.worstFlag?.severity.rawValue })::text[])
                 AS d(id, night, doc, worst)
            ON CONFLICT (athlete_id, night) DO UPDATE SET digest = excluded.digest, worst_severity = excluded.worst_severity, updated_at = now()
            """)
    }

    static func decode(_ text: String) throws -> Digest {
        do { return try JSONDecoder().decode(Digest.self, from: Data(text.utf8)) } catch {
            throw PostgresError(.decoding, "a stored digest is unreadable: \(error)")
        }
    }

    /// Each athlete's latest digest on or before `date` (default: the latest), optionally one squad's.
    public static func squad(_ squad: String?, date: Day?, on connection: Connection) throws -> [Digest] {
        var filter: SQL = ""
        if let squad {
            let id = try SquadStore.id(named: squad, on: connection)
            filter = "AND a.id IN (SELECT athlete_id FROM athlete_squads WHERE squad_id = \(id))"
        }
        let last: SQL = date.map { "AND night <= \($0)" } ?? ""
        return try connection.query("""
            SELECT d.digest::text FROM athletes a
            CROSS JOIN LATERAL (SELECT digest FROM digests WHERE athlete_id = a.id \(last) ORDER BY night DESC LIMIT 1) d
            WHERE true \(filter)
            """).map { try decode(try $0.decode(String.self, at: 0)) }
    }

    /// One athlete's digest of a night (the latest on or before `date`).
    public static func night(handle: String, date: Day?, on connection: Connection) throws -> Digest? {
        let last: SQL = date.map { "AND night <= \($0)" } ?? ""
        return try connection.query("""
            SELECT digest::text FROM digests WHERE athlete_id = (SELECT id FROM athletes WHERE handle = \(handle)) \(last)
            ORDER BY night DESC LIMIT 1
            """).first.map { try decode(try $0.decode(String.self, at: 0)) }
    }

    /// The night digests of the week containing `date`, up to it, oldest first.
    public static func week(handle: String, date: Day, on connection: Connection) throws -> [Digest] {
        try connection.query("""
            SELECT digest::text FROM digests WHERE athlete_id = (SELECT id FROM athletes WHERE handle = \(handle))
              AND night BETWEEN \(date.weekStart) AND \(date) ORDER BY night
            """).map { try decode(try $0.decode(String.self, at: 0)) }
    }
}

extension DigestStore {
    /// The daily series behind an athlete's charts: `days` days up to `date`.
    public static func series(handle: String, until date: Day, days: Int = 56, on connection: Connection) throws -> DigestSeries {
        let from = date.adding(days: -(days - 1))
        var acwr: [Day: Double] = [:]
        var restingHR: [Day: Double] = [:]
        var hrv: [Day: Double] = [:]
        for row in try connection.query("""
            SELECT m.local_date, (m.metrics ->> 'acwr')::float8 FROM daily_metrics m
            WHERE m.athlete_id = (SELECT id FROM athletes WHERE handle = \(handle)) AND m.local_date BETWEEN \(from) AND \(date)
            """) {
            let (day, value) = try row.decode((Day, Double?).self)
            acwr[day] = value
        }
        for row in try connection.query("""
            SELECT r.local_date, r.resting_hr, r.hrv_rmssd FROM daily_rollups r
            WHERE r.athlete_id = (SELECT id FROM athletes WHERE handle = \(handle)) AND r.local_date BETWEEN \(from) AND \(date)
            """) {
            let (day, rhr, variability) = try row.decode((Day, Double?, Double?).self)
            restingHR[day] = rhr
            hrv[day] = variability
        }
        let range = Array(from...date)
        return DigestSeries(days: range, acwr: range.map { acwr[$0] }, restingHR: range.map { restingHR[$0] }, hrv: range.map { hrv[$0] })
    }
}
