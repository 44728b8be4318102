import Foundation
import Postgres
import SquadCore
import SquadServer
import Synchronization
import TestSupport

/// Devices pushing small batches of new runs to daemons in a loop, for the lifecycle,
/// outage and multi-daemon tests: every batch, its answer and its timing are kept.
struct OpsLoad {
    /// One push as the device saw it.
    struct Push: Sendable {
        var device: Int
        var opIDs: [String]
        var body: String
        /// Seconds since the load began.
        var started: Double
        var finished: Double
        /// HTTP status, or nil when no answer came (connection refused or reset, timeout).
        var status: Int?
        var retryAfter: String?
        var text: String
        var latency: Double { finished - started }
    }

    /// A migrated cluster of the test's own, for tests that stop or kill PostgreSQL (the
    /// shared test cluster keeps serving the other tests). `finish` stops and removes it.
    static func privateCluster(_ name: String, durable: Bool) throws -> (cluster: EmbeddedCluster, url: String, finish: @Sendable () -> Void) {
        let home = URL(fileURLWithPath: "/tmp/squadsync-\(name)-\(UUID().uuidString.prefix(8))")
        let cluster = EmbeddedCluster(configuration: .init(home: home, database: "squadsync", durable: durable))
        try cluster.start()
        let url = cluster.url()
        try Migrator(migrations: try Migration.load(from: try SchemaDirectory.locate())).migrate(on: try Connection(conninfo: url))
        return (cluster, url, {
            _ = try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(at: home)
        })
    }

    /// Enrolls `devices` athletes with one phone each on the database at `url`.
    static func enroll(devices: Int, url: String) throws -> [String] {
        let connection = try Connection(conninfo: url)
        return try connection.transaction { connection in
            _ = try SquadStore.create(name: "Ops", on: connection)
            return try (0..<devices).map { index in
                _ = try AthleteStore.add(NewAthlete(handle: "ops\(index)", name: "Ops \(index)", squad: "Ops", timeZone: "Europe/Lisbon"), currentYear: 2026, on: connection)
                return try DeviceStore.enroll(handle: "ops\(index)", name: "phone", type: "phone", key: TestTokenKey.key, on: connection).1
            }
        }
    }

    /// A push body of `size` new runs from device `device`, its `sequence`-th batch.
    static func batch(device: Int, sequence: Int, size: Int) -> (body: String, opIDs: [String]) {
        var ops: [JSONValue] = []
        var ids: [String] = []
        for index in 0..<size {
            let op = UUID()
            // Distinct distances and start times: no two runs look like the same run recorded twice.
            let offset = Int64(sequence * size + index)
            ops.append(SyncFixture.createOp(UUID(), op: op, at: offset * 1000, node: "ops\(device)", body: SyncFixture.runEntry(distance: 5000 + offset)))
            ids.append(op.uuidString.lowercased())
        }
        return (SyncFixture.pushBody(ops), ids)
    }

    /// Runs `devices` loops against `servers` (one picked at random per push) until `stop`
    /// turns true or `limit` passes; each loop waits `pause` between pushes. `sending`
    /// holds, by device, when its push now waiting for an answer was sent. Times are seconds
    /// since `begin`: pass the caller's, so the caller's own marks share the scale.
    static func run(
        tokens: [String], servers: @escaping @Sendable () -> String, size: Int, pause: Duration, limit: Duration, timeout: Duration = .seconds(20),
        sending: Locked<[Int: Double]> = Locked([:]), begin: ContinuousClock.Instant = .now,
        stop: @escaping @Sendable ([Push]) -> Bool
    ) async -> [Push] {
        let pushes = Locked<[Push]>([])
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - begin
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        await withTaskGroup(of: Void.self) { group in
            for (device, token) in tokens.enumerated() {
                group.addTask {
                    var sequence = 0
                    while ContinuousClock.now - begin < limit, !stop(pushes.withLock { $0 }) {
                        let (body, ids) = batch(device: device, sequence: sequence, size: size)
                        sequence += 1
                        let started = seconds()
                        sending.withLock { $0[device] = started }
                        var push = Push(device: device, opIDs: ids, body: body, started: started, finished: started, status: nil, retryAfter: nil, text: "")
                        do {
                            let answer = try await HTTP.send("POST", servers() + "/v1/sync/push", token: token, body: body, timeout: timeout)
                            push.status = answer.status
                            push.retryAfter = answer.header("Retry-After")
                            push.text = String(answer.text.prefix(300))
                        } catch {
                            push.text = "\(error)"
                        }
                        push.finished = seconds()
                        sending.withLock { $0[device] = nil }
                        let done = push
                        pushes.withLock { $0.append(done) }
                        try? await Task.sleep(for: pause)
                    }
                }
            }
        }
        return pushes.withLock { $0 }.sorted { $0.started < $1.started }
    }

    /// Sends a batch again until it is answered 200 (the device's retry after a failure).
    static func retry(_ push: Push, token: String, server: String) async throws -> HTTP.Answer {
        var last: HTTP.Answer?
        for attempt in 0..<20 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(250)) }
            if let answer = try? await HTTP.send("POST", server + "/v1/sync/push", token: token, body: push.body), answer.status == 200 {
                return answer
            } else {
                last = nil
            }
        }
        return last ?? HTTP.Answer(status: 0, headers: [], text: "no answer after 20 tries")
    }

    /// Every push that was not answered 200, sent again (each device's in its order,
    /// the devices at once) until it is; the answers, in the order of `pushes`' failures.
    static func retryFailed(_ pushes: [Push], tokens: [String], servers: @escaping @Sendable () -> String) async throws -> [HTTP.Answer] {
        let failed = pushes.filter { $0.status != 200 }
        return try await withThrowingTaskGroup(of: [HTTP.Answer].self) { group in
            for device in tokens.indices {
                let mine = failed.filter { $0.device == device }
                group.addTask {
                    var answers: [HTTP.Answer] = []
                    for push in mine { answers.append(try await retry(push, token: tokens[device], server: servers())) }
                    return answers
                }
            }
            var all: [HTTP.Answer] = []
            for try await answers in group { all += answers }
            return all
        }
    }

    /// The op ids the database holds, out of `ids`.
    static func stored(_ ids: [String], url: String) throws -> Set<String> {
        let connection = try Connection(conninfo: url)
        let rows = try connection.query("SELECT op_id::text FROM applied_ops WHERE op_id::text = ANY(\(ids))")
        return Set(try rows.map { try $0.decode(String.self, at: 0) })
    }
}

/// A value behind a lock that closures can share (a `Mutex` cannot be captured).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}
