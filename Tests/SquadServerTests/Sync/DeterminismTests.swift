import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// The determinism property of SYNC.md against the real database: for seeded random op
/// sets, any interleaving and batching of the devices' pushes stores the same entries
/// and the same open conflicts.
@Suite("Determinism against the database")
struct DeterminismTests {
    struct Scenario {
        var creates: [JSONValue]
        var perDevice: [[JSONValue]]
    }

    static func scenario(seed: UInt64) -> Scenario {
        var random = SeededRandom(seed: seed)
        let entries = (0..<3).map { _ in random.uuid() }
        let creates = entries.map { SyncFixture.createOp($0, op: random.uuid(), at: 0, node: "d0") }
        var perDevice: [[JSONValue]] = []
        for device in 0..<3 {
            var ops: [JSONValue] = []
            var clock: Int64 = 1
            for _ in 0..<Int.random(in: 3...8, using: &random) {
                clock += Int64.random(in: 1...40, using: &random)
                let entry = entries.randomElement(using: &random)!
                let node = "d\(device)"
                switch Int.random(in: 0..<10, using: &random) {
                case 0: ops.append(SyncFixture.deleteOp(entry, op: random.uuid(), base: 1, at: clock, node: node))
                case 1...4: ops.append(SyncFixture.patchOp(entry, op: random.uuid(), base: 1, at: clock, node: node, set: ["body.rpe": .int(Int64.random(in: 1...10, using: &random))]))
                default: ops.append(SyncFixture.patchOp(entry, op: random.uuid(), base: 1, at: clock, node: node, set: ["body.notes": .string("device \(device) note \(Int.random(in: 0...2, using: &random))")]))
                }
            }
            perDevice.append(ops)
        }
        return Scenario(creates: creates, perDevice: perDevice)
    }

    /// Applies the scenario for a fresh athlete in one random interleaving, and reads back
    /// what it stored.
    static func replay(_ scenario: Scenario, order: UInt64, fixture: SyncFixture, athleteIndex: Int) async throws -> [String] {
        let pool = fixture.pool
        let handle = "det\(athleteIndex)"
        let devices = try await pool.withTransaction { connection -> [AuthenticatedDevice] in
            let athlete = try AthleteStore.add(NewAthlete(handle: handle, name: handle, squad: "Club", timeZone: "UTC"), currentYear: 2026, on: connection)
            return try (0..<3).map { index in
                let (device, _) = try DeviceStore.enroll(handle: handle, name: "device \(index)", type: "phone", key: TestTokenKey.key, on: connection)
                return AuthenticatedDevice(id: device.id, athleteID: athlete.id)
            }
        }
        func push(_ ops: [JSONValue], device: AuthenticatedDevice) async throws {
            let request = try PushRequest.parse(Array(SyncFixture.pushBody(ops).utf8))
            _ = try await pool.withTransaction { try PushService.apply(request, device: device, nowMillis: SyncFixture.clockStart + 60_000, on: $0) }
        }
        try await push(scenario.creates, device: devices[0])
        var random = SeededRandom(seed: order)
        var queues = scenario.perDevice.map { $0[...] }
        while let device = queues.indices.filter({ !queues[$0].isEmpty }).randomElement(using: &random) {
            let size = Int.random(in: 1...3, using: &random)
            let batch = Array(queues[device].prefix(size))
            queues[device] = queues[device].dropFirst(batch.count)
            try await push(batch, device: devices[device])
        }
        let athleteID = devices[0].athleteID
        return try await pool.withConnection { connection in
            let entries = try connection.query("SELECT entry_id, deleted, doc::text FROM entries WHERE athlete_id = \(athleteID)").map { row in
                let (id, deleted, doc) = try row.decode((UUID, Bool, String).self)
                return "entry \(id) deleted=\(deleted) \(doc)"
            }
            let conflicts = try connection.query("""
                SELECT entry_id, field, loser_op_id, other::text FROM sync_conflicts WHERE athlete_id = \(athleteID) AND status = 'open'
                """).map { row in
                let (entry, field, loser, other) = try row.decode((UUID, String, UUID, String).self)
                return "conflict \(entry) \(field) \(loser) \(other)"
            }
            return (entries + conflicts).sorted()
        }
    }

    @Test("any interleaving and batching stores the same state and conflicts", arguments: [UInt64(11), 12, 13, 14, 15, 16])
    func sameStateInAnyOrder(seed: UInt64) async throws {
        let fixture = try await SyncFixture.make()
        let scenario = Self.scenario(seed: seed)
        let reference = try await Self.replay(scenario, order: 0, fixture: fixture, athleteIndex: 0)
        #expect(reference.contains { $0.hasPrefix("entry") })
        for order in UInt64(1)...UInt64(4) {
            let stored = try await Self.replay(scenario, order: order &* 31 &+ seed, fixture: fixture, athleteIndex: Int(order))
            let difference = Set(stored).symmetricDifference(reference)
            #expect(difference.isEmpty, "seed \(seed), order \(order): \(difference.sorted().map { String($0.prefix(160)) })")
        }
        await fixture.close()
    }
}
