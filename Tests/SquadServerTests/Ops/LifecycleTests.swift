import Foundation
import Logging
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// `coach serve` as a process: SIGTERM in the middle of pushes, and two daemons on one database.
@Suite("Daemon lifecycle and scale-out")
struct LifecycleTests {
    @Test("SIGTERM during push batches: in-flight batches finish, each batch is stored whole or not at all, and the retries are exact")
    func sigtermDuringPush() async throws {
        let database = try TestDatabase.make()
        let tokens = try OpsLoad.enroll(devices: 3, url: database.url)
        let daemon = try await Daemon.start(databaseURL: database.url, arguments: ["--shutdown-grace", "10"])
        let signalledAt = Locked<Double?>(nil)
        let sending = Locked<[Int: Double]>([:])
        let begin = ContinuousClock.now
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - begin
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        let answered = Locked(0)
        async let pushes = OpsLoad.run(
            tokens: tokens, servers: { daemon.base }, size: 250, pause: .zero, limit: .seconds(60), timeout: .seconds(5), sending: sending, begin: begin
        ) { pushes in
            answered.withLock { $0 = pushes.filter { $0.status == 200 }.count }
            return !daemon.process.isRunning
        }
        // SIGTERM once batches have gone through and at least two are being worked on
        // (sent over 150 ms ago: the server has them).
        while seconds() < 40 {
            let now = seconds()
            if answered.withLock({ $0 }) >= 3, sending.withLock({ $0.values.filter { now - $0 > 0.15 }.count }) >= 2 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        signalledAt.withLock { $0 = seconds() }
        daemon.terminate()
        let status = await daemon.waitForExit(timeout: .seconds(20))
        let all = await pushes
        let signal = try #require(signalledAt.withLock { $0 })
        #expect(status == 0, "exits 0 after a graceful shutdown: \(daemon.log.suffix(1500))")

        // Every batch is in the database whole or not at all; every acknowledged one whole.
        var partial: [Int] = []
        for (index, push) in all.enumerated() {
            let stored = try OpsLoad.stored(push.opIDs, url: database.url).count
            if push.status == 200 {
                #expect(stored == push.opIDs.count, "an acknowledged batch is stored whole")
            } else if stored != 0 && stored != push.opIDs.count {
                partial.append(index)
            }
        }
        #expect(partial.isEmpty, "batches stored in part: \(partial)")
        let inFlight = all.filter { $0.started < signal - 0.15 && $0.finished > signal }
        #expect(!inFlight.isEmpty, "some batches were in flight at SIGTERM")
        #expect(inFlight.contains { $0.status == 200 }, "in-flight batches were allowed to finish: \(inFlight.map { $0.status.map(String.init) ?? $0.text.prefix(80).description })")
        #expect(all.allSatisfy { $0.status == nil || $0.status == 200 || $0.status == 503 }, "no 500s")

        // The devices retry everything they sent against a new daemon: acknowledged batches
        // come back as duplicates, the others are applied, and every op exists once.
        let again = try await Daemon.start(databaseURL: database.url)
        for push in all {
            let answer = try await HTTP.send("POST", again.base + "/v1/sync/push", token: tokens[push.device], body: push.body)
            #expect(answer.status == 200)
            let results = answer.json?["results"]?.arrayValue ?? []
            #expect(results.count == push.opIDs.count)
            if push.status == 200 {
                #expect(results.allSatisfy { $0["status"]?.stringValue == "duplicate" }, "an acknowledged batch is a duplicate on retry")
            }
        }
        let connection = try database.connect()
        let entries = try connection.query("SELECT count(*) FROM entries")[0].decode(Int.self, at: 0)
        #expect(entries == all.count * 250)
        #expect(await again.stop() == 0)
        print("SIGTERM FIGURES: \(all.count) batches of 250 ops, \(inFlight.count) in flight at SIGTERM (\(inFlight.filter { $0.status == 200 }.count) finished 200), exit \(status.map(String.init) ?? "none")")
    }

    @Test("two daemons on one database, a simulated squad pushing to both at random: the same final state as with one")
    func twoDaemons() async throws {
        let end = Int64(1_793_491_200_000)  // 2026-11-01: HLCs in the past, never clamped to a daemon's clock
        let one = try TestDatabase.make()
        let two = try TestDatabase.make()
        let options = { (server: String) in Simulator.Options(server: server, athletes: 4, days: 12, seed: 42, endDayMillis: end, concurrency: 4) }
        let logger = Logger(label: "test")

        let single = try await Daemon.start(databaseURL: one.url)
        let poolOne = try one.pool()
        let athletesOne = try await Simulator.prepare(options(single.base), pool: poolOne, key: TestTokenKey.key)
        let reportOne = try await Simulator.run(options(single.base), athletes: athletesOne, logger: logger)
        #expect(await single.stop() == 0)

        let first = try await Daemon.start(databaseURL: two.url)
        let second = try await Daemon.start(databaseURL: two.url)
        let poolTwo = try two.pool()
        let both = first.base + "," + second.base
        let athletesTwo = try await Simulator.prepare(options(both), pool: poolTwo, key: TestTokenKey.key)
        let reportTwo = try await Simulator.run(options(both), athletes: athletesTwo, logger: logger)
        // Both daemons really served: each counted pushed ops.
        for daemon in [first, second] {
            let metrics = try await HTTP.send("GET", daemon.base + "/metrics")
            #expect(metrics.text.contains("squadsync_push_ops_total{status=\"applied\"}"), "\(metrics.text.prefix(500))")
        }
        #expect(await first.stop() == 0)
        #expect(await second.stop() == 0)

        #expect(reportOne.http5xx == 0 && reportTwo.http5xx == 0 && reportTwo.transportErrors == 0)
        #expect(reportOne.ops == reportTwo.ops && reportOne.ops > 100)
        #expect(reportOne.statuses == reportTwo.statuses, "\(reportOne.statuses) vs \(reportTwo.statuses)")
        let state = """
            SELECT a.handle, e.entry_id::text, e.kind, e.version, e.deleted, e.doc::text, e.updated_hlc
            FROM entries e JOIN athletes a ON a.id = e.athlete_id ORDER BY a.handle, e.entry_id
            """
        let duplicates = """
            SELECT count(*) FROM duplicate_members
            """
        let rowsOne = try await poolOne.withConnection { try $0.query(SQL(stringLiteral: state)).map { row in (0..<7).map { row.text(at: $0) ?? "NULL" } } }
        let rowsTwo = try await poolTwo.withConnection { try $0.query(SQL(stringLiteral: state)).map { row in (0..<7).map { row.text(at: $0) ?? "NULL" } } }
        #expect(rowsOne.count == rowsTwo.count && rowsOne.count > 50)
        let difference = zip(rowsOne, rowsTwo).first { $0 != $1 }.map { one, two in
            zip(one, two).filter { $0 != $1 }.map { "\($0.0.prefix(80)) vs \($0.1.prefix(80))" }.joined(separator: "; ")
        }
        #expect(difference == nil, "entries differ: \(difference ?? "")")
        let linksOne = try await poolOne.withConnection { try $0.query(SQL(stringLiteral: duplicates))[0].decode(Int.self, at: 0) }
        let linksTwo = try await poolTwo.withConnection { try $0.query(SQL(stringLiteral: duplicates))[0].decode(Int.self, at: 0) }
        #expect(linksOne == linksTwo)
        await poolOne.close()
        await poolTwo.close()
    }
}
