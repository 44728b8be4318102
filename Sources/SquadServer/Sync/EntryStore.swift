import Foundation
import Postgres
import SquadCore

/// All SQL for synced entries, their conflicts and the per-athlete sync counter.
///
/// Writes are set-based (one statement per table per push, arrays bound as
/// parameters), not a round trip per op: PERF.md puts one statement per 500 rows
/// at 27,000-50,000 rows/s against 10,000 for single-row inserts.
public enum EntryStore {
    /// The athlete's counter row, locked until the transaction ends.
    public struct SyncHead: Sendable {
        public var lastSeq: Int64
        public var serverHLC: HLC?
        public var horizonSeq: Int64
    }

    /// Locks (creating if needed) the athlete's counter row: one writer per athlete at a time.
    ///
    /// With `indexScansOnly`, the same statement also turns sequential scans off for the
    /// rest of the transaction (no round trip of its own): every statement of a push is
    /// keyed by athlete and has an index, and with statistics taken while `entries` was
    /// nearly empty (a new server, right after a bulk import) the planner chose a
    /// sequential scan per duplicate window, minutes per push (found by coach bench push).
    public static func lockHead(athleteID: Int64, indexScansOnly: Bool = false, on connection: Connection) throws -> SyncHead {
        try decodeHead(connection.query(lockHeadStatement(athleteID: athleteID, indexScansOnly: indexScansOnly)))
    }

    /// `lockHead` as a statement, to send ahead of the reads it must precede (`Connection.pipeline`).
    public static func lockHeadStatement(athleteID: Int64, indexScansOnly: Bool) -> SQL {
        """
        WITH head AS (
            INSERT INTO athlete_sync (athlete_id) VALUES (\(athleteID))
            ON CONFLICT (athlete_id) DO UPDATE SET last_seq = athlete_sync.last_seq
            RETURNING last_seq, server_hlc, horizon_seq)
        SELECT last_seq, server_hlc, horizon_seq, CASE WHEN \(indexScansOnly) THEN set_config('enable_seqscan', 'off', true) END
        FROM head
        """
    }

    public static func decodeHead(_ rows: QueryResult) throws -> SyncHead {
        let (lastSeq, hlc, horizon) = try rows[0].decode((Int64, String?, Int64).self)
        return SyncHead(lastSeq: lastSeq, serverHLC: hlc.flatMap(HLC.init), horizonSeq: horizon)
    }

    /// Reads the counter without locking (for pull).
    public static func head(athleteID: Int64, on connection: Connection) throws -> SyncHead {
        let rows = try connection.query("SELECT last_seq, server_hlc, horizon_seq FROM athlete_sync WHERE athlete_id = \(athleteID)")
        guard let row = rows.first else { return SyncHead(lastSeq: 0, serverHLC: nil, horizonSeq: 0) }
        let (lastSeq, hlc, horizon) = try row.decode((Int64, String?, Int64).self)
        return SyncHead(lastSeq: lastSeq, serverHLC: hlc.flatMap(HLC.init), horizonSeq: horizon)
    }

    /// Saves the counter and, in the same statement, marks `device` as just synced.
    public static func saveHead(athleteID: Int64, lastSeq: Int64, serverHLC: HLC, syncedDevice device: UUID? = nil, on connection: Connection) throws {
        try connection.execute(saveHeadStatement(athleteID: athleteID, lastSeq: lastSeq, serverHLC: serverHLC, syncedDevice: device))
    }

    public static func saveHeadStatement(athleteID: Int64, lastSeq: Int64, serverHLC: HLC, syncedDevice device: UUID?) -> SQL {
        guard let device else {
            return "UPDATE athlete_sync SET last_seq = \(lastSeq), server_hlc = \(serverHLC.description) WHERE athlete_id = \(athleteID)"
        }
        return """
            WITH head AS (
                UPDATE athlete_sync SET last_seq = \(lastSeq), server_hlc = \(serverHLC.description) WHERE athlete_id = \(athleteID))
            UPDATE devices SET last_seen_at = now(), last_sync_at = now() WHERE id = \(device)
            """
    }

    /// The stored entries with these ids, with their merge state.
    public static func load(_ ids: [UUID], athleteID: Int64, on connection: Connection) throws -> [UUID: EntryState] {
        guard !ids.isEmpty else { return [:] }
        return try decodeEntries(connection.query(loadStatement(ids, athleteID: athleteID)))
    }

    public static func loadStatement(_ ids: [UUID], athleteID: Int64) -> SQL {
        """
        SELECT entry_id, kind, version, seq, deleted, (extract(epoch FROM deleted_at) * 1000)::int8,
               doc::text, merge_state::text, created_hlc, updated_hlc
        FROM entries WHERE athlete_id = \(athleteID) AND entry_id = ANY(\(ids))
        """
    }

    public static func decodeEntries(_ rows: QueryResult) throws -> [UUID: EntryState] {
        var entries: [UUID: EntryState] = [:]
        for row in rows {
            let (id, kindText, version, seq, deleted, deletedAt, docText, stateText, createdText, updatedText) =
                try row.decode((UUID, String, Int, Int64, Bool, Int64?, String, String, String, String).self)
            guard let kind = EntryKind(rawValue: kindText), let doc = try? StrictJSON.parse(docText),
                  let stateJSON = try? StrictJSON.parse(stateText), let state = EntryState.decodeMergeState(stateJSON),
                  let created = HLC(createdText), let updated = HLC(updatedText) else {
                throw PostgresError(.decoding, "entry \(id) has an unreadable stored state")
            }
            var entry = EntryState(entryID: id, kind: kind, version: version, seq: seq, deleted: deleted, deletedAtMillis: deletedAt, doc: doc, registers: state.registers, createdHLC: created, updatedHLC: updated)
            entry.opinions = state.opinions
            entries[id] = entry
        }
        return entries
    }

    /// Every conflict record of these entries.
    public static func conflicts(ofEntries ids: [UUID], athleteID: Int64, on connection: Connection) throws -> [UUID: ConflictRecord] {
        guard !ids.isEmpty else { return [:] }
        return try decodeConflicts(connection.query(conflictsStatement(ofEntries: ids, athleteID: athleteID)))
    }

    public static func conflictsStatement(ofEntries ids: [UUID], athleteID: Int64) -> SQL {
        """
        SELECT conflict_id, entry_id, field, loser_op_id, loser_device, other::text, kept::text, status, seq
        FROM sync_conflicts WHERE athlete_id = \(athleteID) AND entry_id = ANY(\(ids))
        """
    }

    public static func decodeConflicts(_ rows: QueryResult) throws -> [UUID: ConflictRecord] {
        var records: [UUID: ConflictRecord] = [:]
        for row in rows {
            let (id, entryID, field, loserOp, loserDevice, otherText, keptText, statusText, seq) =
                try row.decode((UUID, UUID, String, UUID, String, String, String, String, Int64).self)
            guard let other = try? StrictJSON.parse(otherText), let kept = try? StrictJSON.parse(keptText),
                  let status = ConflictRecord.Status(rawValue: statusText) else {
                throw PostgresError(.decoding, "conflict \(id) is unreadable")
            }
            records[id] = ConflictRecord(conflictID: id, entryID: entryID, field: field, loserOp: loserOp, loserDevice: loserDevice, other: other, kept: kept, status: status, seq: seq)
        }
        return records
    }

    /// Inserts or replaces entries, all in one statement.
    public static func save(_ entries: [EntryState], athleteID: Int64, on connection: Connection) throws {
        if let statement = saveStatement(entries, athleteID: athleteID) { try connection.execute(statement) }
    }

    /// `save` as a statement, `nil` when there is nothing to write.
    public static func saveStatement(_ entries: [EntryState], athleteID: Int64) -> SQL? {
        guard !entries.isEmpty else { return nil }
        let startedAt: [Date?] = entries.map { $0.doc.value(at: "time.start")?.stringValue.flatMap(ISOInstant.parse) }
        let localDates: [String?] = entries.map { entry in
            (entry.doc.value(at: "time.local_date") ?? entry.doc.value(at: "body.local_date"))?.stringValue
        }
        // Documents travel as one JSON array each, zipped with the other columns by ROWS FROM:
        // a text[] of JSON would escape every quote here and unescape it in array_in (a
        // tenth of a push's CPU, measured).
        return """
            INSERT INTO entries (athlete_id, entry_id, kind, version, seq, deleted, deleted_at, doc, merge_state,
                                 created_hlc, updated_hlc, started_at, local_date)
            SELECT \(athleteID), e.id, e.kind, e.version, e.seq, e.deleted, to_timestamp(e.deleted_ms / 1000.0),
                   e.doc, e.state, e.created_hlc, e.updated_hlc, e.started_at, e.local_date::date
            FROM ROWS FROM (
                     unnest(\(entries.map(\.entryID))), unnest(\(entries.map(\.kind.rawValue))::text[]), unnest(\(entries.map { Int($0.version) })),
                     unnest(\(entries.map(\.seq))), unnest(\(entries.map(\.deleted))), unnest(\(entries.map { $0.deletedAtMillis.map(Int.init) })::int8[]),
                     jsonb_array_elements(\(Self.jsonArray(entries.map(\.doc)))::jsonb),
                     jsonb_array_elements(\(Self.jsonArray(entries.map(\.mergeStateJSON)))::jsonb),
                     unnest(\(entries.map(\.createdHLC.description))::text[]), unnest(\(entries.map(\.updatedHLC.description))::text[]),
                     unnest(\(startedAt)::timestamptz[]), unnest(\(localDates)::text[]))
                 AS e(id, kind, version, seq, deleted, deleted_ms, doc, state, created_hlc, updated_hlc, started_at, local_date)
            ON CONFLICT (athlete_id, entry_id) DO UPDATE SET
                version = excluded.version, seq = excluded.seq, deleted = excluded.deleted, deleted_at = excluded.deleted_at,
                doc = excluded.doc, merge_state = excluded.merge_state, updated_hlc = excluded.updated_hlc,
                started_at = excluded.started_at, local_date = excluded.local_date, updated_at = now()
            """
    }

    /// `[v1,v2,...]` in canonical form: one `jsonb` parameter for a column of documents.
    static func jsonArray(_ values: [JSONValue]) -> String {
        // Written into one buffer: no string per document.
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(values.count * 700)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            value.write(to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Inserts or updates conflict records, all in one statement.
    public static func save(_ conflicts: [ConflictRecord], athleteID: Int64, on connection: Connection) throws {
        if let statement = saveStatement(conflicts, athleteID: athleteID) { try connection.execute(statement) }
    }

    public static func saveStatement(_ conflicts: [ConflictRecord], athleteID: Int64) -> SQL? {
        guard !conflicts.isEmpty else { return nil }
        return """
            INSERT INTO sync_conflicts (athlete_id, conflict_id, entry_id, field, loser_op_id, loser_device, other, kept, status, seq)
            SELECT \(athleteID), c.id, c.entry_id, c.field, c.loser_op, c.loser_device, c.other::jsonb, c.kept::jsonb, c.status, c.seq
            FROM unnest(\(conflicts.map(\.conflictID)), \(conflicts.map(\.entryID)), \(conflicts.map(\.field))::text[],
                        \(conflicts.map(\.loserOp)), \(conflicts.map(\.loserDevice))::text[], \(conflicts.map(\.other.canonicalText))::text[],
                        \(conflicts.map(\.kept.canonicalText))::text[], \(conflicts.map(\.status.rawValue))::text[], \(conflicts.map(\.seq)))
                 AS c(id, entry_id, field, loser_op, loser_device, other, kept, status, seq)
            ON CONFLICT (athlete_id, conflict_id) DO UPDATE SET
                kept = excluded.kept, status = excluded.status, seq = excluded.seq, updated_at = now()
            """
    }
}
