import Foundation
import Postgres
import SquadCore

/// Serves `GET /v1/sync/pull`: every entry, conflict and duplicate link changed after a cursor, in seq order.
///
/// Why the cursor never skips a change: seq values come from the athlete's row in
/// `athlete_sync`, which every push locks until it commits (`EntryStore.lockHead`).
/// Pushes for one athlete therefore commit in the order they took their seq, and a
/// reader that sees seq N committed has every seq below N committed too. A bare
/// sequence or a timestamp would not give that: a transaction could commit a
/// smaller value after a reader moved past it. `PullCursorTests` commits writers
/// concurrently with delayed commits and checks the union of pulls equals the table.
public enum PullService {
    /// Why a cursor is refused.
    public enum CursorError: Error, Sendable, Equatable {
        /// Not a cursor of this server for this athlete (HTTP 400).
        case invalid
        /// Older than the tombstone horizon, or from before a restore (HTTP 410).
        case expired
    }

    public static let defaultLimit = 500
    public static let maximumLimit = 1000

    /// An opaque cursor: base64url of `v1.<athlete>.<seq>` (`SyncCursor`).
    public static func cursor(athleteID: Int64, seq: Int64) -> String {
        SyncCursor.encode(athleteID: athleteID, seq: seq)
    }

    public static func seq(fromCursor cursor: String?, athleteID: Int64) throws(CursorError) -> Int64 {
        guard let seq = SyncCursor.decode(cursor, athleteID: athleteID) else { throw .invalid }
        return seq
    }

    /// The response body, assembled from JSON the database builds (no re-parsing).
    public static func pull(athleteID: Int64, cursor: String?, limit: Int, on connection: Connection) throws -> String {
        let after = try seq(fromCursor: cursor, athleteID: athleteID)
        let head = try EntryStore.head(athleteID: athleteID, on: connection)
        if after > 0 && (after < head.horizonSeq || after > head.lastSeq) { throw CursorError.expired }
        let rows = try connection.query("""
            SELECT seq, change FROM (
                (SELECT seq, jsonb_build_object(
                        'type', 'entry', 'seq', seq, 'entry_id', entry_id, 'kind', kind, 'version', version,
                        'deleted', deleted, 'deleted_at', deleted_at, 'entry', doc)::text AS change
                 FROM entries WHERE athlete_id = \(athleteID) AND seq > \(after) ORDER BY seq LIMIT \(limit + 1))
                UNION ALL
                (SELECT seq, jsonb_build_object(
                        'type', 'conflict', 'seq', seq, 'conflict_id', conflict_id, 'entry_id', entry_id, 'field', field,
                        'kept', kept, 'other', other, 'other_op_id', loser_op_id, 'status', status)::text
                 FROM sync_conflicts WHERE athlete_id = \(athleteID) AND seq > \(after) ORDER BY seq LIMIT \(limit + 1))
                UNION ALL
                (SELECT seq, jsonb_build_object(
                        'type', 'link', 'seq', seq, 'group_id', group_id, 'primary_entry_id', primary_entry_id,
                        'members', to_jsonb(members), 'reason', reason, 'status', status)::text
                 FROM duplicate_groups WHERE athlete_id = \(athleteID) AND seq > \(after) ORDER BY seq LIMIT \(limit + 1))
            ) AS changes ORDER BY seq LIMIT \(limit + 1)
            """)
        let hasMore = rows.count > limit
        var last = after
        var body = "{\"changes\":["
        for (index, row) in rows.prefix(limit).enumerated() {
            let (seq, change) = try row.decode((Int64, String).self)
            if index > 0 { body += "," }
            body += change
            last = seq
        }
        let serverHLC = head.serverHLC?.description ?? ""
        body += "],\"next_cursor\":\"\(Self.cursor(athleteID: athleteID, seq: last))\",\"has_more\":\(hasMore),\"server_hlc\":\"\(serverHLC)\"}"
        return body
    }

    /// The latest state of one entry of this athlete, or `nil` (also for other athletes' entries).
    public static func entry(_ id: UUID, athleteID: Int64, on connection: Connection) throws -> String? {
        try connection.query("""
            SELECT jsonb_build_object('type', 'entry', 'seq', seq, 'entry_id', entry_id, 'kind', kind, 'version', version,
                                      'deleted', deleted, 'deleted_at', deleted_at, 'entry', doc)::text
            FROM entries WHERE athlete_id = \(athleteID) AND entry_id = \(id)
            """).first?.decode(String.self, at: 0)
    }
}
