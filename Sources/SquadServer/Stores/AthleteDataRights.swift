import Foundation
import Postgres
import SquadCore

/// Athletes' data rights: a complete export that re-imports, and erasure.
///
/// The export is one JSON document: the athlete, their squads and devices (never token
/// hashes), and every row of every table that holds their data, each row as PostgreSQL's
/// `to_jsonb` gives it. Import inserts the same rows under a (new) athlete in one transaction.
/// Erasure keeps an id-only athlete row and id-only tombstones of their entries, so their
/// devices learn of the deletion on their next pull; everything else about them is deleted,
/// and the audit trail keeps who did what, when, with the athlete's name replaced.
public enum AthleteDataRights {
    public static let format = "squadsync.athlete-export"
    public static let version = 1

    /// The athlete's tables, parents before children, and how to find their rows.
    static let tables: [(name: String, byPlan: Bool)] = [
        ("entries", false),
        ("sync_conflicts", false),
        ("entry_sources", false),
        ("duplicate_groups", false),
        ("duplicate_members", false),
        ("duplicate_unlinks", false),
        ("applied_ops", false),
        ("plans", false),
        ("plan_weeks", true),
        ("plan_sessions", false),
        ("plan_revisions", false),
        ("flags", false),
        ("daily_metrics", false),
        ("digests", false),
        ("audit_log", false),
    ]

    // MARK: - Export

    /// The export document of `handle`, as JSON text; recorded in the audit trail.
    public static func export(handle: String, actor: String, now: Date = Date(), on connection: Connection) throws -> String {
        guard let athlete = try AthleteStore.find(handle: handle, on: connection) else {
            throw AdminError(.notFound, "no athlete with handle '\(handle)'")
        }
        let id = athlete.id
        func json(_ sql: SQL) throws -> String {
            try connection.query(sql)[0].decode(String.self, at: 0)
        }
        var parts: [String] = []
        parts.append("\"format\":" + JSONValue.string(format).canonicalText)
        parts.append("\"version\":\(version)")
        parts.append("\"exported_at\":" + JSONValue.string(ISOInstant.format(now)).canonicalText)
        parts.append("\"athlete\":" + (try json("SELECT (to_jsonb(a) - 'id')::text FROM athletes a WHERE id = \(id)")))
        parts.append("\"squads\":" + (try json("""
            SELECT coalesce(jsonb_agg(s.name ORDER BY s.name), '[]')::text FROM athlete_squads x JOIN squads s ON s.id = x.squad_id WHERE x.athlete_id = \(id)
            """)))
        parts.append("\"devices\":" + (try json("""
            SELECT coalesce(jsonb_agg(to_jsonb(d) - 'token_hash' - 'previous_token_hash' - 'athlete_id' ORDER BY d.created_at), '[]')::text FROM devices d WHERE athlete_id = \(id)
            """)))
        var tableParts: [String] = []
        for (table, byPlan) in tables {
            let filter: SQL = byPlan ? "plan_id IN (SELECT plan_id FROM plans WHERE athlete_id = \(id))" : "athlete_id = \(id)"
            let rows = try json("SELECT coalesce(jsonb_agg(to_jsonb(t) - 'athlete_id'), '[]')::text FROM \(identifier: table) t WHERE \(filter)")
            tableParts.append(JSONValue.string(table).canonicalText + ":" + rows)
        }
        parts.append("\"tables\":{" + tableParts.joined(separator: ",\n") + "}")
        try AuditStore.record(athleteID: id, actor: actor, action: "athlete.export", subject: handle, before: nil, after: nil, note: nil, on: connection)
        return "{" + parts.joined(separator: ",\n") + "}\n"
    }

    // MARK: - Import

    /// Rows imported, by table.
    public struct ImportReport: Sendable, Encodable {
        public var handle: String
        public var rows: [String: Int]
    }

    /// Creates `handle` (default: the exported one) in `squad` (default: the exported
    /// squads, which must exist) and inserts every exported row under it, in one transaction.
    public static func importAthlete(_ text: String, handle: String?, squad: String?, actor: String, on connection: Connection) throws -> ImportReport {
        let document: JSONValue
        do { document = try StrictJSON.parse(text) } catch {
            throw AdminError(.invalid, "the file is not JSON: \(error.message)")
        }
        guard document["format"]?.stringValue == format else { throw AdminError(.invalid, "not a Squadsync athlete export (\"format\" is not \(format))") }
        guard document["version"]?.intValue == Int64(version) else { throw AdminError(.invalid, "export version \(document["version"]?.intValue.map(String.init) ?? "?") is not supported (this coach reads \(version))") }
        guard let athlete = document["athlete"]?.objectValue, let tablesJSON = document["tables"]?.objectValue else {
            throw AdminError(.invalid, "the export has no \"athlete\" or \"tables\"")
        }
        let newHandle = handle ?? athlete["handle"]?.stringValue ?? ""
        let squads = squad.map { [$0] } ?? (document["squads"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard let firstSquad = squads.first else { throw AdminError(.invalid, "the export names no squad: pass --squad") }
        return try connection.transaction { connection in
            let created = try AthleteStore.add(NewAthlete(
                handle: newHandle, name: athlete["name"]?.stringValue ?? newHandle, squad: firstSquad,
                timeZone: athlete["time_zone"]?.stringValue ?? "UTC"), currentYear: 2100, on: connection)
            let id = created.id
            // The remaining athlete columns (sex, birth year, heart rates, level, settings) as exported.
            try connection.execute("""
                UPDATE athletes a SET sex = r.sex, birth_year = r.birth_year, hr_max = r.hr_max, hr_rest = r.hr_rest,
                                      level = r.level, settings = r.settings
                FROM jsonb_populate_record(NULL::athletes, \(JSONValue.object(athlete).canonicalText)::jsonb) r WHERE a.id = \(id)
                """)
            var rows: [String: Int] = [:]
            var maxSeq: Int64 = 0
            for (table, _) in tables {
                // Devices are not imported (their tokens cannot be): applied ops lose their device.
                guard let items = tablesJSON[table]?.arrayValue, !items.isEmpty else { continue }
                let columns = try connection.query("""
                    SELECT column_name::text FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = \(table) AND is_identity = 'NO' AND is_generated = 'NEVER'
                    ORDER BY ordinal_position
                    """).map { try $0.decode(String.self, at: 0) }
                // Names from the catalog, quoted by libpq; values only as parameters.
                let list = columns.map(connection.escapeIdentifier).joined(separator: ", ")
                let name = connection.escapeIdentifier(table)
                do {
                    rows[table] = try connection.execute("""
                        INSERT INTO \(raw: name) (\(raw: list))
                        SELECT \(raw: columns.map { "r." + connection.escapeIdentifier($0) }.joined(separator: ", "))
                        FROM jsonb_array_elements(\(JSONValue.array(items).canonicalText)::jsonb) AS item,
                             LATERAL jsonb_populate_record(NULL::\(raw: name), item || jsonb_build_object('athlete_id', \(id)::bigint) || \(raw: table == "applied_ops" ? "jsonb_build_object('device_id', NULL)" : "'{}'::jsonb")) AS r
                        """)
                } catch let error as PostgresError {
                    throw AdminError(.invalid, "cannot import \(table): \(error.message)\(error.detail.map { " (\($0))" } ?? "")")
                }
                for item in items { maxSeq = max(maxSeq, item["seq"]?.intValue ?? 0) }
            }
            // The sync counter continues after the imported feed.
            try connection.execute("""
                INSERT INTO athlete_sync (athlete_id, last_seq) VALUES (\(id), \(maxSeq))
                ON CONFLICT (athlete_id) DO UPDATE SET last_seq = greatest(athlete_sync.last_seq, excluded.last_seq)
                """)
            try AuditStore.record(athleteID: id, actor: actor, action: "athlete.import", subject: newHandle, before: nil,
                                  after: .object(["rows": .object(rows.mapValues { .int(Int64($0)) })]), note: nil, on: connection)
            return ImportReport(handle: newHandle, rows: rows)
        }
    }

    // MARK: - Erasure

    /// What erasure removed.
    public struct ErasureReport: Sendable, Encodable {
        public var handle: String
        public var pseudonym: String
        public var tombstones: Int
        public var rowsDeleted: [String: Int]
    }

    /// Erases `handle` (see the type's summary) in one transaction.
    public static func erase(handle: String, actor: String, on connection: Connection) throws -> ErasureReport {
        try connection.transaction { connection in
            guard let athlete = try AthleteStore.find(handle: handle, on: connection) else {
                throw AdminError(.notFound, "no athlete with handle '\(handle)'")
            }
            let id = athlete.id
            let pseudonym = "erased-\(id)"
            // Every entry becomes an id-only tombstone with a new place in the feed, so each
            // device pulls the deletion; its merge state goes too, so no op can revive it.
            try connection.execute("INSERT INTO athlete_sync (athlete_id) VALUES (\(id)) ON CONFLICT DO NOTHING")
            let head = try connection.query("SELECT last_seq FROM athlete_sync WHERE athlete_id = \(id) FOR UPDATE")[0].decode(Int64.self, at: 0)
            let tombstones = try connection.execute("""
                UPDATE entries e SET deleted = true, deleted_at = coalesce(e.deleted_at, now()), version = e.version + 1,
                       seq = \(head) + n.n, started_at = NULL, local_date = NULL, updated_at = now(),
                       doc = jsonb_build_object('entry_id', e.doc->'entry_id', 'kind', e.doc->'kind', 'schema_version', e.doc->'schema_version'),
                       merge_state = '{"w": [], "r": {}, "o": {}}'::jsonb
                FROM (SELECT entry_id, row_number() OVER (ORDER BY seq) AS n FROM entries WHERE athlete_id = \(id)) n
                WHERE e.athlete_id = \(id) AND e.entry_id = n.entry_id
                """)
            try connection.execute("UPDATE athlete_sync SET last_seq = last_seq + \(tombstones) WHERE athlete_id = \(id)")
            var deleted: [String: Int] = [:]
            for table in ["sync_conflicts", "entry_sources", "duplicate_members", "duplicate_unlinks", "duplicate_groups", "plans",
                          "plan_sessions", "daily_rollups", "daily_metrics", "flags", "digests", "nightly_state"] {
                deleted[table] = try connection.execute("DELETE FROM \(identifier: table) WHERE athlete_id = \(id)")
            }
            // The audit trail keeps actor, action and time; what it said about the athlete goes.
            deleted["audit_log (pseudonymized)"] = try connection.execute("""
                UPDATE audit_log SET subject = replace(subject, \(handle), \(pseudonym)), before = NULL, after = NULL, note = NULL
                WHERE athlete_id = \(id)
                """)
            try connection.execute("""
                UPDATE athletes SET handle = \(pseudonym), name = 'Erased athlete', sex = NULL, birth_year = NULL, hr_max = NULL,
                       hr_rest = NULL, settings = '{}', erased_at = now(), updated_at = now()
                WHERE id = \(id)
                """)
            try AuditStore.record(athleteID: id, actor: actor, action: "athlete.erase", subject: pseudonym, before: nil,
                                  after: .object(["tombstones": .int(Int64(tombstones))]), note: nil, on: connection)
            return ErasureReport(handle: handle, pseudonym: pseudonym, tombstones: tombstones, rowsDeleted: deleted)
        }
    }
}
