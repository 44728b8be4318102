import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// Migration 0013: the daemon's role sees only its request's athlete (or coach) rows.
@Suite("Row-level security")
struct RowSecurityTests {
    static let zone = "Europe/Lisbon"
    static let night = Day("2026-11-22")!

    /// Two squads with an athlete each, logs, plans, a nightly run (flags, digests, metrics),
    /// a conflict, an audit row and a coach per squad.
    static func world() async throws -> (NightlyFixture, ana: Int64, zed: Int64, maria: Int64) {
        let fixture = try await NightlyFixture.make(athletes: [("ana", zone)])
        let maria = try await fixture.pool.withTransaction { connection -> Int64 in
            _ = try SquadStore.create(name: "Other", on: connection)
            _ = try AthleteStore.add(NewAthlete(handle: "zed", name: "Zed", squad: "Other", timeZone: zone), currentYear: 2026, on: connection)
            _ = try DeviceStore.enroll(handle: "zed", name: "zed-watch", type: "watch", key: TestTokenKey.key, on: connection)
            _ = try DeviceStore.enroll(handle: "zed", name: "zed-phone", type: "phone", key: TestTokenKey.key, on: connection)
            let (coach, _) = try CoachStore.add(handle: "maria", name: nil, squad: "Club", key: TestTokenKey.key, on: connection)
            return coach.id
        }
        for handle in ["ana", "zed"] {
            try await fixture.logSteady(handle, zone: zone, until: night, weeks: 3)
            try await fixture.log(handle, device: "phone", [NightlyFixture.wellness(night, zone: zone, illness: true)])
            try await fixture.generatePlan(handle, from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)
        }
        _ = try await fixture.nightly(night, now: Date(timeIntervalSince1970: 1_795_428_000))
        let ids = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT (SELECT id FROM athletes WHERE handle = 'ana'), (SELECT id FROM athletes WHERE handle = 'zed')")[0].decode((Int64, Int64).self)
        }
        return (fixture, ids.0, ids.1, maria)
    }

    /// Every table holding an athlete's rows: an `athlete_id` column, plus athletes and plan_weeks.
    static func ownedTables(on connection: Connection) throws -> [String] {
        try connection.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
              AND (c.relname IN ('athletes', 'plan_weeks')
                   OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'athlete_id' AND NOT a.attisdropped))
            ORDER BY 1
            """).map { try $0.decode(String.self, at: 0) }
    }

    /// A database whose statistics say "nearly empty, and not this athlete" (a new server
    /// whose first rows came and went), after which the athlete's 3,000 runs arrive, each
    /// with an external id `strava:N`. Returns the database, its owner connection and the athlete.
    static func staleStatistics() throws -> (TestDatabase.Handle, Connection, Int64) {
        let database = try TestDatabase.make()
        let owner = try database.connect()
        try owner.execute("INSERT INTO squads (name) VALUES ('S')")
        let athlete = try owner.query("INSERT INTO athletes (handle, name, time_zone) VALUES ('a', 'A', 'Europe/Lisbon') RETURNING id")[0].decode(Int64.self, at: 0)
        let other = try owner.query("INSERT INTO athletes (handle, name, time_zone) VALUES ('b', 'B', 'Europe/Lisbon') RETURNING id")[0].decode(Int64.self, at: 0)
        try owner.execute("""
            INSERT INTO entries (athlete_id, entry_id, kind, version, seq, deleted, doc, merge_state, created_hlc, updated_hlc, started_at, local_date)
            SELECT \(other), gen_random_uuid(), 'run', 1, g, false, '{"body": {}}', '{}', 'x', 'x', timestamptz '2025-01-01' + g * interval '1 hour', NULL
            FROM generate_series(1, 20000) g
            """)
        try owner.execute("DELETE FROM entries WHERE athlete_id = \(other) AND seq > 50")
        try owner.execute("INSERT INTO entry_sources (athlete_id, external_key, entry_id) SELECT athlete_id, 'garmin:' || seq, entry_id FROM entries")
        try owner.execute("VACUUM ANALYZE entries")
        try owner.execute("VACUUM ANALYZE entry_sources")
        try owner.execute("""
            INSERT INTO entries (athlete_id, entry_id, kind, version, seq, deleted, doc, merge_state, created_hlc, updated_hlc, started_at, local_date)
            SELECT \(athlete), gen_random_uuid(), 'run', 1, g, false, '{"body": {"elapsed_s": 1800}}', '{}', 'x', 'x',
                   timestamptz '2026-01-01' + g * interval '2 hours', date '2026-01-01'
            FROM generate_series(1, 3000) g
            """)
        try owner.execute("INSERT INTO entry_sources (athlete_id, external_key, entry_id) SELECT athlete_id, 'strava:' || seq, entry_id FROM entries WHERE athlete_id = \(athlete)")
        return (database, owner, athlete)
    }

    /// The loop counts of an EXPLAIN ANALYZE.
    static func loops(_ plan: String) -> [Int] {
        plan.split(separator: "\n").filter { $0.contains("loops=") }
            .compactMap { line in line.range(of: "loops=").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) } }
    }

    @Test("the duplicate window search is one index range scan under the policies (its bounds are leakproof), even with statistics from a nearly empty table")
    func windowSearchPlan() async throws {
        let (database, _, athlete) = try Self.staleStatistics()
        let starts = (0..<500).map { Int64(1_767_225_600_000) + Int64($0) * 7_200_000 }
        let pool = try database.requestPool(maxConnections: 1)
        let plan = try await pool.withTransaction(scope: .athlete(athlete)) {
            try DuplicateStore.windowSearchPlan(athleteID: athlete, startingNear: starts, on: $0)
        }
        #expect(!plan.contains("Seq Scan on entries"), "\(plan)")
        if plan.contains("entries_activity_start_idx") {
            #expect(plan.contains("AND (started_at >= '"), "through the activity index, the bounds reach its condition: \(plan)")
        }
        // The range is scanned once: never once per window and entry of the athlete (a semi
        // join of per-window scans planned from these statistics did that, 3,000 x 500 here).
        let counted = try await pool.withTransaction(scope: .athlete(athlete)) { connection in
            // A bad plan fails here in seconds, not after the 1.5 million scans it would make.
            try connection.execute("SELECT set_config('statement_timeout', '20s', true)")
            return try DuplicateStore.windowSearchPlan(athleteID: athlete, startingNear: starts, analyze: true, on: connection)
        }
        let loops = Self.loops(counted)
        #expect(!loops.isEmpty && loops.allSatisfy { $0 == 1 }, "\(counted)")
        #expect(counted.contains("actual rows=499 "), "the range holds the 499 entries near the windows: \(counted)")
        await pool.close()
    }

    @Test("the duplicate search by external id reads the athlete's entries once, even with statistics from a nearly empty table")
    func keyedSearchPlan() async throws {
        let (database, _, athlete) = try Self.staleStatistics()
        let keys = Set((1000..<1050).map { "strava:\($0)" })
        let pool = try database.requestPool(maxConnections: 1)
        let plan = try await pool.withTransaction(scope: .athlete(athlete)) { connection in
            try connection.execute("SELECT set_config('statement_timeout', '20s', true)")
            return try DuplicateStore.keyedActivitiesPlan(withKeys: keys, athleteID: athlete, on: connection)
        }
        // One join of these 50 keys was planned as a nested loop rescanning the athlete's
        // 3,000 entries once per key (loops=50).
        // (The per-row data score is a SubPlan over each found document: 50 loops is right.)
        let scans = Self.loops(plan.split(separator: "\n").filter { $0.contains(" on entries") || $0.contains(" on entry_sources") }.joined(separator: "\n"))
        #expect(scans.count >= 2 && scans.allSatisfy { $0 == 1 }, "\(plan)")
        #expect(plan.contains("actual rows=50 "), "the 50 entries with those ids: \(plan)")
        let found = try await pool.withTransaction(scope: .athlete(athlete)) {
            try DuplicateStore.keyedActivities(withKeys: keys, athleteID: athlete, on: $0)
        }
        #expect(found.count == 50)
        #expect(Set(found.flatMap { $0.externalKeys }) == keys, "each comes with the id it was found by")
        await pool.close()
    }

    @Test("every athlete-owned table has row security on and a policy for the daemon's role; the role owns none of them")
    func everyTableHasAPolicy() async throws {
        let database = try TestDatabase.make()
        let connection = try database.connect()
        let tables = try Self.ownedTables(on: connection)
        #expect(tables.count >= 18, "the athlete-owned tables: \(tables)")
        for table in tables {
            let (secured, policies, owner) = try connection.query("""
                SELECT c.relrowsecurity, (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname AND 'squadsync_app' = ANY(p.roles)),
                       pg_get_userbyid(c.relowner)
                FROM pg_class c WHERE c.relname = \(table) AND c.relnamespace = 'public'::regnamespace
                """)[0].decode((Bool, Int, String).self)
            #expect(secured, "\(table): row level security is off")
            #expect(policies >= 1, "\(table): no policy for squadsync_app")
            #expect(owner != "squadsync_app", "\(table) is owned by the request role")
        }
        let bypass = try connection.query("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'squadsync_app'")[0].decode(Bool.self, at: 0)
        #expect(!bypass, "the request role must not bypass row security")
    }

    @Test("without a scope the daemon's role reads nothing and writes nothing; with one it sees exactly that athlete's or that coach's rows")
    func scopes() async throws {
        let (fixture, ana, zed, maria) = try await Self.world()
        let tables = try await fixture.pool.withConnection { try Self.ownedTables(on: $0) }
        // What the owner sees: each table's rows in all, of ana, and of zed.
        let owner = try await fixture.pool.withConnection { connection -> [String: (all: Int, ana: Int)] in
            var counts: [String: (all: Int, ana: Int)] = [:]
            for table in tables {
                let all = try connection.query("SELECT count(*) FROM \(identifier: table)")[0].decode(Int.self, at: 0)
                let column = table == "athletes" ? "id" : "athlete_id"
                let anas = table == "plan_weeks"
                    ? try connection.query("SELECT count(*) FROM plan_weeks w JOIN plans p USING (plan_id) WHERE p.athlete_id = \(ana)")[0].decode(Int.self, at: 0)
                    : try connection.query("SELECT count(*) FROM \(identifier: table) WHERE \(identifier: column) = \(ana)")[0].decode(Int.self, at: 0)
                counts[table] = (all, anas)
            }
            return counts
        }
        let populated = owner.filter { $0.value.ana > 0 && $0.value.all > $0.value.ana }.keys.sorted()
        #expect(populated.count >= 12, "the world fills most tables for both athletes: \(populated)")

        let request = fixture.requestPool
        let unscoped = try await request.withTransaction { connection -> [String: Int] in
            var counts: [String: Int] = [:]
            for table in tables { counts[table] = try connection.query("SELECT count(*) FROM \(identifier: table)")[0].decode(Int.self, at: 0) }
            return counts
        }
        #expect(unscoped.values.allSatisfy { $0 == 0 }, "no scope, no rows: \(unscoped.filter { $0.value != 0 })")

        let asAna = try await request.withTransaction(scope: .athlete(ana)) { connection -> [String: Int] in
            var counts: [String: Int] = [:]
            for table in tables { counts[table] = try connection.query("SELECT count(*) FROM \(identifier: table)")[0].decode(Int.self, at: 0) }
            return counts
        }
        for table in tables {
            #expect(asAna[table] == owner[table]?.ana, "\(table) as ana: \(asAna[table] ?? -1), ana's rows: \(owner[table]?.ana ?? -1)")
        }
        // Maria coaches Club (ana), not Other (zed).
        let asMaria = try await request.withTransaction(scope: .coach(maria)) { connection in
            (try connection.query("SELECT array_agg(handle ORDER BY handle) FROM athletes")[0].decode([String].self, at: 0),
             try connection.query("SELECT count(*) FROM entries WHERE athlete_id = \(zed)")[0].decode(Int.self, at: 0),
             try connection.query("SELECT count(*) FROM entries")[0].decode(Int.self, at: 0))
        }
        #expect(asMaria.0 == ["ana"])
        #expect(asMaria.1 == 0, "zed's entries are invisible to maria")
        #expect(asMaria.2 == owner["entries"]?.ana)

        // Writes: outside the scope they are refused, not silently dropped.
        let foreign = await #expect(throws: PostgresError.self) {
            try await request.withTransaction(scope: .athlete(ana)) { connection in
                try connection.execute("""
                    INSERT INTO audit_log (athlete_id, actor, action, subject) VALUES (\(zed), 'x', 'test', 'x')
                    """)
            }
        }
        #expect(foreign?.message.contains("row-level security") == true, "\(foreign?.message ?? "-")")
        let updated = try await request.withTransaction(scope: .athlete(ana)) { connection in
            try connection.query("UPDATE athletes SET name = 'Hacked' WHERE id = \(zed) RETURNING id").count
        }
        #expect(updated == 0, "an update of another athlete's row touches nothing")
        await fixture.close()
    }
}
