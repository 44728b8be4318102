import Foundation
import Postgres
import SquadCore

/// All SQL for duplicate groups, their members, external ids and unlinked pairs.
public enum DuplicateStore {
    /// Records the external ids of these activities; `nil` when they have none.
    static func recordSourcesStatement(_ summaries: [ActivitySummary], athleteID: Int64) -> SQL? {
        let pairs = summaries.flatMap { summary in summary.externalKeys.sorted().map { ($0, summary.entryID) } }
        guard !pairs.isEmpty else { return nil }
        return """
            INSERT INTO entry_sources (athlete_id, external_key, entry_id)
            SELECT \(athleteID), k, e FROM unnest(\(pairs.map(\.0))::text[], \(pairs.map(\.1))) AS s(k, e)
            ON CONFLICT DO NOTHING
            """
    }

    /// The fields the duplicate rule needs, read in SQL so no document is parsed here.
    private static let activityColumns: SQL = """
        SELECT e.entry_id, e.kind, coalesce(e.doc->'body'->>'sport', ''),
               (extract(epoch FROM e.started_at) * 1000)::int8, e.doc->'time'->>'end', (e.doc->'body'->>'elapsed_s')::float8,
               (e.doc->'body'->>'distance_m')::float8, coalesce(e.doc->'source'->>'device_type', 'other'),
               coalesce(e.doc->'source'->>'recording_method', 'manual'),
               (SELECT count(*) FROM jsonb_object_keys(e.doc->'body'))::int8
                 + CASE jsonb_typeof(e.doc->'body'->'splits') WHEN 'array' THEN jsonb_array_length(e.doc->'body'->'splits') ELSE 0 END
        """
    /// With each activity's active group, if any: a lookup per found row (a subquery, not a
    /// join, so no statistics can turn it into a read of all the athlete's memberships, as a
    /// hash join was planned in coach bench push; 0.01 ms more planning against 0.05 for the join).
    private static let selectActivities: SQL = activityColumns + """
        , (SELECT m.group_id FROM duplicate_members m WHERE m.athlete_id = e.athlete_id AND m.entry_id = e.entry_id)
        FROM entries e
        """

    /// An activity found by a search, with the group it is a member of.
    struct Candidate {
        var summary: ActivitySummary
        var group: UUID?
    }

    /// Live activities that may start within 10 minutes of one of `starts` (the widest
    /// start gap the rule accepts): one range scan from the first window to the last, which
    /// the caller narrows to the windows. Run inside a push, whose transaction has
    /// sequential scans off (`EntryStore.lockHead`).
    static func activitiesStatement(athleteID: Int64, startingNear starts: [Int64]) -> SQL {
        selectActivities + windowSearch(athleteID: athleteID, startingNear: starts)
    }

    static func decodeActivities(_ rows: QueryResult) throws -> [Candidate] {
        try decode(rows, keys: [:])
    }

    /// The plan PostgreSQL picks for that search, with the same settings (for tests and for
    /// looking into a slow push); with `analyze`, run and with actual row and loop counts.
    public static func windowSearchPlan(athleteID: Int64, startingNear starts: [Int64], analyze: Bool = false, on connection: Connection) throws -> String {
        try withoutSequentialScans(on: connection) {
            try connection.query(SQL(unsafeText: analyze ? "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " : "EXPLAIN ")
                                 + "SELECT e.entry_id FROM entries e " + windowSearch(athleteID: athleteID, startingNear: starts))
                .map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
        }
    }

    /// One range scan over the push's span, whatever plan PostgreSQL picks: at worst it reads
    /// the athlete's history once. A scan per window (500 per push) was cheaper with a good
    /// plan, but with statistics that put the athlete at one entry (a new server, a bulk
    /// import, the minutes before autovacuum analyzes) the planner ran every window's scan
    /// once per entry of the athlete, or through an index without `started_at`: seconds per
    /// push and 503s from the statement timeout (found by coach bench push). The bounds come
    /// computed: under row-level security only quals made of leakproof operators reach the
    /// index, and `timestamptz - interval` is not one.
    private static func windowSearch(athleteID: Int64, startingNear starts: [Int64]) -> SQL {
        let window: Int64 = 10 * 60 * 1000
        let low = Date(timeIntervalSince1970: Double((starts.min() ?? 0) - window) / 1000)
        let high = Date(timeIntervalSince1970: Double((starts.max() ?? 0) + window) / 1000)
        return """
             WHERE e.athlete_id = \(athleteID) AND NOT e.deleted AND e.kind IN ('run', 'cross')
               AND e.started_at >= \(low) AND e.started_at <= \(high)
            """
    }

    /// Sequential scans off, as in a push's transaction.
    private static func withoutSequentialScans<Result>(on connection: Connection, _ body: () throws -> Result) throws -> Result {
        try connection.execute("SELECT set_config('enable_seqscan', 'off', true)")
        defer { _ = try? connection.execute("SELECT set_config('enable_seqscan', 'on', true)") }
        return try body()
    }

    /// Live activities sharing one of `keys`, with the keys they share: two statements for one
    /// pipeline, the (entry, key) pairs and then the entries. As one join, statistics that put
    /// the athlete at one entry (a new athlete, before autovacuum analyzes) made the planner
    /// rescan all of the athlete's entries once per matched key (50 x 1,050 rows, 40-100 ms a
    /// push, found with auto_explain in coach bench push): the latency phase then fell behind
    /// for good. The ids now go in as one array (an InitPlan), so whatever the plan, the
    /// athlete's entries are read at most once.
    static func keyedActivitiesStatements(withKeys keys: Set<String>, athleteID: Int64) -> [SQL] {
        let sorted = keys.sorted()
        let matching: SQL = "SELECT entry_id FROM entry_sources WHERE athlete_id = \(athleteID) AND external_key = ANY(\(sorted)::text[])"
        return [
            "SELECT entry_id, external_key FROM entry_sources WHERE athlete_id = \(athleteID) AND external_key = ANY(\(sorted)::text[])",
            "\(selectActivities) WHERE e.athlete_id = \(athleteID) AND NOT e.deleted AND e.entry_id = ANY(ARRAY(\(matching)))",
        ]
    }

    /// Decodes the two results of `keyedActivitiesStatements`; with `keeping`, only the
    /// activities sharing one of those keys (the statements may have searched for more).
    static func decodeKeyedActivities(sources: QueryResult, activities: QueryResult, keeping kept: Set<String>? = nil) throws -> [Candidate] {
        var keysByEntry: [UUID: Set<String>] = [:]
        for row in sources {
            let key = try row.decode(String.self, at: 1)
            if let kept, !kept.contains(key) { continue }
            keysByEntry[try row.decode(UUID.self, at: 0), default: []].insert(key)
        }
        return try decode(activities, keys: keysByEntry).filter { kept == nil || keysByEntry[$0.summary.entryID] != nil }
    }

    /// Live activities sharing one of `keys`, on their own (a push pipelines the statements).
    public static func keyedActivities(withKeys keys: Set<String>, athleteID: Int64, on connection: Connection) throws -> [ActivitySummary] {
        let results = try connection.pipeline(keyedActivitiesStatements(withKeys: keys, athleteID: athleteID))
        return try decodeKeyedActivities(sources: results[0], activities: results[1]).map(\.summary)
    }

    /// The plan PostgreSQL picks for the entries of `keyedActivitiesStatements`, as run in a
    /// push (sequential scans off), with actual row and loop counts.
    public static func keyedActivitiesPlan(withKeys keys: Set<String>, athleteID: Int64, on connection: Connection) throws -> String {
        let statement = keyedActivitiesStatements(withKeys: keys, athleteID: athleteID)[1]
        return try withoutSequentialScans(on: connection) {
            try connection.query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement).map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
        }
    }

    static func activities(ids: [UUID], athleteID: Int64, on connection: Connection) throws -> [ActivitySummary] {
        guard !ids.isEmpty else { return [] }
        return try decode(connection.query("\(selectActivities) WHERE e.athlete_id = \(athleteID) AND NOT e.deleted AND e.entry_id = ANY(\(ids))"), keys: [:])
            .map(\.summary)
    }

    private static func decode(_ rows: QueryResult, keys: [UUID: Set<String>]) throws -> [Candidate] {
        try rows.compactMap { row in
            let (id, kind, sport, start, endText, elapsed, distance, device, method, score, group) =
                try row.decode((UUID, String, String, Int64?, String?, Double?, Double?, String, String, Int, UUID?).self)
            guard let start else { return nil }
            let end = endText.flatMap { ISOInstant.parseMillis($0) } ?? elapsed.map { start + Int64($0 * 1000) }
            guard let end, end > start else { return nil }
            return Candidate(summary: ActivitySummary(
                entryID: id, sportFamily: kind == "run" ? "run" : (sport.isEmpty ? "cross" : sport), startMillis: start, endMillis: end,
                distanceMeters: distance, externalKeys: keys[id] ?? [], deviceType: device, recordingMethod: method, dataScore: score), group: group)
        }
    }

    /// Entry id -> active group id, for these entries.
    static func membershipStatement(of ids: [UUID], athleteID: Int64) -> SQL {
        "SELECT entry_id, group_id FROM duplicate_members WHERE athlete_id = \(athleteID) AND entry_id = ANY(\(ids))"
    }

    static func decodeMembership(_ rows: QueryResult) throws -> [UUID: UUID] {
        var result: [UUID: UUID] = [:]
        for row in rows {
            let (entry, group) = try row.decode((UUID, UUID).self)
            result[entry] = group
        }
        return result
    }

    static func members(ofGroups groups: Set<UUID>, athleteID: Int64, on connection: Connection) throws -> [UUID: [UUID]] {
        guard !groups.isEmpty else { return [:] }
        var result: [UUID: [UUID]] = [:]
        for row in try connection.query("SELECT group_id, entry_id FROM duplicate_members WHERE athlete_id = \(athleteID) AND group_id = ANY(\(Array(groups)))") {
            let (group, entry) = try row.decode((UUID, UUID).self)
            result[group, default: []].append(entry)
        }
        return result
    }

    /// The pairs with both entries among `candidates`.
    static func decodeUnlinkedPairs(_ rows: QueryResult, among candidates: [UUID: ActivitySummary]) throws -> Set<DuplicateService.Pair> {
        var pairs: Set<DuplicateService.Pair> = []
        for row in rows {
            let (a, b) = try row.decode((UUID, UUID).self)
            if candidates[a] == nil || candidates[b] == nil { continue }
            pairs.insert(DuplicateService.Pair(a, b))
        }
        return pairs
    }

    /// Every pair of the athlete's activities a person unlinked: few (one per unlinked pair of
    /// a group, by hand), so read whole and narrowed by the caller, in the searches' pipeline.
    static func unlinkedPairsStatement(athleteID: Int64) -> SQL {
        "SELECT entry_a, entry_b FROM duplicate_unlinks WHERE athlete_id = \(athleteID)"
    }

    struct GroupRow {
        var id: UUID
        var members: [UUID]
        var primary: UUID?
        var reason: String
        var seq: Int64
    }

    /// Writes groups and their memberships in two statements, whatever their number.
    static func saveGroupsStatements(_ groups: [GroupRow], athleteID: Int64) -> [SQL] {
        guard !groups.isEmpty else { return [] }
        let pairs = groups.flatMap { group in group.members.map { ($0, group.id) } }
        return ["""
            INSERT INTO duplicate_groups (athlete_id, group_id, primary_entry_id, members, status, reason, seq)
            SELECT \(athleteID), g.id, g.primary_id, string_to_array(g.members, ',')::uuid[], 'active', g.reason, g.seq
            FROM unnest(\(groups.map(\.id)), \(groups.map(\.primary))::uuid[], \(groups.map { $0.members.map(\.postgresText).joined(separator: ",") })::text[],
                        \(groups.map(\.reason))::text[], \(groups.map(\.seq))) AS g(id, primary_id, members, reason, seq)
            ON CONFLICT (athlete_id, group_id) DO UPDATE SET primary_entry_id = excluded.primary_entry_id,
                members = excluded.members, status = 'active', seq = excluded.seq, updated_at = now()
            """, """
            INSERT INTO duplicate_members (athlete_id, entry_id, group_id)
            SELECT \(athleteID), m.entry, m.grp FROM unnest(\(pairs.map(\.0)), \(pairs.map(\.1))) AS m(entry, grp)
            ON CONFLICT (athlete_id, entry_id) DO UPDATE SET group_id = excluded.group_id
            """]
    }

    static func dissolve(_ group: UUID, seq: Int64, athleteID: Int64, on connection: Connection) throws {
        for statement in dissolveStatements(group, seq: seq, athleteID: athleteID) { try connection.execute(statement) }
    }

    static func dissolveStatements(_ group: UUID, seq: Int64, athleteID: Int64) -> [SQL] {
        ["""
            UPDATE duplicate_groups SET status = 'dissolved', primary_entry_id = NULL, seq = \(seq), updated_at = now()
            WHERE athlete_id = \(athleteID) AND group_id = \(group)
            """,
         "DELETE FROM duplicate_members WHERE athlete_id = \(athleteID) AND group_id = \(group)"]
    }

    // MARK: - For the coach CLI

    /// A group as `coach duplicates list` shows it.
    public struct Group: Sendable, Encodable {
        public var groupID: UUID
        public var athlete: String
        public var primaryEntryID: UUID?
        public var members: [UUID]
        public var reason: String
        public var status: String
        public var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case athlete, members, reason, status
            case groupID = "group_id"
            case primaryEntryID = "primary_entry_id"
            case updatedAt = "updated_at"
        }
    }

    public static func list(handle: String?, includeDissolved: Bool = false, on connection: Connection) throws -> [Group] {
        var filter: SQL = includeDissolved ? "WHERE true" : "WHERE g.status = 'active'"
        if let handle {
            guard try !connection.query("SELECT 1 FROM athletes WHERE handle = \(handle)").isEmpty else {
                throw AdminError(.notFound, "no athlete with handle '\(handle)'")
            }
            filter = filter + " AND a.handle = \(handle)"
        }
        return try connection.query("""
            SELECT g.group_id, a.handle, g.primary_entry_id, g.members, g.reason, g.status, g.updated_at
            FROM duplicate_groups g JOIN athletes a ON a.id = g.athlete_id \(filter)
            ORDER BY a.handle, g.updated_at DESC
            """).map { row in
            let (id, handle, primary, members, reason, status, updated) = try row.decode((UUID, String, UUID?, [UUID], String, String, Date).self)
            return Group(groupID: id, athlete: handle, primaryEntryID: primary, members: members, reason: reason, status: status, updatedAt: updated)
        }
    }

    /// Separates a group's members for good: the group dissolves (a `link` change in
    /// the feed) and its pairs are never linked automatically again.
    public static func unlink(_ group: UUID, on connection: Connection) throws -> Group {
        let rows = try connection.query("SELECT athlete_id, members FROM duplicate_groups WHERE group_id = \(group) AND status = 'active'")
        guard let row = rows.first else { throw AdminError(.notFound, "no active duplicate group \(group.lowercasedText)") }
        let (athleteID, members) = try row.decode((Int64, [UUID]).self)
        let head = try EntryStore.lockHead(athleteID: athleteID, on: connection)
        var pairs: [(UUID, UUID)] = []
        for (index, a) in members.enumerated() {
            for b in members[(index + 1)...] {
                pairs.append(a.lowercasedText < b.lowercasedText ? (a, b) : (b, a))
            }
        }
        try connection.execute("""
            INSERT INTO duplicate_unlinks (athlete_id, entry_a, entry_b)
            SELECT \(athleteID), a, b FROM unnest(\(pairs.map(\.0)), \(pairs.map(\.1))) AS p(a, b) ON CONFLICT DO NOTHING
            """)
        try dissolve(group, seq: head.lastSeq + 1, athleteID: athleteID, on: connection)
        try connection.execute("UPDATE athlete_sync SET last_seq = \(head.lastSeq + 1) WHERE athlete_id = \(athleteID)")
        guard let result = try list(handle: nil, includeDissolved: true, on: connection).first(where: { $0.groupID == group }) else {
            throw AdminError(.notFound, "group vanished")
        }
        return result
    }
}
