import Foundation
import Logging
import Postgres
import SquadCore

/// `coach bench nightly`: the nightly run over generated athletes with a year of history
/// each, first run and an incremental night, against the ceiling of a bare SQL
/// aggregation (7- and 28-day window sums of session load) over the same rows, measured
/// in the same run on the same database.
public enum NightlyBenchmark {
    public struct Options: Sendable {
        public var athletes: Int
        public var days: Int
        public var workers: Int
        public var batchSize: Int

        public init(athletes: Int = 1000, days: Int = 365, workers: Int = 2, batchSize: Int = 100) {
            self.athletes = athletes
            self.days = days
            self.workers = workers
            self.batchSize = batchSize
        }
    }

    public struct Result: Sendable, Encodable {
        public var machine: String
        public var athletes: Int
        public var entries: Int
        public var generateSeconds: Double
        public var aggregationSeconds: Double
        public var windowAggregationSeconds: Double
        public var firstRunSeconds: Double
        public var incrementalSeconds: Double
        public var firstRunAthletesPerSecond: Double
        public var incrementalAthletesPerSecond: Double
        public var firstToAggregation: Double
        public var firstToWindowAggregation: Double
        public var incrementalToAggregation: Double
        public var failed: Int

        enum CodingKeys: String, CodingKey {
            case machine, athletes, entries
            case generateSeconds = "generate_s", aggregationSeconds = "bare_aggregation_s", windowAggregationSeconds = "bare_aggregation_read_window_s"
            case firstRunSeconds = "first_run_s", incrementalSeconds = "incremental_run_s"
            case firstRunAthletesPerSecond = "first_run_athletes_per_s", incrementalAthletesPerSecond = "incremental_athletes_per_s"
            case firstToAggregation = "first_to_aggregation", firstToWindowAggregation = "first_to_window_aggregation"
            case incrementalToAggregation = "incremental_to_aggregation", failed
        }
    }

    static let lastDay = Day("2026-11-22")!

    public static func run(_ options: Options, pool: ConnectionPool, logger: Logger, say: @escaping @Sendable (String) -> Void) async throws -> Result {
        let firstDay = lastDay.adding(days: -(options.days - 1))
        say("generating \(options.athletes) athletes x \(options.days) days of entries")
        let clock = ContinuousClock()
        let generated = try await clock.measure {
            try await pool.withConnection { connection in
                try connection.execute("INSERT INTO squads (name) VALUES ('Bench squad')")
                try connection.execute("""
                    INSERT INTO athletes (handle, name, time_zone, hr_max)
                    SELECT 'b' || g, 'Bench ' || g, 'Europe/Lisbon', 190 FROM generate_series(1, \(options.athletes)) g
                    """)
                try connection.execute("INSERT INTO athlete_squads (athlete_id, squad_id) SELECT id, (SELECT id FROM squads LIMIT 1) FROM athletes")
                try insertDays(from: firstDay, to: lastDay, on: connection)
                try connection.execute("VACUUM ANALYZE entries")
            }
        }
        let entries = try await pool.withConnection { try $0.query("SELECT count(*) FROM entries")[0].decode(Int.self, at: 0) }
        say("\(entries) entries in \(format(generated))")

        say("bare aggregation over all rows (the ceiling)")
        let aggregation = try await clock.measure { try await pool.withConnection { try bareAggregation(from: firstDay, on: $0) } }
        let window = try await clock.measure { try await pool.withConnection { try bareAggregation(from: lastDay.adding(days: -125), on: $0) } }
        say("aggregation: all \(format(aggregation)), the 125 days a first run reads \(format(window))")

        let now = Date(timeIntervalSince1970: Double(lastDay.ordinal + 1) * 86_400 + 36_000)
        say("first nightly run")
        var failed = 0
        let first = try await clock.measure {
            let report = try await NightlyRunner.run(NightlyRunner.Options(date: lastDay, batchSize: options.batchSize, workers: options.workers, now: now), pool: pool, logger: logger) { done, total in
                if done % max(1, total / 10) == 0 || done == total { say("  \(done)/\(total) athletes") }
            }
            failed += report.failed.count
        }
        say("one more day of entries for every athlete")
        try await pool.withConnection { try insertDays(from: lastDay.adding(days: 1), to: lastDay.adding(days: 1), on: $0) }
        say("incremental nightly run")
        let incremental = try await clock.measure {
            let report = try await NightlyRunner.run(NightlyRunner.Options(date: lastDay.adding(days: 1), batchSize: options.batchSize, workers: options.workers, now: now.addingTimeInterval(86_400)), pool: pool, logger: logger)
            failed += report.failed.count
        }
        let seconds = { (duration: Duration) in Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
        return Result(
            machine: PushBenchmark.machine(), athletes: options.athletes, entries: entries, generateSeconds: seconds(generated),
            aggregationSeconds: seconds(aggregation), windowAggregationSeconds: seconds(window),
            firstRunSeconds: seconds(first), incrementalSeconds: seconds(incremental),
            firstRunAthletesPerSecond: Double(options.athletes) / seconds(first), incrementalAthletesPerSecond: Double(options.athletes) / seconds(incremental),
            firstToAggregation: seconds(first) / seconds(aggregation), firstToWindowAggregation: seconds(first) / seconds(window),
            incrementalToAggregation: seconds(incremental) / seconds(aggregation), failed: failed)
    }

    static func format(_ duration: Duration) -> String {
        String(format: "%.1f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// One entry per athlete-day, about 670 bytes of envelope like a synced one: a run on
    /// five days of seven, a wellness morning on the other two, with seqs from the
    /// athlete's counter (as the sync path assigns them).
    static func insertDays(from: Day, to: Day, on connection: Connection) throws {
        try connection.execute("""
            INSERT INTO entries (athlete_id, entry_id, kind, version, seq, doc, merge_state, created_hlc, updated_hlc, started_at, local_date)
            SELECT a.id, gen_random_uuid(), d.kind, 1,
                   coalesce(s.last_seq, 0) + (d.day - \(from)) + 1,
                   jsonb_build_object(
                       'kind', d.kind, 'schema_version', 1,
                       'time', jsonb_build_object('start', to_char(d.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                                  'end', to_char((d.start + interval '45 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                                  'tz', 'Europe/Lisbon', 'local_date', d.day::text),
                       'source', jsonb_build_object('device_id', 'bench-watch-' || a.id, 'device_type', 'watch', 'recording_method', 'active',
                                                    'external_ids', jsonb_build_object('fit', md5(a.id::text || d.day::text))),
                       'body', CASE WHEN d.kind = 'run' THEN jsonb_build_object(
                                   'sport', 'run', 'session_type', CASE WHEN extract(isodow FROM d.day) = 7 THEN 'long' WHEN extract(isodow FROM d.day) = 4 THEN 'tempo' ELSE 'easy' END,
                                   'distance_m', 6000 + (a.id * 37 + d.n) % 8000, 'elapsed_s', 2400 + (a.id * 13 + d.n) % 3600,
                                   'moving_s', 2300 + (a.id * 13 + d.n) % 3600,
                                   'hr', jsonb_build_object('avg_bpm', 135 + (a.id + d.n) % 25, 'max_bpm', 172),
                                   'cadence', jsonb_build_object('avg_spm', 160 + (a.id * 7 + d.n) % 25),
                                   'rpe', 3 + (a.id + d.n) % 5, 'surface', 'road', 'shoes', 'daily trainer',
                                   'notes', 'steady run along the river, felt fine; legs a bit tight early on, loosened after 2 km')
                               ELSE jsonb_build_object(
                                   'local_date', d.day::text, 'resting_hr_bpm', 46 + (a.id * 3 + d.n) % 9,
                                   'hrv', jsonb_build_object('rmssd_ms', 55 + (a.id * 5 + d.n) % 20),
                                   'sleep', jsonb_build_object('asleep_s', 24000 + (a.id * 11 + d.n) % 7200),
                                   'soreness', 2, 'legs', 'normal', 'mood', 4, 'motivation', 4, 'illness', false,
                                   'notes', 'slept ok, a little stiff getting up; coffee and a short walk before work')
                               END,
                       'extra', '{}'::jsonb),
                   '{}'::jsonb, '000000000000000-0000-bench', '000000000000000-0000-bench', d.start, d.day
            FROM athletes a
            LEFT JOIN athlete_sync s ON s.athlete_id = a.id
            CROSS JOIN LATERAL (
                SELECT day::date AS day, day::date - DATE '2000-01-01' AS n,
                       CASE WHEN (a.id + (day::date - DATE '2000-01-01')) % 7 IN (0, 3) THEN 'wellness' ELSE 'run' END AS kind,
                       (day::date + time '07:00') AT TIME ZONE 'Europe/Lisbon' AS start
                FROM generate_series(\(from)::date, \(to)::date, interval '1 day') AS day
            ) d
            """)
        try connection.execute("""
            INSERT INTO athlete_sync (athlete_id, last_seq)
            SELECT athlete_id, max(seq) FROM entries GROUP BY athlete_id
            ON CONFLICT (athlete_id) DO UPDATE SET last_seq = excluded.last_seq
            """)
    }

    /// The ceiling: the per-day load from the JSON of every counted entry, then 7- and
    /// 28-day window sums per athlete, reduced to one row so nothing is shipped.
    static func bareAggregation(from: Day, on connection: Connection) throws {
        _ = try connection.query("""
            SELECT count(*), sum(acute), sum(chronic) FROM (
                SELECT sum(load) OVER w7 AS acute, sum(load) OVER w28 AS chronic
                FROM (SELECT athlete_id, local_date,
                             sum((doc #>> '{body,elapsed_s}')::float8 / 60 * coalesce((doc #>> '{body,rpe}')::float8, 4)) AS load,
                             sum((doc #>> '{body,distance_m}')::float8) AS metres
                      FROM counted_entries WHERE local_date >= \(from) GROUP BY athlete_id, local_date) d
                WINDOW w7 AS (PARTITION BY athlete_id ORDER BY local_date ROWS 6 PRECEDING),
                       w28 AS (PARTITION BY athlete_id ORDER BY local_date ROWS 27 PRECEDING)
            ) x
            """)
    }
}
