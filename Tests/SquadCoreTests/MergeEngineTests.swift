import Foundation
import SquadCore
import Testing

/// The server side of the test: applies batches, each from one device, carrying state.
struct Ledger {
    var entries: [UUID: EntryState] = [:]
    var conflicts: [UUID: ConflictRecord] = [:]
    var seq: Int64 = 0
    var hlc: HLC?

    mutating func push(device: String, _ ops: [SyncOp], nowMillis: Int64) -> [OpResult] {
        var engine = MergeEngine(device: device, nowMillis: nowMillis, lastSeq: seq, serverHLC: hlc, entries: entries, conflicts: conflicts)
        let results = ops.map { engine.apply($0) }
        entries = engine.entries
        conflicts = engine.conflicts
        seq = engine.lastSeq
        hlc = engine.serverHLC
        return results
    }

    /// What must not depend on arrival order: documents, deletion, open conflicts.
    var observable: [String] {
        let docs = entries.values.map { "\($0.entryID) deleted=\($0.deleted) \($0.doc.canonicalText)" }
        let open = conflicts.values.filter { $0.status == .open }.map { "conflict \($0.entryID) \($0.field) loser=\($0.loserOp) other=\($0.other.canonicalText)" }
        return (docs + open).sorted()
    }
}

@Suite("Merge engine")
struct MergeEngineTests {
    static let base: Int64 = 1_780_000_000_000

    static func hlc(_ offset: Int64, _ device: String) -> HLC {
        HLC(millis: base + offset, counter: 0, node: device)
    }

    static func runEntry(_ id: UUID, notes: String = "easy one", rpe: Int64 = 4) -> JSONValue {
        .object([
            "time": .object(["start": .string("2026-06-01T06:00:00.000Z"), "end": .string("2026-06-01T06:45:00.000Z"), "tz": .string("Europe/Lisbon")]),
            "source": .object(["device_id": .string("watch"), "device_type": .string("watch"), "recording_method": .string("active")]),
            "body": .object(["sport": .string("run"), "session_type": .string("easy"), "distance_m": .int(8000), "rpe": .int(rpe), "notes": .string(notes)]),
        ])
    }

    func create(_ entry: UUID, device: String, at offset: Int64) -> SyncOp {
        SyncOp(opID: UUID(), action: .create, entryID: entry, kind: .run, hlc: Self.hlc(offset, device), entry: Self.runEntry(entry))
    }

    @Test("a valid create is applied at version 1; replaying the same state gives the same document")
    func createApplies() {
        var ledger = Ledger()
        let entry = UUID()
        let results = ledger.push(device: "watch", [create(entry, device: "watch", at: 0)], nowMillis: Self.base)
        #expect(results[0].status == .applied)
        #expect(results[0].version == 1)
        #expect(results[0].seq == 1)
        #expect(ledger.entries[entry]?.doc.value(at: "body.rpe") == .int(4))
        #expect(ledger.entries[entry]?.doc["extra"] == .object([:]))
    }

    @Test("validation rejects with the field named", arguments: [
        ("body.distance_m", JSONValue.int(-5)), ("body.rpe", .int(11)), ("body.rpe", .double(6.5)), ("body.hr.avg_bpm", .int(300)),
        ("body.cadence.avg_spm", .int(20)), ("body.session_type", .string("jog")), ("body.notes", .int(3)),
    ])
    func rejectsInvalid(field: String, value: JSONValue) {
        var ledger = Ledger()
        let entry = UUID()
        var op = create(entry, device: "watch", at: 0)
        op.entry = Self.runEntry(entry).setting(value, at: field)
        let result = ledger.push(device: "watch", [op], nowMillis: Self.base)[0]
        #expect(result.status == .rejected)
        #expect(result.code == "invalid_field")
        #expect(result.field == field)
        #expect(ledger.entries.isEmpty)
    }

    @Test("end before start, unknown kinds of time zone and server-owned kinds are rejected")
    func rejectsEnvelope() {
        var ledger = Ledger()
        let entry = UUID()
        var backwards = create(entry, device: "watch", at: 0)
        backwards.entry = Self.runEntry(entry).setting(.string("2026-06-01T05:00:00.000Z"), at: "time.end")
        #expect(ledger.push(device: "watch", [backwards], nowMillis: Self.base)[0].field == "time.end")
        var plan = create(entry, device: "watch", at: 0)
        plan.kind = .planSession
        #expect(ledger.push(device: "watch", [plan], nowMillis: Self.base)[0].code == "server_owned_kind")
    }

    @Test("unknown envelope fields go to extra and come back untouched")
    func unknownFieldsKept() {
        var ledger = Ledger()
        let entry = UUID()
        var op = create(entry, device: "watch", at: 0)
        op.entry = Self.runEntry(entry).setting(.object(["v": .int(2)]), at: "vendor_blob")
        _ = ledger.push(device: "watch", [op], nowMillis: Self.base)
        #expect(ledger.entries[entry]?.doc.value(at: "extra.vendor_blob.v") == .int(2))
    }

    @Test("recorded facts are immutable; patches of unknown entries are conflicts")
    func immutableAndUnknown() {
        var ledger = Ledger()
        let entry = UUID()
        _ = ledger.push(device: "watch", [create(entry, device: "watch", at: 0)], nowMillis: Self.base)
        let edit = SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: Self.hlc(10, "phone"), baseVersion: 1, set: ["time.start": .string("2026-06-01T05:00:00.000Z")])
        let rejected = ledger.push(device: "phone", [edit], nowMillis: Self.base)[0]
        #expect(rejected.status == .rejected)
        #expect(rejected.code == "immutable_field")
        let unknown = SyncOp(opID: UUID(), action: .patch, entryID: UUID(), kind: nil, hlc: Self.hlc(10, "phone"), baseVersion: 1, set: ["body.rpe": .int(5)])
        let conflict = ledger.push(device: "phone", [unknown], nowMillis: Self.base)[0]
        #expect(conflict.status == .conflict)
        #expect(conflict.code == "unknown_entry")
    }

    @Test("keyed lists merge per item and field: concurrent edits of different drills both stand")
    func keyedLists() {
        var ledger = Ledger()
        let entry = UUID()
        let drills: JSONValue = .object(["body": .object(["drills": .array([
            .object(["drill_id": .string("d1"), "name": .string("a-skips"), "reps": .int(10)]),
            .object(["drill_id": .string("d2"), "name": .string("high knees"), "reps": .int(10)]),
        ])])])
        _ = ledger.push(device: "phone", [SyncOp(opID: UUID(), action: .create, entryID: entry, kind: .drills, hlc: Self.hlc(0, "phone"), entry: drills)], nowMillis: Self.base)
        _ = ledger.push(device: "phone", [SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: Self.hlc(10, "phone"), baseVersion: 1, set: ["body.drills[d1].reps": .int(20)])], nowMillis: Self.base)
        _ = ledger.push(device: "watch", [SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: Self.hlc(5, "watch"), baseVersion: 1, set: [
            "body.drills[d2].reps": .int(12), "body.drills[d0].name": .string("wall drill"),
        ])], nowMillis: Self.base)
        let doc = ledger.entries[entry]!.doc
        #expect(doc.value(at: "body.drills[d1].reps") == .int(20))
        #expect(doc.value(at: "body.drills[d2].reps") == .int(12))
        #expect(doc.value(at: "body.drills[d0].name") == .string("wall drill"))
        #expect(doc.value(at: "body.drills")?.arrayValue?.compactMap { $0["drill_id"]?.stringValue } == ["d0", "d1", "d2"])
        let reject = ledger.push(device: "watch", [SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: Self.hlc(20, "watch"), baseVersion: 1, set: ["body.drills[d1].reps": .int(-3)])], nowMillis: Self.base)
        #expect(reject[0].status == .rejected)
    }

    @Test("concurrent free-text edits keep the HLC winner and record the loser")
    func freeTextConflict() {
        var ledger = Ledger()
        let entry = UUID()
        _ = ledger.push(device: "watch", [create(entry, device: "watch", at: 0)], nowMillis: Self.base)
        let phone = SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: Self.hlc(20, "phone"), baseVersion: 1, set: ["body.notes": .string("calf tight")])
        let watch = SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: Self.hlc(10, "watch"), baseVersion: 1, set: ["body.notes": .string("felt great")])
        #expect(ledger.push(device: "phone", [phone], nowMillis: Self.base)[0].status == .applied)
        let merged = ledger.push(device: "watch", [watch], nowMillis: Self.base)[0]
        #expect(merged.status == .merged)
        #expect(merged.conflicts.count == 1)
        #expect(ledger.entries[entry]?.doc.value(at: "body.notes") == .string("calf tight"))
        let open = ledger.conflicts.values.filter { $0.status == .open }
        #expect(open.map(\.other) == [.string("felt great")])
        #expect(open.map(\.loserOp) == [watch.opID])
    }

    @Test("an HLC far in the future is clamped and flagged")
    func clockSkew() {
        var ledger = Ledger()
        let entry = UUID()
        var op = create(entry, device: "watch", at: 0)
        op.hlc = Self.hlc(3_600_000, "watch")
        let result = ledger.push(device: "watch", [op], nowMillis: Self.base)[0]
        #expect(result.clockSkew)
        #expect(ledger.entries[entry]!.createdHLC.millis <= Self.base + 1)
    }

    /// Random concurrent ops after the creates: patches of rpe (scalar) and notes
    /// (free text) and deletes from three devices, all based on version 1.
    static func randomScenario(seed: UInt64) -> (creates: [SyncOp], perDevice: [String: [SyncOp]]) {
        var random = SeededRandom(seed: seed)
        let entries = (0..<4).map { _ in UUID() }
        let drillEntries = (0..<2).map { _ in UUID() }
        let drills: JSONValue = .object(["body": .object(["drills": .array([
            .object(["drill_id": .string("d2"), "name": .string("a-skips"), "reps": .int(10)]),
            .object(["drill_id": .string("d1"), "name": .string("high knees"), "reps": .int(10)]),
        ])])])
        let creates = entries.map { entry in
            SyncOp(opID: UUID(), action: .create, entryID: entry, kind: .run, hlc: hlc(0, "watch"), entry: runEntry(entry))
        } + drillEntries.map { entry in
            SyncOp(opID: UUID(), action: .create, entryID: entry, kind: .drills, hlc: hlc(0, "phone"), entry: drills)
        }
        var perDevice: [String: [SyncOp]] = [:]
        for device in ["watch", "phone", "tablet"] {
            var clock: Int64 = 1
            var counter = 0
            for _ in 0..<Int.random(in: 4...9, using: &random) {
                // A device's own clock never goes backwards; equal instants advance the counter.
                let step = Int64.random(in: 0...30, using: &random)
                clock += step
                counter = step == 0 ? counter + 1 : 0
                let stamp = HLC(millis: base + clock, counter: counter, node: device)
                if Int.random(in: 0..<4, using: &random) == 0 {
                    // Keyed list: edit or add drills by id, per item and field.
                    let entry = drillEntries.randomElement(using: &random)!
                    let drill = "d\(Int.random(in: 1...4, using: &random))"
                    let field = Bool.random(using: &random) ? "reps" : "sets"
                    perDevice[device, default: []].append(SyncOp(
                        opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: stamp, baseVersion: 1,
                        set: ["body.drills[\(drill)].\(field)": .int(Int64.random(in: 1...20, using: &random))]))
                    continue
                }
                let entry = entries.randomElement(using: &random)!
                let op: SyncOp
                switch Int.random(in: 0..<10, using: &random) {
                case 0:
                    op = SyncOp(opID: UUID(), action: .delete, entryID: entry, kind: nil, hlc: stamp, baseVersion: 1)
                case 1...4:
                    op = SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: stamp, baseVersion: 1, set: ["body.rpe": .int(Int64.random(in: 1...10, using: &random))])
                default:
                    op = SyncOp(opID: UUID(), action: .patch, entryID: entry, kind: nil, hlc: stamp, baseVersion: 1, set: ["body.notes": .string("\(device) says \(Int.random(in: 0...3, using: &random))")])
                }
                perDevice[device, default: []].append(op)
            }
        }
        return (creates, perDevice)
    }

    /// Interleaves the devices' queues at random (each device's own order kept) in random batch sizes.
    static func replay(_ scenario: (creates: [SyncOp], perDevice: [String: [SyncOp]]), seed: UInt64) -> Ledger {
        var random = SeededRandom(seed: seed)
        var ledger = Ledger()
        _ = ledger.push(device: "watch", scenario.creates, nowMillis: base)
        var queues = scenario.perDevice
        while let device = queues.filter({ !$0.value.isEmpty }).keys.sorted().randomElement(using: &random) {
            let size = Int.random(in: 1...3, using: &random)
            let batch = Array(queues[device]!.prefix(size))
            queues[device]!.removeFirst(batch.count)
            _ = ledger.push(device: device, batch, nowMillis: base + 10_000)
        }
        return ledger
    }

    @Test("any interleaving and batching of concurrent ops gives the same state and conflicts", arguments: Array(UInt64(1)...UInt64(40)))
    func determinism(seed: UInt64) {
        let scenario = Self.randomScenario(seed: seed)
        let reference = Self.replay(scenario, seed: 0).observable
        for order in UInt64(1)...UInt64(12) {
            let observed = Self.replay(scenario, seed: order &* 7919 &+ seed).observable
            let difference = Set(observed).symmetricDifference(reference).sorted()
            #expect(difference.isEmpty, "seed \(seed), order \(order): \(difference.map { String($0.suffix(160)) })")
        }
    }
}
