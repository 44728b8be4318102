import Foundation
import NIOPosix
import Postgres
import SquadCore
import SquadServer
import Testing
import Synchronization
import TestSupport

/// PostgreSQL stopped for 10 s under load, against a real `coach serve` on a cluster of
/// the test's own (the shared test cluster keeps serving the other tests).
@Suite("Database outage")
struct OutageTests {
    @Test("PostgreSQL down for 10 s under load: only 503s with Retry-After, /readyz false, service back within 5 s, nothing acknowledged lost")
    func outage() async throws {
        let (cluster, url, finish) = try OpsLoad.privateCluster("outage", durable: false)
        defer { finish() }
        let tokens = try OpsLoad.enroll(devices: 4, url: url)
        let daemon = try await Daemon.start(databaseURL: url, arguments: ["--log-format", "json"])

        let outageStart = Locked<Double?>(nil)
        let databaseBack = Locked<Double?>(nil)
        let readyDuringOutage = Locked<Int?>(nil)
        let begin = ContinuousClock.now
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - begin
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        async let pushes = OpsLoad.run(
            tokens: tokens, servers: { daemon.base }, size: 3, pause: .milliseconds(150), limit: .seconds(40), begin: begin
        ) { pushes in
            // Stop 2 s after the first success once the database is back.
            guard let back = databaseBack.withLock({ $0 }) else { return false }
            guard let first = pushes.first(where: { $0.started >= back && $0.status == 200 }) else { return false }
            return pushes.last.map { $0.finished > first.finished + 2 } ?? false
        }
        try await Task.sleep(for: .seconds(2))
        outageStart.withLock { $0 = seconds() }
        try await Self.blocking { _ = try cluster.stop() }
        let stopped = seconds()
        let stoppedAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(1))
        let ready = try await HTTP.send("GET", daemon.base + "/readyz", timeout: .seconds(5))
        readyDuringOutage.withLock { $0 = ready.status }
        try await Task.sleep(until: stoppedAt + .seconds(10))
        // "Back" is when the restart begins: the server may answer before start() returns.
        databaseBack.withLock { $0 = seconds() }
        try await Self.blocking { _ = try cluster.start() }
        // Up: pg_ctl has seen the server accept connections (a start takes seconds on a busy machine).
        let up = seconds()
        let all = await pushes
        let back = try #require(databaseBack.withLock { $0 })
        let down = try #require(outageStart.withLock { $0 })

        // During the outage (requests started after the stop, before the restart): 503 only.
        let during = all.filter { $0.started >= stopped && $0.finished <= back }
        let statuses = Dictionary(grouping: all.filter { $0.status != 200 }, by: { $0.status.map(String.init) ?? "no answer" }).mapValues(\.count)
        #expect(during.count > 10, "the load kept running through the outage: \(during.count) pushes")
        #expect(during.allSatisfy { $0.status == 503 }, "only 503 while down: \(statuses)")
        #expect(all.allSatisfy { $0.status == 200 || $0.status == 503 }, "never a 500 or a hang: \(statuses) \(all.first { $0.status != 200 && $0.status != 503 }?.text ?? "")")
        #expect(all.filter { $0.status == 503 }.allSatisfy { ($0.retryAfter.flatMap(Int.init) ?? 0) >= 1 }, "every 503 says when to retry")
        #expect(readyDuringOutage.withLock { $0 } == 503, "/readyz is false while the database is down")
        // Nobody waits for the database to come back: every push started while it was down,
        // 5 s or more before it came back, is answered before it came back, and the daemon
        // spends well under half the outage on each 503 (its own request log, checked below). What this
        // process sees is only printed: starved on 2 cores by the parallel suite, it once took
        // 5.2 s to read answers the daemon had given at once.
        let startedDown = all.filter { $0.started >= stopped && $0.started < back - 5 }
        let worst = startedDown.map(\.latency).max() ?? 0
        #expect(!startedDown.isEmpty)
        #expect(startedDown.allSatisfy { $0.finished < back }, "answered before the database came back")
        // Recovery: the first push started after the restart that succeeded.
        let firstOK = try #require(all.first { $0.started >= back && $0.status == 200 }, "service resumed")
        let recovery = firstOK.finished - back
        #expect(firstOK.finished - up <= 5, "resumed within 5 s of the database: \(recovery) s after the restart began, \(firstOK.finished - up) s after it was up")
        let ready2 = try await HTTP.send("GET", daemon.base + "/readyz")
        #expect(ready2.status == 200)

        // Nothing acknowledged is lost; every batch that failed goes through on retry, exactly once.
        let acknowledged = all.filter { $0.status == 200 }.flatMap(\.opIDs)
        let stored = try OpsLoad.stored(acknowledged, url: url)
        #expect(stored.count == acknowledged.count, "acknowledged ops in the database: \(stored.count) of \(acknowledged.count)")
        let retried = try await OpsLoad.retryFailed(all, tokens: tokens, servers: { daemon.base })
        #expect(retried.allSatisfy { $0.status == 200 }, "retries of the failed batches: \(retried.filter { $0.status != 200 }.prefix(3).map(\.text))")
        let connection = try Connection(conninfo: url)
        let entries = try connection.query("SELECT count(*) FROM entries")[0].decode(Int.self, at: 0)
        #expect(entries == all.count * 3, "every op stored exactly once: \(entries) entries for \(all.count * 3) ops")

        let metrics = try await HTTP.send("GET", daemon.base + "/metrics")
        #expect(metrics.text.contains("squadsync_db_unavailable_responses_total"))
        #expect(await daemon.stop() == 0, "a clean exit on SIGTERM: \(daemon.log.suffix(2000))")
        let log = daemon.log
        #expect(log.contains("cannot reach the database") && log.contains("reachable again"), "the outage and the recovery are logged")
        let notJSON = log.split(separator: "\n").filter { (try? StrictJSON.parse(String($0))) == nil }
        #expect(notJSON.isEmpty, "--log-format json writes only JSON lines: \(notJSON.prefix(3))")
        var refused: [Double] = []
        for line in log.split(separator: "\n") {
            guard let entry = try? StrictJSON.parse(String(line)), entry["message"] == .string("request"),
                  entry["path"] == .string("/v1/sync/push"), entry["status"] == .string("503"),
                  let text = entry["ms"]?.stringValue, let milliseconds = Double(text) else { continue }
            refused.append(milliseconds)
        }
        let slowest = refused.max() ?? Double.infinity
        // Half the outage: a daemon that waited for the database would take the rest of it. (It
        // answers in milliseconds; starved by the parallel suite in CI it once took 354 ms.)
        #expect(refused.count >= during.count && slowest < 5000, "the daemon answered each push with a 503 at once: \(refused.count) logged, slowest \(slowest) ms")

        let rejected = all.filter { $0.status == 503 }.count
        print("""
            OUTAGE FIGURES: database down \(String(format: "%.1f", back - stopped)) s (\(String(format: "%.1f", back - down)) s from the stop command); \(all.count) pushes in all, \(during.count) started while down, \
            \(rejected) answered 503 (\(statuses)); worst latency while down \(String(format: "%.0f", worst * 1000)) ms as this process saw it, \(String(format: "%.0f", slowest)) ms in the daemon; \
            first success \(String(format: "%.2f", recovery)) s after the database came back
            """)
    }

    /// pg_ctl blocks for seconds: keep it off the two cooperative threads the load runs on.
    static func blocking(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
