import Foundation
import Postgres
import SquadCore

/// Coaches look at and settle the conflict records sync keeps (SYNC.md "Nothing silently
/// lost"). Settling with `--keep other` writes the losing value through the same merge
/// engine as a device would, from the athlete's "coach" pseudo-device, so devices pull it.
public enum ConflictService {
    public struct Conflict: Sendable, Codable {
        public var id: UUID
        public var athlete: String
        public var entryID: UUID
        public var field: String
        public var status: String
        public var kept: JSONValue
        public var other: JSONValue
        public var loserDevice: String
        public var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case id, athlete, entryID = "entry_id", field, status, kept, other, loserDevice = "loser_device", updatedAt = "updated_at"
        }
    }

    static let columns: SQL = "c.conflict_id, a.handle, c.entry_id, c.field, c.status, c.kept::text, c.other::text, c.loser_device, c.updated_at, c.athlete_id"

    static func decode(_ row: Row) throws -> (Conflict, Int64) {
        let (id, handle, entry, field, status, kept, other, device, at, athleteID) =
            try row.decode((UUID, String, UUID, String, String, String, String, String, Date, Int64).self)
        return (Conflict(id: id, athlete: handle, entryID: entry, field: field, status: status, kept: (try? StrictJSON.parse(kept)) ?? .null,
                         other: (try? StrictJSON.parse(other)) ?? .null, loserDevice: device, updatedAt: at), athleteID)
    }

    /// Open conflicts (or all with `includeClosed`), optionally one athlete's, newest first.
    public static func list(handle: String?, includeClosed: Bool, on connection: Connection) throws -> [Conflict] {
        var sql: SQL = "SELECT \(columns) FROM sync_conflicts c JOIN athletes a ON a.id = c.athlete_id WHERE true"
        if let handle {
            guard try AthleteStore.find(handle: handle, on: connection) != nil else { throw AdminError(.notFound, "no athlete with handle '\(handle)'") }
            sql = sql + " AND a.handle = \(handle)"
        }
        if !includeClosed { sql = sql + " AND c.status = 'open'" }
        return try connection.query(sql + " ORDER BY c.updated_at DESC").map { try decode($0).0 }
    }

    /// Settles an open conflict, keeping the standing value (`kept`) or the losing one (`other`).
    public static func resolve(_ id: UUID, keep: String, coach: String, nowMillis: Int64, on connection: Connection) throws -> Conflict {
        guard keep == "kept" || keep == "other" else { throw AdminError(.invalid, "--keep must be kept or other") }
        guard let row = try connection.query("SELECT \(columns) FROM sync_conflicts c JOIN athletes a ON a.id = c.athlete_id WHERE c.conflict_id = \(id)").first else {
            throw AdminError(.notFound, "no conflict \(id)")
        }
        let (conflict, athleteID) = try decode(row)
        guard conflict.status == "open" else { throw AdminError(.conflict, "conflict \(id) is \(conflict.status), not open") }
        if keep == "other" {
            let device = try coachDevice(athleteID: athleteID, handle: conflict.athlete, on: connection)
            guard let entry = try EntryStore.load([conflict.entryID], athleteID: athleteID, on: connection)[conflict.entryID] else {
                throw AdminError(.notFound, "the entry of conflict \(id) is gone")
            }
            var op: [String: JSONValue] = [
                "op_id": .string(UUID().uuidString), "entry_id": .string(conflict.entryID.uuidString), "base_version": .int(Int64(entry.version)),
                "hlc": .string(HLC(millis: max(nowMillis, entry.updatedHLC.millis), counter: entry.updatedHLC.counter + 1, node: "coach").description),
            ]
            if conflict.field == "deleted" {
                guard conflict.other == .bool(true) else {
                    throw AdminError(.invalid, "restoring a deleted entry is not supported here yet: the athlete's device can re-create it")
                }
                op["op"] = .string("delete")
            } else {
                op["op"] = .string("patch")
                op["set"] = .object([conflict.field: conflict.other])
            }
            let parsed: Result<SyncOp, SyncOp.Invalid>
            do { parsed = try SyncOp.decode(.object(op), index: 0) } catch { throw AdminError(.invalid, "cannot write the other value: \(error.message)") }
            let answer = try PushService.apply(PushRequest(ops: [parsed]), device: device, nowMillis: nowMillis, on: connection)
            let first = answer["results"]?.arrayValue?.first
            let status = first?["status"]?.stringValue ?? "?"
            guard status == "applied" || status == "merged" else {
                throw AdminError(.conflict, "the other value was not applied (\(status)): \(first?.canonicalText ?? "")")
            }
        }
        let head = try EntryStore.lockHead(athleteID: athleteID, on: connection)
        try connection.execute("""
            UPDATE sync_conflicts SET status = 'resolved', seq = \(head.lastSeq + 1), updated_at = now()
            WHERE athlete_id = \(athleteID) AND conflict_id = \(id)
            """)
        try connection.execute("UPDATE athlete_sync SET last_seq = \(head.lastSeq + 1) WHERE athlete_id = \(athleteID)")
        try AuditStore.record(athleteID: athleteID, actor: coach, action: "conflict.resolve", subject: id.lowercasedText,
                              before: .object(["status": .string("open"), "field": .string(conflict.field), "kept": conflict.kept, "other": conflict.other]),
                              after: .object(["status": .string("resolved"), "keep": .string(keep), "value": keep == "kept" ? conflict.kept : conflict.other]),
                              note: nil, on: connection)
        var resolved = conflict
        resolved.status = "resolved"
        return resolved
    }

    /// The athlete's "coach" pseudo-device, enrolled on first use (its token is never shown).
    static func coachDevice(athleteID: Int64, handle: String, on connection: Connection) throws -> AuthenticatedDevice {
        if let row = try connection.query("SELECT id FROM devices WHERE athlete_id = \(athleteID) AND name = 'coach' AND revoked_at IS NULL LIMIT 1").first {
            return AuthenticatedDevice(id: try row.decode(UUID.self, at: 0), athleteID: athleteID)
        }
        let device = try DeviceStore.enrollInternal(handle: handle, name: "coach", type: "other", on: connection)
        return AuthenticatedDevice(id: device.id, athleteID: athleteID)
    }
}
