import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Connection pool")
struct ConnectionPoolTests {
    @Test("runs many concurrent callers on a bounded number of connections")
    func boundedConcurrency() async throws {
        let database = try TestDatabase.make(migrated: false)
        let pool = try database.pool(maxConnections: 3)
        try await pool.withConnection { try $0.execute("CREATE TABLE hits (pid int4)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    _ = try await pool.withTransaction { try $0.execute("INSERT INTO hits SELECT pg_backend_pid()") }
                }
            }
            try await group.waitForAll()
        }
        let (count, backends) = try await pool.withConnection {
            try $0.query("SELECT count(*), count(DISTINCT pid) FROM hits")[0].decode((Int, Int).self)
        }
        #expect(count == 40)
        #expect(backends <= 3)
        #expect(pool.statistics.open <= 3)
        #expect(pool.statistics.inUse == 0)
        await pool.close()
    }

    @Test("waiting for a connection ends in a clear timeout error")
    func exhaustionTimesOut() async throws {
        let database = try TestDatabase.make(migrated: false)
        let pool = try database.pool(maxConnections: 1, acquireTimeout: .milliseconds(300))
        let holder = Task {
            try await pool.withConnection { try $0.execute("SELECT pg_sleep(3)") }
        }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { try $0.execute("SELECT 1") }
        }
        let waited = ContinuousClock.now - started
        #expect(error?.kind == .poolTimeout)
        #expect(error?.message.contains("no database connection became free") == true)
        #expect(waited >= .milliseconds(250))
        // No upper bound on the wall clock (a busy 2-core machine can starve this task):
        // a pool timeout at all proves the timer fired while the holder still had the
        // connection, since a waiter woken by the release would have succeeded.
        _ = try await holder.value
        // After the holder finishes, the pool serves again.
        let one = try await pool.withConnection { try $0.query("SELECT 1::int8")[0].decode(Int.self, at: 0) }
        #expect(one == 1)
        await pool.close()
    }

    @Test("a backend killed with pg_terminate_backend is replaced by the pool")
    func killedBackendIsReplaced() async throws {
        let database = try TestDatabase.make(migrated: false)
        let pool = try database.pool(maxConnections: 1)
        let firstPID = try await pool.withConnection { $0.backendPID }
        let admin = try database.connect()
        let terminated = try admin.query("SELECT pg_terminate_backend(\(firstPID))")[0].decode(Bool.self, at: 0)
        #expect(terminated)
        // Wait until the server has really ended that backend.
        for _ in 0..<100 {
            let alive = try admin.query("SELECT count(*) FROM pg_stat_activity WHERE pid = \(firstPID)")[0].decode(Int.self, at: 0)
            if alive == 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let secondPID = try await pool.withConnection { connection in
            _ = try connection.query("SELECT 1")
            return connection.backendPID
        }
        #expect(secondPID != firstPID)
        #expect(pool.statistics.open == 1)
        await pool.close()
    }

    @Test("a connection broken during a call is dropped, not reused")
    func brokenDuringCall() async throws {
        let database = try TestDatabase.make(migrated: false)
        let pool = try database.pool(maxConnections: 1)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { connection in
                // The backend ends itself mid-call.
                try connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            }
        }
        #expect(error?.isConnectionFailure == true)
        let value = try await pool.withConnection { try $0.query("SELECT 42::int8")[0].decode(Int.self, at: 0) }
        #expect(value == 42)
        #expect(pool.statistics.open == 1)
        await pool.close()
    }

    @Test("a transaction left open by a caller is rolled back before reuse")
    func leftOpenTransaction() async throws {
        let database = try TestDatabase.make(migrated: false)
        let pool = try database.pool(maxConnections: 1)
        try await pool.withConnection { try $0.execute("CREATE TABLE t (n int8)") }
        try await pool.withConnection { connection in
            try connection.execute("BEGIN")
            try connection.execute("INSERT INTO t VALUES (1)")
        }
        let count = try await pool.withConnection { connection -> Int in
            #expect(connection.isIdle)
            return try connection.query("SELECT count(*) FROM t")[0].decode(Int.self, at: 0)
        }
        #expect(count == 0)
        await pool.close()
    }

    @Test("a closed pool refuses new work with a clear error")
    func closedPool() async throws {
        let pool = try TestDatabase.make(migrated: false).pool()
        await pool.close()
        let error = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in () } }
        #expect(error?.kind == .poolClosed)
    }

    @Test("an unreachable server is not hammered: after a failed connect, callers fail at once until the backoff passes")
    func backoffWhenUnreachable() async throws {
        let socketDir = "/tmp/squadsync-nowhere-\(UUID().uuidString.prefix(8))"
        let conninfo = "postgresql:///nothing?host=\(socketDir)"
        // A backoff far longer than the test: every later call falls inside it, however slow the machine.
        let pool = try ConnectionPool(configuration: .init(
            conninfo: conninfo, maxConnections: 4, connectTimeout: 1, initialBackoff: .seconds(600), maximumBackoff: .seconds(600)))
        #expect(pool.reachability == .reachable)
        let first = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in () } }
        #expect(first?.kind == .connection)
        #expect(first?.message.contains("cannot connect") == true, "the first caller really tried: \(first?.message ?? "-")")
        guard case .unreachable(let failures, let retryIn) = pool.reachability else {
            Issue.record("the pool should know the server is unreachable")
            return
        }
        #expect(failures == 1)
        #expect(retryIn > .seconds(200) && retryIn <= .seconds(600))
        // Within the backoff nobody connects: the answer is immediate and says so.
        for _ in 0..<5 {
            let again = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in () } }
            #expect(again?.kind == .connection)
            #expect(again?.message.contains("unreachable") == true, "\(again?.message ?? "-")")
        }
        if case .unreachable(let failures, _) = pool.reachability { #expect(failures == 1, "no attempt was made") }
        #expect(pool.statistics.open == 0 && pool.statistics.inUse == 0)
        await pool.close()

        // Once the backoff has passed, the next caller probes again (and fails again: the count grows).
        let quick = try ConnectionPool(configuration: .init(
            conninfo: conninfo, maxConnections: 4, connectTimeout: 1, initialBackoff: .milliseconds(1), maximumBackoff: .milliseconds(2)))
        for attempt in 1...3 {
            try await Task.sleep(for: .milliseconds(20))
            let error = await #expect(throws: PostgresError.self) { try await quick.withConnection { _ in () } }
            #expect(error?.message.contains("cannot connect") == true, "\(error?.message ?? "-")")
            if case .unreachable(let failures, _) = quick.reachability { #expect(failures == attempt) } else { Issue.record("unreachable") }
        }
        await quick.close()
    }

    @Test("the reconnection backoff doubles from 100 ms, stops at its maximum and is jittered")
    func backoffShape() {
        for _ in 0..<50 {
            let first = ConnectionPool.backoff(afterFailures: 1, maximum: .seconds(2))
            #expect(first >= .milliseconds(50) && first <= .milliseconds(100))
            let third = ConnectionPool.backoff(afterFailures: 3, maximum: .seconds(2))
            #expect(third >= .milliseconds(200) && third <= .milliseconds(400))
            let late = ConnectionPool.backoff(afterFailures: 40, maximum: .seconds(2))
            #expect(late >= .seconds(1) && late <= .seconds(2))
        }
        let samples = Set((0..<20).map { _ in ConnectionPool.backoff(afterFailures: 5, maximum: .seconds(2)) })
        #expect(samples.count > 1, "jitter spreads daemons' retries apart")
    }

    @Test("session settings and the connect timeout reach the server; a URL's own options win")
    func sessionSettings() async throws {
        let database = try TestDatabase.make(migrated: false)
        let pool = try ConnectionPool(configuration: .init(
            conninfo: database.url, maxConnections: 1, connectTimeout: 2,
            settings: [("statement_timeout", "1500ms"), ("idle_in_transaction_session_timeout", "7s")]))
        let (statement, idle) = try await pool.withConnection {
            try $0.query("SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')")[0].decode((String, String).self)
        }
        #expect(statement == "1500ms")
        #expect(idle == "7s")
        let error = await #expect(throws: PostgresError.self) { try await pool.withConnection { try $0.execute("SELECT pg_sleep(3)") } }
        #expect(error?.sqlState == "57014", "statement_timeout cancels a long statement")
        await pool.close()

        let own = try ConnectionPool(configuration: .init(
            conninfo: database.url + " options='-c statement_timeout=9s'", maxConnections: 1, settings: [("statement_timeout", "1s")]))
        let value = try await own.withConnection { try $0.query("SELECT current_setting('statement_timeout')")[0].decode(String.self, at: 0) }
        #expect(value == "9s")
        await own.close()
    }
}
