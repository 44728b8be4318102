import Foundation
import Postgres
import SquadCore

/// All SQL of the nightly run: claims, daily rollups, metrics, flags and progress.
///
/// Rollups are computed set-based in PostgreSQL for a whole batch of athletes (one
/// statement), so the JSON of the entries is read once, where it lives; Swift reads
/// back typed columns only.
public enum NightlyStore {
    /// An athlete due for the nightly run.
    public struct Candidate: Sendable {
        public var athlete: Athlete
        /// The night to process up to: `--date` or yesterday in the athlete's time zone.
        public var night: Day
        /// Yesterday in the athlete's time zone (device silence is judged only for it).
        public var yesterday: Day
        public var rules: RuleSet
    }

    /// One finished run, as `nightly_runs` keeps it for `/metrics`.
    public struct Run: Sendable {
        public var night: Day?
        public var startedAt: Date
        public var finishedAt: Date
        public var athletes: Int
        public var failed: Int
        public var skipped: Int
        public var runner: String
    }

    public static func record(_ run: Run, on connection: Connection) throws {
        try connection.execute("""
            INSERT INTO nightly_runs (night, started_at, finished_at, athletes, failed, skipped, runner)
            VALUES (\(run.night), \(run.startedAt), \(run.finishedAt), \(run.athletes), \(run.failed), \(run.skipped), \(run.runner))
            """)
    }

    /// Every athlete (or one) with the night to process and the effective rules.
    public static func candidates(handle: String?, date: Day?, now: Date, on connection: Connection) throws -> [Candidate] {
        // Erased athletes keep only id-only tombstones: nothing to compute.
        let filter: SQL = handle.map { "WHERE a.erased_at IS NULL AND a.handle = \($0)" } ?? "WHERE a.erased_at IS NULL"
        let rows = try connection.query("""
            SELECT a.id, a.handle, a.name, a.time_zone, a.hr_max, a.hr_rest, a.level,
                   ((\(now) AT TIME ZONE a.time_zone)::date - 1) AS yesterday,
                   a.settings::text,
                   coalesce((SELECT s.settings::text FROM athlete_squads m JOIN squads s ON s.id = m.squad_id
                             WHERE m.athlete_id = a.id ORDER BY s.id LIMIT 1), '{}')
            FROM athletes a \(filter) ORDER BY a.id
            """)
        return try rows.map { row in
            let (id, handle, name, tz, hrMax, hrRest, level, yesterday, athleteSettings, squadSettings) =
                try row.decode((Int64, String, String, String, Int?, Int?, String, Day, String, String).self)
            let athlete = Athlete(id: id, handle: handle, name: name, timeZone: tz, sex: nil, birthYear: nil, hrMax: hrMax, hrRest: hrRest,
                                  level: Athlete.Level(rawValue: level) ?? .intermediate, squads: [], createdAt: now)
            return Candidate(athlete: athlete, night: date ?? yesterday, yesterday: yesterday,
                             rules: RuleSettings.ruleSet(squad: squadSettings, athlete: athleteSettings))
        }
    }

    /// Claims athletes for this transaction: rows locked by another runner are skipped
    /// (`FOR UPDATE SKIP LOCKED`), so two runners never process the same athlete at once.
    public static func claim(_ ids: [Int64], on connection: Connection) throws -> [Int64: Progress] {
        try connection.execute("INSERT INTO nightly_state (athlete_id) SELECT unnest(\(ids)) ON CONFLICT DO NOTHING")
        var claimed: [Int64: Progress] = [:]
        for row in try connection.query("""
            SELECT athlete_id, last_night, seen_seq FROM nightly_state
            WHERE athlete_id = ANY(\(ids)) ORDER BY athlete_id FOR UPDATE SKIP LOCKED
            """) {
            let (id, night, seen) = try row.decode((Int64, Day?, Int64).self)
            claimed[id] = Progress(lastNight: night, seenSeq: seen)
        }
        return claimed
    }

    /// How far the nightly run got for an athlete.
    public struct Progress: Sendable, Equatable {
        public var lastNight: Day?
        public var seenSeq: Int64
    }

    /// Locks the athletes' sync counters (pushes for them wait until the run commits, so
    /// no entry can slip between what the run reads and the seq it records as seen).
    /// Returns each athlete's current last seq.
    public static func lockHeads(_ ids: [Int64], on connection: Connection) throws -> [Int64: Int64] {
        var heads: [Int64: Int64] = [:]
        for row in try connection.query("""
            INSERT INTO athlete_sync (athlete_id) SELECT id FROM unnest(\(ids.sorted())) AS t(id) ORDER BY id
            ON CONFLICT (athlete_id) DO UPDATE SET last_seq = athlete_sync.last_seq
            RETURNING athlete_id, last_seq
            """) {
            let (id, seq) = try row.decode((Int64, Int64).self)
            heads[id] = seq
        }
        return heads
    }

    /// The earliest local day touched by entries or duplicate links that changed after
    /// each athlete's seen seq (late entries, edits, deletes, links, unlinks).
    public static func dirtyDays(_ progress: [Int64: Progress], on connection: Connection) throws -> [Int64: Day] {
        guard !progress.isEmpty else { return [:] }
        let ids = Array(progress.keys)
        let seen = ids.map { progress[$0]!.seenSeq }
        var days: [Int64: Day] = [:]
        for row in try connection.query("""
            WITH t AS (SELECT * FROM unnest(\(ids), \(seen)) AS t(athlete_id, seen)),
            -- LATERAL ... OFFSET 0 (never pulled up into a hash join): one index scan per athlete
            -- on (athlete_id, seq), never a scan of the table; the planner cannot know how few rows follow `seen`.
            changed AS (
                SELECT t.athlete_id, c.local_date, c.started_at FROM t
                CROSS JOIN LATERAL (SELECT e.local_date, e.started_at FROM entries e
                                    WHERE e.athlete_id = t.athlete_id AND e.seq > t.seen AND e.kind <> 'plan_session' OFFSET 0) c
                UNION ALL
                SELECT t.athlete_id, c.local_date, c.started_at FROM t
                CROSS JOIN LATERAL (SELECT e.local_date, e.started_at FROM duplicate_groups g
                                    JOIN entries e ON e.athlete_id = g.athlete_id AND e.entry_id = ANY(g.members)
                                    WHERE g.athlete_id = t.athlete_id AND g.seq > t.seen OFFSET 0) c
            )
            SELECT c.athlete_id, min(CASE WHEN c.started_at IS NOT NULL THEN (c.started_at AT TIME ZONE a.time_zone)::date ELSE c.local_date END)
            FROM changed c JOIN athletes a ON a.id = c.athlete_id GROUP BY c.athlete_id
            """) {
            let (id, day) = try row.decode((Int64, Day?).self)
            if let day { days[id] = day }
        }
        return days
    }

    /// Recomputes `daily_rollups` from `from` on, for each athlete, in two statements.
    /// `easyRPE` and `easyHRPercent` are each athlete's `easy.max_rpe` and `easy.max_hr_pct`.
    public static func rebuildRollups(_ targets: [(id: Int64, from: Day, easyRPE: Double, easyHRPercent: Double)], on connection: Connection) throws {
        guard !targets.isEmpty else { return }
        let ids = targets.map(\.id)
        let froms = targets.map(\.from)
        try connection.execute("""
            DELETE FROM daily_rollups r USING (
                SELECT t.athlete_id, d.local_date FROM unnest(\(ids), \(froms)) AS t(athlete_id, from_day)
                CROSS JOIN LATERAL (SELECT local_date FROM daily_rollups WHERE athlete_id = t.athlete_id AND local_date >= t.from_day OFFSET 0) d
            ) k
            WHERE r.athlete_id = k.athlete_id AND r.local_date = k.local_date
            """)
        try connection.execute("""
            WITH t AS (
                SELECT * FROM unnest(\(ids), \(froms), \(targets.map(\.easyRPE)), \(targets.map(\.easyHRPercent)))
                    AS t(athlete_id, from_day, easy_rpe, easy_hr_pct)
            ),
            -- LATERAL ... OFFSET 0: each athlete's entries by index (local_date or started_at), not a scan of all.
            e AS (
                SELECT t.athlete_id, e.entry_id, e.kind, e.started_at, e.doc -> 'body' AS b, t.from_day, t.easy_rpe,
                       t.easy_hr_pct * coalesce(a.hr_max, 190) / 100.0 AS easy_hr,
                       CASE WHEN e.started_at IS NOT NULL THEN (e.started_at AT TIME ZONE a.time_zone)::date ELSE e.local_date END AS day
                FROM t JOIN athletes a ON a.id = t.athlete_id
                CROSS JOIN LATERAL (
                    SELECT c.entry_id, c.kind, c.started_at, c.doc, c.local_date FROM counted_entries c
                    WHERE c.athlete_id = t.athlete_id AND c.kind IN ('run', 'cross', 'wellness', 'drills')
                      AND (c.local_date >= t.from_day - 1 OR c.started_at >= t.from_day - 2)
                    OFFSET 0
                ) e
            ),
            f AS (
                SELECT e.*,
                       CASE WHEN jsonb_typeof(b -> 'distance_m') = 'number' THEN (b ->> 'distance_m')::float8 END AS dist,
                       coalesce(CASE WHEN jsonb_typeof(b -> 'moving_s') = 'number' THEN (b ->> 'moving_s')::float8 END,
                                CASE WHEN jsonb_typeof(b -> 'elapsed_s') = 'number' THEN (b ->> 'elapsed_s')::float8 END, 0) AS dur,
                       CASE WHEN jsonb_typeof(b -> 'rpe') = 'number' THEN (b ->> 'rpe')::float8 END AS rpe,
                       b ->> 'session_type' AS stype,
                       CASE WHEN jsonb_typeof(b #> '{hr,avg_bpm}') = 'number' THEN (b #>> '{hr,avg_bpm}')::float8 END AS avg_hr,
                       CASE WHEN jsonb_typeof(b #> '{cadence,avg_spm}') = 'number' THEN (b #>> '{cadence,avg_spm}')::float8 END AS cadence
                FROM e WHERE e.day >= e.from_day AND e.kind <> 'drills'
            ),
            -- Drills per athlete-day, joined to quality runs (not a subquery per run).
            dr AS (
                SELECT athlete_id, day, array_agg(started_at) AS starts, array_agg(b ->> 'before_entry_id') AS befores
                FROM e WHERE kind = 'drills' AND e.day >= e.from_day GROUP BY athlete_id, day
            ),
            g AS (
                SELECT f.*,
                       -- Foster load needs RPE; without one, a typical RPE for the session type.
                       coalesce(rpe, CASE stype WHEN 'easy' THEN 3 WHEN 'recovery' THEN 2 WHEN 'long' THEN 4 WHEN 'strides' THEN 4
                                     WHEN 'tempo' THEN 6 WHEN 'fartlek' THEN 6 WHEN 'hills' THEN 7 WHEN 'interval' THEN 8 WHEN 'race' THEN 9
                                     ELSE 4 END) AS load_rpe,
                       CASE WHEN rpe IS NOT NULL THEN rpe <= easy_rpe
                            WHEN avg_hr IS NOT NULL THEN avg_hr < easy_hr
                            ELSE coalesce(stype, 'easy') IN ('easy', 'recovery', 'long', 'strides') END AS is_easy,
                       (stype = 'long' OR dur >= 5400) AS is_long,
                       stype IN ('tempo', 'interval', 'hills') AS is_quality
                FROM f
            ),
            h AS (
                SELECT g.*,
                       CASE WHEN kind = 'run' AND cadence IS NOT NULL AND dist > 0 AND dur > 0 THEN
                           cadence < CASE WHEN dur / (dist / 1000) > 335.5 THEN 160 WHEN dur / (dist / 1000) > 261 THEN 170 ELSE 180 END
                       END AS low_cadence,
                       CASE WHEN kind = 'run' AND is_long AND jsonb_typeof(b -> 'splits') = 'array' THEN (
                           SELECT CASE WHEN max(n) >= 4 THEN
                                   (avg(c) FILTER (WHERE i <= n / 4) - avg(c) FILTER (WHERE i > n - n / 4))
                                   / nullif(avg(c) FILTER (WHERE i <= n / 4), 0) * 100 END
                           FROM (SELECT c, row_number() OVER (ORDER BY ord) AS i, count(*) OVER () AS n
                                 FROM (SELECT (s ->> 'avg_cadence_spm')::float8 AS c, ord
                                       FROM jsonb_array_elements(b -> 'splits') WITH ORDINALITY AS x(s, ord)
                                       WHERE jsonb_typeof(s -> 'avg_cadence_spm') = 'number') y) z)
                       END AS fade,
                       CASE WHEN kind = 'run' AND is_quality THEN coalesce(
                           g.entry_id::text = ANY(dr.befores)
                           -- drills logged with only a date count for that day's session
                           OR EXISTS (SELECT 1 FROM unnest(dr.starts) AS s(at)
                                      WHERE s.at IS NULL OR s.at BETWEEN g.started_at - interval '2 hours' AND g.started_at),
                           false)
                       END AS warmed_up,
                       CASE WHEN kind = 'wellness' AND jsonb_typeof(b -> 'pain') = 'array' THEN
                           (SELECT max((p ->> 'severity')::float8) FROM jsonb_array_elements(b -> 'pain') p
                            WHERE jsonb_typeof(p -> 'severity') = 'number')
                       END AS pain_max,
                       CASE WHEN kind = 'wellness' AND jsonb_typeof(b -> 'pain') = 'array' THEN
                           (SELECT string_agg(replace(p ->> 'location', chr(31), ''), chr(31)) FROM jsonb_array_elements(b -> 'pain') p
                            WHERE jsonb_typeof(p -> 'location') = 'string' AND coalesce((p ->> 'severity')::float8, 1) > 0)
                       END AS pain_locs
                FROM g LEFT JOIN dr ON dr.athlete_id = g.athlete_id AND dr.day = g.day
            ),
            agg AS (
                SELECT athlete_id, day,
                       coalesce(sum(dist) FILTER (WHERE kind = 'run'), 0) AS run_m,
                       coalesce(sum(dur) FILTER (WHERE kind = 'run'), 0) AS run_s,
                       coalesce(sum(dur) FILTER (WHERE kind IN ('run', 'cross')), 0) AS train_s,
                       coalesce(sum(dur / 60 * load_rpe) FILTER (WHERE kind IN ('run', 'cross')), 0) AS load,
                       count(*) FILTER (WHERE kind = 'run') AS runs,
                       coalesce(sum(dur) FILTER (WHERE kind = 'run' AND is_easy), 0) AS easy_s,
                       coalesce(sum(dur) FILTER (WHERE kind = 'run' AND NOT is_easy), 0) AS hard_s,
                       count(*) FILTER (WHERE low_cadence IS NOT NULL) AS cadence_runs,
                       count(*) FILTER (WHERE low_cadence) AS low_cadence_runs,
                       count(*) FILTER (WHERE kind = 'run' AND is_long) AS long_runs,
                       max(fade) AS worst_fade,
                       count(*) FILTER (WHERE kind = 'run' AND is_quality) AS quality_runs,
                       count(*) FILTER (WHERE kind = 'run' AND is_quality AND NOT warmed_up) AS quality_no_warmup,
                       avg(CASE WHEN jsonb_typeof(b -> 'resting_hr_bpm') = 'number' THEN (b ->> 'resting_hr_bpm')::float8 END)
                           FILTER (WHERE kind = 'wellness') AS resting_hr,
                       avg(CASE WHEN jsonb_typeof(b #> '{hrv,rmssd_ms}') = 'number' THEN (b #>> '{hrv,rmssd_ms}')::float8 END)
                           FILTER (WHERE kind = 'wellness') AS hrv,
                       avg(CASE WHEN jsonb_typeof(b #> '{sleep,asleep_s}') = 'number' THEN (b #>> '{sleep,asleep_s}')::float8 END)
                           FILTER (WHERE kind = 'wellness') AS sleep_s,
                       (array_agg(b ->> 'legs' ORDER BY started_at DESC NULLS LAST)
                           FILTER (WHERE kind = 'wellness' AND jsonb_typeof(b -> 'legs') = 'string'))[1] AS legs,
                       avg(CASE WHEN jsonb_typeof(b -> 'soreness') = 'number' THEN (b ->> 'soreness')::float8 END)
                           FILTER (WHERE kind = 'wellness') AS soreness,
                       bool_or(CASE WHEN jsonb_typeof(b -> 'illness') = 'boolean' THEN (b ->> 'illness')::boolean END)
                           FILTER (WHERE kind = 'wellness') AS illness,
                       max(pain_max) AS pain_max,
                       string_agg(pain_locs, chr(31)) AS pain_locs
                FROM h GROUP BY athlete_id, day
            )
            INSERT INTO daily_rollups (athlete_id, local_date, run_m, run_s, train_s, load, runs, easy_s, hard_s, cadence_runs,
                                       low_cadence_runs, long_runs, worst_fade_pct, quality_runs, quality_no_warmup, resting_hr,
                                       hrv_rmssd, sleep_s, legs, soreness, illness, pain_max, pain_locations)
            SELECT athlete_id, day, run_m, run_s, train_s, load, runs, easy_s, hard_s, cadence_runs, low_cadence_runs, long_runs,
                   worst_fade, quality_runs, quality_no_warmup, resting_hr, hrv, sleep_s, legs, soreness, illness, pain_max,
                   coalesce(ARRAY(SELECT DISTINCT x FROM unnest(string_to_array(pain_locs, chr(31))) AS x WHERE x <> '' ORDER BY x), '{}')
            FROM agg
            """)
    }

    /// Rollups of each athlete from `from` on. Before `fullFrom` only the columns the long
    /// windows use (volume, load, resting HR, HRV: baselines and chronic load) are sent; the
    /// others come back as NULL, which costs nothing to decode.
    public static func rollups(_ targets: [(id: Int64, from: Day, fullFrom: Day)], on connection: Connection) throws -> [Int64: [Day: DayRollup]] {
        guard !targets.isEmpty else { return [:] }
        var result: [Int64: [Day: DayRollup]] = [:]
        for row in try connection.query("""
            SELECT r.athlete_id, r.local_date, r.run_m, r.train_s, r.load, r.resting_hr, r.hrv_rmssd, r.recent,
                   CASE WHEN r.recent THEN r.run_s END, CASE WHEN r.recent THEN r.runs END, CASE WHEN r.recent THEN r.easy_s END,
                   CASE WHEN r.recent THEN r.hard_s END, CASE WHEN r.recent THEN r.cadence_runs END, CASE WHEN r.recent THEN r.low_cadence_runs END,
                   CASE WHEN r.recent THEN r.long_runs END, CASE WHEN r.recent THEN r.worst_fade_pct END, CASE WHEN r.recent THEN r.quality_runs END,
                   CASE WHEN r.recent THEN r.quality_no_warmup END, CASE WHEN r.recent THEN r.sleep_s END, CASE WHEN r.recent THEN r.legs END,
                   CASE WHEN r.recent THEN r.soreness END, CASE WHEN r.recent THEN r.illness END, CASE WHEN r.recent THEN r.pain_max END,
                   CASE WHEN r.recent THEN r.pain_locations END
            FROM unnest(\(targets.map(\.id)), \(targets.map(\.from)), \(targets.map(\.fullFrom))) AS t(athlete_id, from_day, full_from)
            CROSS JOIN LATERAL (SELECT d.*, d.local_date >= t.full_from AS recent FROM daily_rollups d
                                WHERE d.athlete_id = t.athlete_id AND d.local_date >= t.from_day OFFSET 0) r
            """) {
            let (id, day, runM, trainS, load, restingHR, hrv, recent) = try row.decode((Int64, Day, Double, Double, Double, Double?, Double?, Bool).self)
            var rollup = DayRollup(day: day)
            rollup.runMetres = runM
            rollup.trainSeconds = trainS
            rollup.load = load
            rollup.restingHR = restingHR
            rollup.hrvRMSSD = hrv
            if recent {
                rollup.runSeconds = try row.decode(Double.self, at: 8)
                rollup.runs = try row.decode(Int.self, at: 9)
                rollup.easySeconds = try row.decode(Double.self, at: 10)
                rollup.hardSeconds = try row.decode(Double.self, at: 11)
                rollup.cadenceRuns = try row.decode(Int.self, at: 12)
                rollup.lowCadenceRuns = try row.decode(Int.self, at: 13)
                rollup.longRuns = try row.decode(Int.self, at: 14)
                rollup.worstFadePercent = try row.decode(Double?.self, at: 15)
                rollup.qualityRuns = try row.decode(Int.self, at: 16)
                rollup.qualityWithoutWarmup = try row.decode(Int.self, at: 17)
                rollup.sleepSeconds = try row.decode(Double?.self, at: 18)
                rollup.legs = try row.decode(String?.self, at: 19)
                rollup.soreness = try row.decode(Double?.self, at: 20)
                rollup.illness = try row.decode(Bool?.self, at: 21)
                rollup.painMax = try row.decode(Double?.self, at: 22)
                rollup.painLocations = try row.decode([String].self, at: 23)
            }
            result[id, default: [:]][day] = rollup
        }
        return result
    }

    /// Stored metrics state per athlete: EWMA on a day and live fatigue flags per day.
    public static func storedMetrics(_ targets: [(id: Int64, from: Day)], on connection: Connection) throws -> [Int64: [Day: (ewma: EWMAState, activeFlags: Int)]] {
        guard !targets.isEmpty else { return [:] }
        var result: [Int64: [Day: (ewma: EWMAState, activeFlags: Int)]] = [:]
        for row in try connection.query("""
            SELECT m.athlete_id, m.local_date, m.ewma_acute, m.ewma_chronic, coalesce(m.active_flags, 0)
            FROM unnest(\(targets.map(\.id)), \(targets.map(\.from))) AS t(athlete_id, from_day)
            CROSS JOIN LATERAL (SELECT * FROM daily_metrics WHERE athlete_id = t.athlete_id AND local_date >= t.from_day OFFSET 0) m
            """) {
            let (id, day, acute, chronic, flags) = try row.decode((Int64, Day, Double, Double, Int).self)
            result[id, default: [:]][day] = (EWMAState(acute: acute, chronic: chronic), flags)
        }
        return result
    }

    /// Upserts metrics of several athletes in one statement; `activeFlags` only for the
    /// nights whose flags were evaluated (other days keep theirs).
    public static func saveMetrics(_ batch: [(athleteID: Int64, metrics: [DailyMetrics], activeFlags: [Day: Int])], on connection: Connection) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var ids: [Int64] = [], days: [Day] = [], docs: [String] = [], acute: [Double] = [], chronic: [Double] = [], flags: [Int?] = []
        for (athleteID, metrics, activeFlags) in batch {
            for metric in metrics {
                ids.append(athleteID)
                days.append(metric.date)
                docs.append(String(decoding: try encoder.encode(metric), as: UTF8.self))
                acute.append(metric.ewmaAcute)
                chronic.append(metric.ewmaChronic)
                flags.append(activeFlags[metric.date])
            }
        }
        guard !ids.isEmpty else { return }
        try connection.execute("""
            INSERT INTO daily_metrics (athlete_id, local_date, metrics, ewma_acute, ewma_chronic, active_flags)
            SELECT m.id, m.day, m.doc::jsonb, m.acute, m.chronic, m.flags
            FROM unnest(\(ids), \(days), \(docs)::text[], \(acute), \(chronic), \(flags)::int8[]) AS m(id, day, doc, acute, chronic, flags)
            ON CONFLICT (athlete_id, local_date) DO UPDATE SET
                metrics = excluded.metrics, ewma_acute = excluded.ewma_acute, ewma_chronic = excluded.ewma_chronic,
                active_flags = coalesce(excluded.active_flags, daily_metrics.active_flags),
                computed_at = now()
            """)
    }

    /// Active devices and their last sync, per athlete.
    public static func devices(_ ids: [Int64], on connection: Connection) throws -> [Int64: [DeviceSyncState]] {
        var result: [Int64: [DeviceSyncState]] = [:]
        for row in try connection.query("""
            SELECT d.athlete_id, d.name, (d.last_sync_at AT TIME ZONE a.time_zone)::date, (d.created_at AT TIME ZONE a.time_zone)::date
            FROM devices d JOIN athletes a ON a.id = d.athlete_id
            WHERE d.athlete_id = ANY(\(ids)) AND d.revoked_at IS NULL AND d.name NOT IN ('import', 'coach')
            """) {
            let (id, name, last, enrolled) = try row.decode((Int64, String, Day?, Day).self)
            result[id, default: []].append(DeviceSyncState(name: name, lastSync: last, enrolled: enrolled))
        }
        return result
    }

    /// Records each athlete's last processed night and the seq it has seen.
    public static func saveProgress(_ batch: [(athleteID: Int64, night: Day, seenSeq: Int64)], on connection: Connection) throws {
        guard !batch.isEmpty else { return }
        try connection.execute("""
            UPDATE nightly_state n SET last_night = greatest(n.last_night, p.night), seen_seq = p.seen, updated_at = now()
            FROM unnest(\(batch.map(\.athleteID)), \(batch.map(\.night)), \(batch.map(\.seenSeq))) AS p(id, night, seen)
            WHERE n.athlete_id = p.id
            """)
    }
}

/// Rule settings kept in `squads.settings` and `athletes.settings`:
/// `{"rules_pack": "evidence", "rules": {"rhr_elevated.pct": 8}}`.
public enum RuleSettings {
    public static func ruleSet(squad: String, athlete: String) -> RuleSet {
        let squadJSON = (try? StrictJSON.parse(squad)) ?? .object([:])
        let athleteJSON = (try? StrictJSON.parse(athlete)) ?? .object([:])
        let pack = squadJSON.value(at: "rules_pack")?.stringValue.flatMap(RuleSet.Pack.init(rawValue:)) ?? .seeds
        return RuleSet(pack: pack, squad: overrides(squadJSON), athlete: overrides(athleteJSON))
    }

    static func overrides(_ settings: JSONValue) -> [String: Double] {
        guard let rules = settings.objectValue?["rules"]?.objectValue else { return [:] }
        return rules.dictionary.compactMapValues(\.numberValue)
    }
}
