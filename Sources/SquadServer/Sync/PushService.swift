import Foundation
import Postgres
import SquadCore

/// Applies one push inside one transaction: exactly once per `op_id`, merged by the
/// `MergeEngine`, written set-based.
///
/// A rejected op never spoils the batch: validation and merge rejections happen in
/// memory, before any SQL. Should a write still fail on a data error, the caller
/// retries the push with `isolatingOps`, which writes each op under its own
/// savepoint and rejects only the op the database refused.
public enum PushService {
    public static func apply(
        _ push: PushRequest, device: AuthenticatedDevice, nowMillis: Int64, isolatingOps: Bool = false,
        confirming confirmation: DeviceConfirmation? = nil, on connection: Connection
    ) throws -> JSONValue {
        let athleteID = device.athleteID
        let entryIDs = Array(Set(push.ops.compactMap(\.entryID)))
        // One round trip: the device's confirmation when it was authenticated from memory,
        // the lock (the reads after it see every push it waited for), what the ops were
        // already answered with, the entries they touch, and the duplicate searches for
        // the activities they create.
        var prefetch = DuplicateService.Prefetch(push, athleteID: athleteID)
        var reads = try connection.pipeline((confirmation.map { [$0.statement] } ?? []) + [
            EntryStore.lockHeadStatement(athleteID: athleteID, indexScansOnly: true),
            OpLogStore.resultsStatement(of: push.ops.map(\.opID), athleteID: athleteID),
            EntryStore.loadStatement(entryIDs, athleteID: athleteID),
            EntryStore.conflictsStatement(ofEntries: entryIDs, athleteID: athleteID),
        ] + (prefetch?.statements ?? []))
        if let confirmation { try confirmation.check(reads.removeFirst()) }
        prefetch?.results = Array(reads.dropFirst(4))
        let head = try EntryStore.decodeHead(reads[0])
        let done = try OpLogStore.decodeResults(reads[1])
        var engine = MergeEngine(
            device: device.id.lowercasedText, nowMillis: nowMillis, lastSeq: head.lastSeq, serverHLC: head.serverHLC,
            entries: try EntryStore.decodeEntries(reads[2]), conflicts: try EntryStore.decodeConflicts(reads[3]))

        var answers: [JSONValue] = []
        var fresh: [OpResult] = []
        var seenInBatch: [UUID: JSONValue] = [:]
        var rejectedEntries: Set<UUID> = []
        for item in push.ops {
            if let stored = done[item.opID] ?? seenInBatch[item.opID] {
                answers.append(OpResult.duplicate(of: stored))
                continue
            }
            var result: OpResult
            // A snapshot only when isolating: holding one makes the next write copy every entry.
            let before: MergeEngine? = isolatingOps ? engine : nil
            switch item {
            case .failure(let invalid):
                result = engine.rejection(invalid)
            case .success(let op) where rejectedEntries.contains(op.entryID):
                result = OpResult(opID: op.opID, status: .skipped, entryID: op.entryID, code: "earlier_op_rejected",
                                  message: "an earlier op on this entry in the same push was rejected")
            case .success(let op):
                result = engine.apply(op)
                if isolatingOps, let before {
                    do {
                        try connection.savepoint { connection in
                            try write(engine, since: before, athleteID: athleteID, on: connection)
                            try OpLogStore.record([result], deviceID: device.id, athleteID: athleteID, on: connection)
                        }
                    } catch let error as PostgresError where error.isDataError {
                        engine = before
                        result = OpResult(opID: op.opID, status: .rejected, entryID: op.entryID, code: "storage_rejected",
                                          message: "the database refused this op: \(error.message)")
                    }
                }
            }
            if result.status == .rejected, let entryID = result.entryID { rejectedEntries.insert(entryID) }
            fresh.append(result)
            seenInBatch[result.opID] = result.json
            answers.append(result.json)
        }
        // Every write in one round trip, the COMMIT's (or the next statement's, when the
        // caller goes on): groups, entries, conflicts, the op log, the counter.
        let written: MergeEngine? = isolatingOps ? engine : nil
        var writes = try DuplicateService.link(&engine, athleteID: athleteID, prefetched: prefetch, on: connection)
        writes += writeStatements(engine, since: written, athleteID: athleteID)
        if let record = OpLogStore.recordStatement(fresh, deviceID: device.id, athleteID: athleteID) { writes.append(record) }
        writes.append(EntryStore.saveHeadStatement(athleteID: athleteID, lastSeq: engine.lastSeq, serverHLC: engine.serverHLC, syncedDevice: device.id))
        connection.sendWithNextStatement(writes)
        return .object([
            "server_hlc": .string(engine.serverHLC.description),
            "write_checkpoint": .int(engine.lastSeq),
            "results": .array(answers),
        ])
    }

    /// Writes what the engine changed (since the `before` snapshot, when given).
    static func write(_ engine: MergeEngine, since before: MergeEngine?, athleteID: Int64, on connection: Connection) throws {
        for statement in writeStatements(engine, since: before, athleteID: athleteID) { try connection.execute(statement) }
    }

    static func writeStatements(_ engine: MergeEngine, since before: MergeEngine?, athleteID: Int64) -> [SQL] {
        let entries = engine.changedEntries.compactMap { id -> EntryState? in
            guard let entry = engine.entries[id], before?.entries[id] != entry else { return nil }
            return entry
        }
        let conflicts = engine.changedConflicts.compactMap { id -> ConflictRecord? in
            guard let conflict = engine.conflicts[id], before?.conflicts[id] != conflict else { return nil }
            return conflict
        }
        return [EntryStore.saveStatement(entries, athleteID: athleteID), EntryStore.saveStatement(conflicts, athleteID: athleteID)].compactMap { $0 }
    }
}

extension PostgresError {
    /// Errors caused by the data of one statement (classes 22 and 23), which a
    /// savepoint can isolate; anything else fails the whole request.
    public var isDataError: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23")
    }
}
