import Foundation
import Postgres

/// SYNC.md's retention of deleted entries: the body stays 30 days for undo, the id-only
/// tombstone at least 180 days; after that it is removed and a pull cursor from before it
/// gets 410 `cursor_expired` (the device pushes its pending ops and pulls from the start).
///
/// Runs at the end of `coach nightly` and as `coach purge`. Idempotent; each step is one
/// set-based statement, and both run in one transaction.
public enum TombstonePurge {
    /// What one run did.
    public struct Report: Sendable, Encodable, Equatable {
        /// Tombstones whose body, source and merge history were dropped.
        public var bodiesPurged: Int
        /// Tombstones removed altogether.
        public var tombstonesRemoved: Int
        /// Athletes whose cursor horizon moved (older cursors now get 410).
        public var horizonsAdvanced: Int

        public init(bodiesPurged: Int, tombstonesRemoved: Int, horizonsAdvanced: Int) {
            self.bodiesPurged = bodiesPurged
            self.tombstonesRemoved = tombstonesRemoved
            self.horizonsAdvanced = horizonsAdvanced
        }

        enum CodingKeys: String, CodingKey {
            case bodiesPurged = "bodies_purged", tombstonesRemoved = "tombstones_removed", horizonsAdvanced = "horizons_advanced"
        }
    }

    public static let bodyDays = 30
    public static let horizonDays = 180

    /// - Parameters:
    ///   - now: the instant the ages are measured from (the wall clock; tests move it).
    ///   - dryRun: count what would go, change nothing.
    public static func run(now: Date = Date(), bodyDays: Int = bodyDays, horizonDays: Int = horizonDays, dryRun: Bool = false, on connection: Connection) throws -> Report {
        try connection.transaction { connection in
            let bodyCutoff = now.addingTimeInterval(-Double(bodyDays) * 86_400)
            let horizonCutoff = now.addingTimeInterval(-Double(horizonDays) * 86_400)
            // Oldest first: a tombstone past the horizon is removed, not just emptied.
            let removed = try connection.query("""
                WITH gone AS (
                    DELETE FROM entries WHERE deleted AND deleted_at < \(horizonCutoff) RETURNING athlete_id, entry_id, seq
                ), sources AS (
                    DELETE FROM entry_sources s USING gone g WHERE s.athlete_id = g.athlete_id AND s.entry_id = g.entry_id
                ), members AS (
                    DELETE FROM duplicate_members m USING gone g WHERE m.athlete_id = g.athlete_id AND m.entry_id = g.entry_id
                ), horizons AS (
                    UPDATE athlete_sync a SET horizon_seq = h.seq
                    FROM (SELECT athlete_id, max(seq) AS seq FROM gone GROUP BY athlete_id) h
                    WHERE a.athlete_id = h.athlete_id AND a.horizon_seq < h.seq
                    RETURNING a.athlete_id
                )
                SELECT (SELECT count(*) FROM gone)::int8, (SELECT count(*) FROM horizons)::int8
                """)
            let (tombstones, horizons) = try removed[0].decode((Int, Int).self)
            // The merge state keeps only the `deleted` register: later ops are judged against it.
            let purged = try connection.execute("""
                UPDATE entries SET
                    doc = jsonb_build_object('entry_id', doc->'entry_id', 'kind', doc->'kind', 'schema_version', doc->'schema_version'),
                    merge_state = jsonb_build_object(
                        'w', jsonb_build_array(merge_state->'w'->((merge_state->'r'->>'deleted')::int)),
                        'r', jsonb_build_object('deleted', 0), 'o', '{}'::jsonb)
                WHERE deleted AND deleted_at < \(bodyCutoff) AND doc ? 'body'
                """)
            try connection.execute("""
                DELETE FROM entry_sources s USING entries e
                WHERE s.athlete_id = e.athlete_id AND s.entry_id = e.entry_id AND e.deleted AND e.deleted_at < \(bodyCutoff)
                """)
            let report = Report(bodiesPurged: purged, tombstonesRemoved: tombstones, horizonsAdvanced: horizons)
            if dryRun { throw DryRun(report: report) }
            return report
        }
    }

    struct DryRun: Error { var report: Report }

    /// `run(dryRun: true)`: the counts, with the transaction rolled back.
    public static func preview(now: Date = Date(), on connection: Connection) throws -> Report {
        do {
            return try run(now: now, dryRun: true, on: connection)
        } catch let dryRun as DryRun {
            return dryRun.report
        }
    }
}
