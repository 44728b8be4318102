import Foundation

/// Applies a device's ops to entries: pure, deterministic merge logic (SYNC.md "Merge policy").
///
/// Every field is a register holding its last accepted write `(hlc, device, version, op)`.
/// A write and the register's writer are *concurrent* when the writer's device differs
/// and the op's `base_version` predates the register's version (the device had not
/// seen it). A concurrent write wins only with the greater HLC (ties by device id,
/// part of the HLC); a write that saw the register always wins. For free text and
/// for `deleted` (delete vs edit), the concurrent loser becomes a conflict record;
/// a device's later write to the same field supersedes its own older open conflict.
/// Outcomes therefore depend on the set of ops, not their arrival order or batching,
/// as long as causal order holds (an edit arrives after the create it is based on).
public struct MergeEngine: Sendable {
    /// The device sending this batch (HLC node of its ops, register owner).
    public let device: String
    /// Wall-clock now, milliseconds since 1970, from the caller (no clock reads here).
    public let nowMillis: Int64
    /// HLCs further ahead of `nowMillis` are clamped to the server clock.
    public static let maximumSkewMillis: Int64 = 5 * 60 * 1000

    public var entries: [UUID: EntryState]
    public var conflicts: [UUID: ConflictRecord]
    public private(set) var lastSeq: Int64
    public private(set) var serverHLC: HLC
    /// Entries and conflicts changed by this engine, for the store to write.
    public private(set) var changedEntries: Set<UUID> = []
    public private(set) var changedConflicts: Set<UUID> = []

    public init(device: String, nowMillis: Int64, lastSeq: Int64, serverHLC: HLC?, entries: [UUID: EntryState], conflicts: [UUID: ConflictRecord]) {
        self.device = device
        self.nowMillis = nowMillis
        self.lastSeq = lastSeq
        self.serverHLC = serverHLC ?? HLC(millis: nowMillis, counter: 0, node: "server")
        self.entries = entries
        self.conflicts = conflicts
    }

    /// Takes the next seq of the athlete's feed (for links the caller records).
    public mutating func allocateSeq() -> Int64 { nextSeq() }

    /// Records a conflict made outside the register merge (possible duplicates).
    public mutating func record(_ conflict: ConflictRecord) {
        conflicts[conflict.conflictID] = conflict
        changedConflicts.insert(conflict.conflictID)
    }

    mutating func nextSeq() -> Int64 {
        lastSeq += 1
        return lastSeq
    }

    /// Applies one op and returns its result.
    public mutating func apply(_ op: SyncOp) -> OpResult {
        var op = op
        var clockSkew = false
        if op.hlc.millis > nowMillis + Self.maximumSkewMillis {
            serverHLC = HLC.tick(local: serverHLC, nowMillis: nowMillis, node: "server")
            op.hlc = HLC(millis: serverHLC.millis, counter: serverHLC.counter, node: op.hlc.node)
            clockSkew = true
        }
        serverHLC = HLC.receive(local: serverHLC, remote: op.hlc, nowMillis: nowMillis, node: "server")
        var result: OpResult
        switch op.action {
        case .create:
            result = entries[op.entryID] == nil ? create(op) : recreate(op)
        case .patch:
            result = patch(op)
        case .delete:
            result = delete(op)
        }
        result.clockSkew = clockSkew
        return result
    }

    /// The result for an op that could not be decoded.
    public func rejection(_ invalid: SyncOp.Invalid) -> OpResult {
        OpResult(opID: invalid.opID, status: .rejected, entryID: invalid.entryID, code: "invalid_field", field: invalid.problem.field, message: invalid.problem.message)
    }

    // MARK: - Operations

    mutating func create(_ op: SyncOp) -> OpResult {
        guard let kind = op.kind, kind.isDeviceWritable else {
            return reject(op, code: "server_owned_kind", field: "kind", message: "devices cannot write \(op.kind?.rawValue ?? "this kind") entries")
        }
        let doc: JSONValue
        switch EntryValidation.normalize(op.entry ?? .object([:]), entryID: op.entryID, kind: kind) {
        case .success(let normalized): doc = normalized
        case .failure(let problem): return reject(op, problem)
        }
        let register = Register(hlc: op.hlc, device: device, version: 1, op: op.opID, base: 0)
        var registers: [String: Register] = ["deleted": register]
        for (path, _) in Self.leaves(of: doc, under: ["body", "extra"]) { registers[path] = register }
        let seq = nextSeq()
        entries[op.entryID] = EntryState(
            entryID: op.entryID, kind: kind, version: 1, seq: seq, deleted: false, deletedAtMillis: nil, doc: doc,
            registers: registers, createdHLC: op.hlc, updatedHLC: op.hlc)
        changedEntries.insert(op.entryID)
        return OpResult(opID: op.opID, status: .applied, entryID: op.entryID, version: 1, seq: seq)
    }

    /// `create` of an existing entry is a patch of its editable fields; recorded facts must match.
    mutating func recreate(_ op: SyncOp) -> OpResult {
        guard let existing = entries[op.entryID] else { return create(op) }
        if existing.isPurged { return purged(op) }
        guard op.kind == existing.kind else {
            return reject(op, code: "invalid_field", field: "kind", message: "the entry exists with kind \(existing.kind.rawValue)")
        }
        let doc: JSONValue
        switch EntryValidation.normalize(op.entry ?? .object([:]), entryID: op.entryID, kind: existing.kind) {
        case .success(let normalized): doc = normalized
        case .failure(let problem): return reject(op, problem)
        }
        for path in ["time", "source", "body.splits", "body.laps", "body.samples"] {
            if let given = doc.value(at: path), let stored = existing.doc.value(at: path), given != stored {
                return reject(op, code: "immutable_field", field: path, message: "is a recorded fact and cannot change")
            }
        }
        var set: [String: JSONValue] = [:]
        for (path, value) in Self.leaves(of: doc, under: ["body", "extra"]) where FieldClass.of(path) != .recordedFact {
            set[path] = value
        }
        var patchOp = op
        patchOp.set = JSONObject(set)
        return write(patchOp, values: set, isDelete: false)
    }

    mutating func patch(_ op: SyncOp) -> OpResult {
        guard let existing = entries[op.entryID] else {
            return OpResult(opID: op.opID, status: .conflict, entryID: op.entryID, code: "unknown_entry", message: "no such entry; create it first")
        }
        if existing.isPurged { return purged(op) }
        if let kind = op.kind, kind != existing.kind {
            return reject(op, code: "invalid_field", field: "kind", message: "the entry has kind \(existing.kind.rawValue)")
        }
        guard existing.kind.isDeviceWritable else {
            return reject(op, code: "server_owned_kind", field: "kind", message: "devices cannot edit \(existing.kind.rawValue) entries")
        }
        var values: [String: JSONValue] = [:]
        for (path, value) in op.set {
            if FieldClass.of(path) == .recordedFact {
                return reject(op, code: "immutable_field", field: path, message: "is a recorded fact and cannot change")
            }
            guard path.hasPrefix("body.") || path.hasPrefix("extra."), !path.hasSuffix("."), !path.contains("..") else {
                return reject(op, code: "invalid_field", field: path, message: "only body.* and extra.* fields can be patched")
            }
            if value.objectValue != nil || value.arrayValue != nil {
                for (leaf, leafValue) in Self.leaves(of: value, prefix: path) { values[leaf] = leafValue }
            } else {
                values[path] = value
            }
        }
        // Every value must be valid on its own, whatever the merge keeps.
        var candidate = existing.doc
        for (path, value) in values { candidate = candidate.setting(value, at: path) }
        if let problem = EntryValidation.problems(in: candidate, kind: existing.kind) { return reject(op, problem) }
        return write(op, values: values, isDelete: false)
    }

    mutating func delete(_ op: SyncOp) -> OpResult {
        guard let existing = entries[op.entryID] else {
            return OpResult(opID: op.opID, status: .conflict, entryID: op.entryID, code: "unknown_entry", message: "no such entry")
        }
        if existing.isPurged { return purged(op) }
        return write(op, values: [:], isDelete: true)
    }

    // MARK: - The register merge

    mutating func write(_ op: SyncOp, values: [String: JSONValue], isDelete: Bool) -> OpResult {
        guard var entry = entries[op.entryID] else { return OpResult(opID: op.opID, status: .conflict, entryID: op.entryID, code: "unknown_entry") }
        let newVersion = entry.version + 1
        let mine = Register(hlc: op.hlc, device: device, version: newVersion, op: op.opID, base: op.baseVersion)
        var changed = false
        var sawConcurrency = op.baseVersion < entry.version
        var tracked: [(String, JSONValue)] = []

        var fields = values.map { ($0.key, $0.value) }
        // Every edit also writes `deleted = false`, so delete vs edit is one LWW register.
        fields.append(("deleted", .bool(isDelete)))
        fields.sort { $0.0 < $1.0 }

        for (path, value) in fields {
            let current: JSONValue = path == "deleted" ? .bool(entry.deleted) : (entry.doc.value(at: path) ?? .null)
            let register = entry.registers[path]
            let concurrent = register.map { op.baseVersion < $0.version && $0.device != device } ?? false
            if concurrent { sawConcurrency = true }
            if path == "deleted" || FieldClass.of(path) == .freeText { tracked.append((path, value)) }
            let wins = register.map { !concurrent || op.hlc > $0.hlc } ?? true
            guard wins else { continue }
            if path == "deleted" {
                if entry.deleted != isDelete {
                    entry.deleted = isDelete
                    entry.deletedAtMillis = isDelete ? nowMillis : nil
                    changed = true
                }
            } else if value != current {
                entry.doc = entry.doc.setting(value, at: path)
                changed = true
            }
            // A won register is a change even when the value is equal: the version it
            // carries is what later writes are judged concurrent against.
            entry.registers[path] = mine
            changed = true
        }
        let version = changed ? newVersion : entry.version
        var produced: [(UUID, String)] = []
        for (path, value) in tracked {
            var opinion = Opinion(register: mine, value: value)
            opinion.register.version = version
            if let previous = entry.opinions[path]?[device], previous.register.hlc > op.hlc {
                // An older write of this device arriving late does not replace its newer say.
            } else {
                entry.opinions[path, default: [:]][device] = opinion
            }
            produced += reconcileConflicts(of: &entry, field: path, newlyBy: op.opID)
        }
        if changed {
            entry.version = newVersion
            entry.seq = nextSeq()
            entry.updatedHLC = max(entry.updatedHLC, op.hlc)
        }
        if changed || !tracked.isEmpty { changedEntries.insert(entry.entryID) }
        entries[entry.entryID] = entry
        let status: OpResult.Status = sawConcurrency ? .merged : .applied
        return OpResult(opID: op.opID, status: status, entryID: entry.entryID, version: entry.version, seq: entry.seq, conflicts: produced)
    }

    /// Makes the open conflicts of a field exactly the final says of other devices
    /// that differ from the standing value and were written without seeing it.
    mutating func reconcileConflicts(of entry: inout EntryState, field: String, newlyBy opID: UUID) -> [(UUID, String)] {
        guard let winner = entry.registers[field] else { return [] }
        let standing: JSONValue = field == "deleted" ? .bool(entry.deleted) : (entry.doc.value(at: field) ?? .null)
        var wanted: [UUID: Opinion] = [:]
        for (device, opinion) in entry.opinions[field] ?? [:] where device != winner.device {
            if opinion.value != standing && opinion.register.isConcurrent(with: winner) {
                wanted[ConflictRecord.identifier(entryID: entry.entryID, field: field, loserOp: opinion.register.op)] = opinion
            }
        }
        let existing = conflicts.values.filter { $0.entryID == entry.entryID && $0.field == field }
        for conflict in existing where conflict.status == .open && wanted[conflict.conflictID] == nil {
            let seq = nextSeq()
            conflicts[conflict.conflictID]?.status = .superseded
            conflicts[conflict.conflictID]?.seq = seq
            changedConflicts.insert(conflict.conflictID)
        }
        var produced: [(UUID, String)] = []
        for (id, opinion) in wanted.sorted(by: { $0.key.precedes($1.key) }) {
            if let current = conflicts[id], current.status == .open || current.status == .resolved {
                if current.kept != standing {
                    let seq = nextSeq()
                    conflicts[id]?.kept = standing
                    conflicts[id]?.seq = seq
                    changedConflicts.insert(id)
                }
                continue
            }
            let seq = nextSeq()
            conflicts[id] = ConflictRecord(
                conflictID: id, entryID: entry.entryID, field: field, loserOp: opinion.register.op,
                loserDevice: opinion.register.device, other: opinion.value, kept: standing, status: .open, seq: seq)
            changedConflicts.insert(id)
            produced.append((id, field))
        }
        return produced
    }

    mutating func reject(_ op: SyncOp, _ problem: ValidationProblem) -> OpResult {
        reject(op, code: "invalid_field", field: problem.field, message: problem.message)
    }

    /// An op on a tombstone whose body was purged (deleted over 30 days ago): nothing to
    /// edit or restore; the device should drop its copy.
    func purged(_ op: SyncOp) -> OpResult {
        OpResult(opID: op.opID, status: .conflict, entryID: op.entryID, code: "entry_purged",
                 message: "the entry was deleted over 30 days ago and its content is gone")
    }

    func reject(_ op: SyncOp, code: String, field: String, message: String) -> OpResult {
        OpResult(opID: op.opID, status: .rejected, entryID: op.entryID, code: code, field: field, message: message)
    }

    // MARK: - Paths

    /// Leaf values under the given top-level members, as dotted paths; arrays are leaves.
    static func leaves(of doc: JSONValue, under roots: [String]) -> [(String, JSONValue)] {
        roots.flatMap { root in doc[root].map { leaves(of: $0, prefix: root) } ?? [] }
    }

    static func leaves(of value: JSONValue, prefix: String) -> [(String, JSONValue)] {
        // Keyed lists merge per item and field: drills by drill_id, strength sets by
        // set_id (exercises by position, which the create fixes).
        if let items = value.arrayValue, let name = prefix.split(separator: ".").last.map(String.init) {
            if name == "exercises" && prefix == "body.exercises" {
                return items.enumerated().flatMap { leaves(of: $0.element, prefix: "\(prefix)[#\($0.offset)]") }
            }
            if name == "drills" && prefix == "body.drills" || name == "sets" && prefix.hasPrefix("body.exercises[#") {
                let key = PathSegment.keyField(forList: name)
                let ids = items.compactMap { $0[key]?.stringValue }
                if ids.count == items.count, Set(ids).count == ids.count, ids.allSatisfy({ !$0.contains(".") && !$0.contains("]") && !$0.contains("[") }) {
                    return items.flatMap { item -> [(String, JSONValue)] in
                        let id = item[key]!.stringValue!
                        var fields = item.objectValue ?? [:]
                        fields.removeValue(forKey: key)
                        // An item with only its id still exists: keep it as a leaf of its own.
                        guard !fields.isEmpty else { return [("\(prefix)[\(id)].\(key)", .string(id))] }
                        return leaves(of: .object(fields), prefix: "\(prefix)[\(id)]")
                    }
                }
            }
        }
        guard let members = value.objectValue else { return [(prefix, value)] }
        // An empty object holds no field: writing it would erase its siblings' parent.
        return members.flatMap { key, child in leaves(of: child, prefix: "\(prefix).\(key)") }
    }
}
