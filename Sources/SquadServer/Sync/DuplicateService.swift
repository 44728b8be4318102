import Foundation
import Postgres
import SquadCore

/// Links the same activity recorded by several devices into groups (SYNC.md
/// "Duplicate activities"), inside the push transaction.
///
/// Exact external ids link at once; otherwise `DuplicateMatcher` decides from sport,
/// time overlap, start gap and distance. Linked entries stay stored; the group's
/// primary is chosen deterministically and `counted_entries` counts the group once.
/// Pairs a person unlinked are never linked again automatically.
public enum DuplicateService {
    /// The duplicate searches of a push, sent with its first reads, before the merge, from
    /// what its creates say: their activities' starts and external ids, and the entry ids of
    /// all its ops. `link` uses the results when the merged activities fall inside them (a
    /// push of new activities, the usual kind) and searches again otherwise (a patch of a
    /// stored activity outside the creates' span): the same rows either way, one round trip less.
    public struct Prefetch: Sendable {
        let low: Int64
        let high: Int64
        let keys: Set<String>
        let ids: Set<UUID>
        /// The statements to send; their results go in `results`, in order.
        public let statements: [SQL]
        public var results: [QueryResult] = []

        /// `nil` when the push creates no activity.
        public init?(_ push: PushRequest, athleteID: Int64) {
            var starts: [Int64] = []
            var keys: Set<String> = []
            var ids: [UUID] = []
            for case .success(let op) in push.ops {
                ids.append(op.entryID)
                guard op.action == .create, let kind = op.kind, kind == .run || kind == .cross, let doc = op.entry,
                      let summary = ActivitySummary(entryID: op.entryID, kind: kind, doc: doc) else { continue }
                starts.append(summary.startMillis)
                keys.formUnion(summary.externalKeys)
            }
            guard let low = starts.min(), let high = starts.max() else { return nil }
            (self.low, self.high, self.keys, self.ids) = (low, high, keys, Set(ids))
            statements = DuplicateService.searchStatements(startingNear: starts, withKeys: keys, including: ids, athleteID: athleteID)
        }

        /// Whether these searches return all that searches for `starts`, `keys` and `ids` would.
        func covers(starts: [Int64], keys: Set<String>, ids: Set<UUID>) -> Bool {
            starts.allSatisfy { low <= $0 && $0 <= high } && keys.isSubset(of: self.keys) && ids.isSubset(of: self.ids)
        }
    }

    /// The searches for activities starting near `starts` or sharing one of `keys` (each found
    /// activity with its group), the groups of `ids`, and the athlete's unlinked pairs.
    static func searchStatements(startingNear starts: [Int64], withKeys keys: Set<String>, including ids: [UUID], athleteID: Int64) -> [SQL] {
        var statements = [DuplicateStore.activitiesStatement(athleteID: athleteID, startingNear: starts)]
        if !keys.isEmpty { statements += DuplicateStore.keyedActivitiesStatements(withKeys: keys, athleteID: athleteID) }
        return statements + [DuplicateStore.membershipStatement(of: ids, athleteID: athleteID), DuplicateStore.unlinkedPairsStatement(athleteID: athleteID)]
    }

    /// Re-examines the activities the engine changed in this push and returns the writes
    /// (external ids recorded, groups formed, merged or dissolved) for the caller to send
    /// with the push's others.
    ///
    /// The candidates, their groups and unlinked pairs come from `prefetched` when it covers
    /// this push's activities, else from one pipeline (`Connection.pipeline`) of the same
    /// searches; another round trip is needed only when existing groups bring in members
    /// the searches did not find.
    public static func link(_ engine: inout MergeEngine, athleteID: Int64, prefetched: Prefetch? = nil, on connection: Connection) throws -> [SQL] {
        let touched = engine.changedEntries.sorted { $0.precedes($1) }.compactMap { id -> (EntryState, ActivitySummary?)? in
            guard let entry = engine.entries[id], entry.kind == .run || entry.kind == .cross else { return nil }
            return (entry, entry.deleted ? nil : ActivitySummary(entryID: id, kind: entry.kind, doc: entry.doc))
        }
        guard !touched.isEmpty else { return [] }
        let live = touched.compactMap(\.1)

        // Candidates: activities near in time, or sharing an external id, plus their groups' members.
        let keys = Set(live.flatMap(\.externalKeys))
        let starts = live.map(\.startMillis)
        let touchedIDs = Set(touched.map(\.0.entryID))
        let searchedKeys: Set<String>
        var found: IndexingIterator<[QueryResult]>
        if let prefetched, prefetched.covers(starts: starts, keys: keys, ids: touchedIDs) {
            (searchedKeys, found) = (prefetched.keys, prefetched.results.makeIterator())
        } else {
            let statements = searchStatements(startingNear: starts, withKeys: keys, including: touched.map(\.0.entryID), athleteID: athleteID)
            (searchedKeys, found) = (keys, try connection.pipeline(statements).makeIterator())
        }
        var summaries: [UUID: ActivitySummary] = [:]
        var membership: [UUID: UUID] = [:]
        // The range scan covers the push's whole span: keep what starts near one of its activities.
        let liveStarts = live.map(\.startMillis).sorted()
        func isNearLiveStart(_ millis: Int64) -> Bool {
            var (low, high) = (0, liveStarts.count)
            while low < high {
                let middle = (low + high) / 2
                if liveStarts[middle] < millis - 600_000 { low = middle + 1 } else { high = middle }
            }
            return low < liveStarts.count && liveStarts[low] <= millis + 600_000
        }
        var searched = try DuplicateStore.decodeActivities(found.next()!).filter { isNearLiveStart($0.summary.startMillis) }
        if !searchedKeys.isEmpty {
            searched += try DuplicateStore.decodeKeyedActivities(sources: found.next()!, activities: found.next()!, keeping: keys)
        }
        for candidate in searched {
            summaries[candidate.summary.entryID] = candidate.summary
            membership[candidate.summary.entryID] = candidate.group
        }
        for (id, group) in try DuplicateStore.decodeMembership(found.next()!) where touchedIDs.contains(id) {
            membership[id] = group
        }
        let unlinkedRows = found.next()!
        for (entry, summary) in touched {
            summaries[entry.entryID] = summary  // this push's state is newer than the table's
            if summary == nil { summaries.removeValue(forKey: entry.entryID) }
        }
        let candidateCount = summaries.count
        var unlinked = try DuplicateStore.decodeUnlinkedPairs(unlinkedRows, among: summaries)
        if !membership.isEmpty {
            // Existing groups bring their other members in, and with them more possible unlinks.
            for (id, members) in try DuplicateStore.members(ofGroups: Set(membership.values), athleteID: athleteID, on: connection) {
                for member in members where summaries[member] == nil {
                    membership[member] = id
                }
            }
            let missing = membership.keys.filter { summaries[$0] == nil && !touchedIDs.contains($0) }
            for summary in try DuplicateStore.activities(ids: Array(missing), athleteID: athleteID, on: connection) {
                summaries[summary.entryID] = summary
            }
            if summaries.count != candidateCount {
                unlinked = try DuplicateStore.decodeUnlinkedPairs(unlinkedRows, among: summaries)
            }
        }

        // Union-find over the current groups and the new links.
        var parent: [UUID: UUID] = [:]
        func find(_ id: UUID) -> UUID {
            var root = id
            while let next = parent[root], next != root { root = next }
            return root
        }
        func union(_ a: UUID, _ b: UUID) {
            let (ra, rb) = (find(a), find(b))
            guard ra != rb else { return }
            let (low, high) = ra.precedes(rb) ? (ra, rb) : (rb, ra)
            parent[high] = low
        }
        let byGroup = Dictionary(grouping: membership.filter { summaries[$0.key] != nil }, by: \.value)
        for members in byGroup.values {
            let ids = members.map(\.key)
            for id in ids.dropFirst() { union(ids[0], id) }
        }
        var reasons: [UUID: String] = [:]
        // Only starts within 10 minutes, or a shared external id, can match: find those by
        // binary search over the starts and a key index, not by comparing every pair.
        let candidates = summaries.values.sorted { $0.startMillis < $1.startMillis }
        var byKey: [String: [Int]] = [:]
        for (index, candidate) in candidates.enumerated() {
            for key in candidate.externalKeys { byKey[key, default: []].append(index) }
        }
        func firstIndex(startingAtOrAfter millis: Int64) -> Int {
            var (low, high) = (0, candidates.count)
            while low < high {
                let middle = (low + high) / 2
                if candidates[middle].startMillis < millis { low = middle + 1 } else { high = middle }
            }
            return low
        }
        for summary in live {
            var nearby: Set<Int> = []
            var index = firstIndex(startingAtOrAfter: summary.startMillis - 600_000)
            while index < candidates.count, candidates[index].startMillis <= summary.startMillis + 600_000 {
                nearby.insert(index)
                index += 1
            }
            for key in summary.externalKeys { nearby.formUnion(byKey[key] ?? []) }
            for other in nearby.sorted().map({ candidates[$0] }) where other.entryID != summary.entryID {
                let pair = Pair(summary.entryID, other.entryID)
                guard !unlinked.contains(pair) else { continue }
                switch DuplicateMatcher.compare(summary, other) {
                case .link(let reason):
                    union(summary.entryID, other.entryID)
                    reasons[summary.entryID] = reason
                    reasons[other.entryID] = reasons[other.entryID] ?? reason
                case .possible:
                    guard find(summary.entryID) != find(other.entryID) else { continue }
                    let id = StableID.make("possible_duplicate|\(pair.a)|\(pair.b)")
                    if engine.conflicts[id] == nil {
                        engine.record(ConflictRecord(
                            conflictID: id, entryID: summary.entryID, field: "possible_duplicate", loserOp: id, loserDevice: "server",
                            other: .string(other.entryID.lowercasedText), kept: .string(summary.entryID.lowercasedText),
                            status: .open, seq: engine.allocateSeq()))
                    }
                case .distinct:
                    break
                }
            }
        }

        // Write each component that changed: new groups, merged groups, re-elected primaries.
        var components: [UUID: [UUID]] = [:]
        for id in summaries.keys { components[find(id), default: []].append(id) }
        var groupsSeen: Set<UUID> = []
        var groups: [DuplicateStore.GroupRow] = []
        var dissolved: [(UUID, Int64)] = []
        for members in components.values {
            let existing = Set(members.compactMap { membership[$0] })
            guard members.count >= 2 else { continue }
            let sorted = members.sorted { $0.precedes($1) }
            let groupID = existing.min { $0.precedes($1) } ?? StableID.make("group|\(sorted[0].lowercasedText)")
            groupsSeen.formUnion(existing)
            let primary = DuplicateMatcher.primary(of: members.compactMap { summaries[$0] })
            let reason = members.contains { reasons[$0] == "external_id" } ? "external_id" : "overlap"
            // Unchanged groups (same members, same primary) are not rewritten.
            if existing == [groupID], Set(membership.filter { $0.value == groupID }.map(\.key)) == Set(members), !members.contains(where: touchedIDs.contains) {
                continue
            }
            groups.append(DuplicateStore.GroupRow(id: groupID, members: sorted, primary: primary, reason: reason, seq: engine.allocateSeq()))
            for old in existing where old != groupID { dissolved.append((old, engine.allocateSeq())) }
        }
        var writes = DuplicateStore.recordSourcesStatement(live, athleteID: athleteID).map { [$0] } ?? []
        writes += DuplicateStore.saveGroupsStatements(groups, athleteID: athleteID)
        for (old, seq) in dissolved {
            writes += DuplicateStore.dissolveStatements(old, seq: seq, athleteID: athleteID)
        }
        // Groups left with fewer than two live members dissolve.
        for group in Set(membership.values).subtracting(groupsSeen).sorted(by: { $0.precedes($1) }) {
            let live = membership.filter { $0.value == group && summaries[$0.key] != nil }.map(\.key)
            if live.count < 2 {
                writes += DuplicateStore.dissolveStatements(group, seq: engine.allocateSeq(), athleteID: athleteID)
            }
        }
        return writes
    }

    /// An unordered pair of entry ids.
    struct Pair: Hashable {
        let a: String
        let b: String
        init(_ x: UUID, _ y: UUID) {
            let (p, q) = (x.lowercasedText, y.lowercasedText)
            (a, b) = p < q ? (p, q) : (q, p)
        }
    }
}
