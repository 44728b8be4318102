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
    /// Re-examines the activities the engine changed in this push.
    public static func link(_ engine: inout MergeEngine, athleteID: Int64, on connection: Connection) throws {
        let touched = engine.changedEntries.compactMap { id -> (EntryState, ActivitySummary?)? in
            guard let entry = engine.entries[id], entry.kind == .run || entry.kind == .cross else { return nil }
            return (entry, entry.deleted ? nil : ActivitySummary(entryID: id, kind: entry.kind, doc: entry.doc))
        }
        guard !touched.isEmpty else { return }
        let live = touched.compactMap(\.1)
        try DuplicateStore.recordSources(live, athleteID: athleteID, on: connection)

        // Candidates: activities near in time, or sharing an external id, plus their groups' members.
        var summaries: [UUID: ActivitySummary] = [:]
        for summary in try DuplicateStore.activities(athleteID: athleteID, startingNear: live.map(\.startMillis), on: connection) {
            summaries[summary.entryID] = summary
        }
        for summary in try DuplicateStore.activities(withKeys: Set(live.flatMap(\.externalKeys)), athleteID: athleteID, on: connection) {
            summaries[summary.entryID] = summary
        }
        for (entry, summary) in touched {
            summaries[entry.entryID] = summary  // this push's state is newer than the table's
            if summary == nil { summaries.removeValue(forKey: entry.entryID) }
        }
        var membership = try DuplicateStore.membership(of: Array(summaries.keys) + touched.map(\.0.entryID), athleteID: athleteID, on: connection)
        for (id, members) in try DuplicateStore.members(ofGroups: Set(membership.values), athleteID: athleteID, on: connection) {
            for member in members where summaries[member] == nil {
                membership[member] = id
            }
        }
        let touchedIDs = Set(touched.map(\.0.entryID))
        let missing = membership.keys.filter { summaries[$0] == nil && !touchedIDs.contains($0) }
        for summary in try DuplicateStore.activities(ids: Array(missing), athleteID: athleteID, on: connection) {
            summaries[summary.entryID] = summary
        }
        let unlinked = try DuplicateStore.unlinkedPairs(among: Array(summaries.keys), athleteID: athleteID, on: connection)

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
            let (low, high) = ra.uuidString < rb.uuidString ? (ra, rb) : (rb, ra)
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
            let sorted = members.sorted { $0.uuidString < $1.uuidString }
            let groupID = existing.min { $0.uuidString < $1.uuidString } ?? StableID.make("group|\(sorted[0].lowercasedText)")
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
        try DuplicateStore.saveGroups(groups, athleteID: athleteID, on: connection)
        for (old, seq) in dissolved {
            try DuplicateStore.dissolve(old, seq: seq, athleteID: athleteID, on: connection)
        }
        // Groups left with fewer than two live members dissolve.
        for group in Set(membership.values).subtracting(groupsSeen) {
            let live = membership.filter { $0.value == group && summaries[$0.key] != nil }.map(\.key)
            if live.count < 2 {
                try DuplicateStore.dissolve(group, seq: engine.allocateSeq(), athleteID: athleteID, on: connection)
            }
        }
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
