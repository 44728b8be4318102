import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Postgres
import SquadCore

/// `coach bench digest`: the squad view for a squad with a year of history, p50 and p99,
/// read and rendered in process (as `coach digest` on the server does) and through the
/// coach API over HTTP (as `coach digest --server` does).
public enum DigestBenchmark {
    public struct Result: Sendable, Encodable {
        public var machine: String
        public var athletes: Int
        public var days: Int
        public var runs: Int
        public var localP50Milliseconds: Double
        public var localP99Milliseconds: Double
        public var httpP50Milliseconds: Double
        public var httpP99Milliseconds: Double

        enum CodingKeys: String, CodingKey {
            case machine, athletes, days, runs
            case localP50Milliseconds = "local_p50_ms", localP99Milliseconds = "local_p99_ms"
            case httpP50Milliseconds = "http_p50_ms", httpP99Milliseconds = "http_p99_ms"
        }
    }

    public static func run(athletes: Int, days: Int, runs: Int, port: Int, pool: ConnectionPool, logger: Logger, say: @escaping @Sendable (String) -> Void) async throws -> Result {
        let last = NightlyBenchmark.lastDay
        say("generating \(athletes) athletes x \(days) days, then the nightly run writes their digests")
        // A scratch database: a key of its own, never written to disk.
        let tokenKey = TokenKey.random()
        let token = try await pool.withConnection { connection -> String in
            try connection.execute("INSERT INTO squads (name) VALUES ('Bench squad')")
            try connection.execute("""
                INSERT INTO athletes (handle, name, time_zone, hr_max)
                SELECT 'b' || g, 'Bench ' || g, 'Europe/Lisbon', 190 FROM generate_series(1, \(athletes)) g
                """)
            try connection.execute("INSERT INTO athlete_squads (athlete_id, squad_id) SELECT id, (SELECT id FROM squads LIMIT 1) FROM athletes")
            try NightlyBenchmark.insertDays(from: last.adding(days: -(days - 1)), to: last, on: connection)
            try connection.execute("VACUUM ANALYZE entries")
            return try CoachStore.add(handle: "bench", name: nil, squad: "Bench squad", key: tokenKey, on: connection).1
        }
        let now = Date(timeIntervalSince1970: Double(last.ordinal + 1) * 86_400 + 36_000)
        _ = try await NightlyRunner.run(NightlyRunner.Options(date: last, now: now), pool: pool, logger: logger)

        say("timing \(runs) squad views in process")
        let renderer = DigestRenderer(width: 120)
        var local: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            let digests = try await pool.withConnection { try DigestStore.squad("Bench squad", date: nil, on: $0) }
            let text = renderer.squad(digests, title: "Bench squad", date: last)
            precondition(!text.isEmpty && digests.count == athletes)
            local.append(milliseconds(ContinuousClock.now - start))
        }

        say("timing \(runs) squad views through the coach API")
        // Port 0 is any free one (learnt once the server listens), so two benchmarks never answer each other.
        let (listening, bound) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(
            http: HTTPConfiguration(host: "127.0.0.1", port: port), pool: pool, tokenKey: tokenKey, logger: logger, now: { now },
            onServerRunning: { channel in
                bound.yield(channel.localAddress?.port ?? port)
                bound.finish()
            })
        let http: [Double] = try await withThrowingTaskGroup(of: [Double]?.self) { group in
            group.addTask {
                defer { bound.finish() }
                try await app.runService()
                return nil
            }
            group.addTask {
                var ports = listening.makeAsyncIterator()
                guard let port = await ports.next() else { throw PostgresError(.server, "the benchmark's HTTP server did not listen on port \(port)") }
                var times: [Double] = []
                for _ in 0..<runs {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/coach/digest?squad=Bench%20squad")
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                    let start = ContinuousClock.now
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
                    let digests = try JSONDecoder().decode([Digest].self, from: Data(body.readableBytesView))
                    _ = renderer.squad(digests, title: "Bench squad", date: last)
                    precondition(response.status.code == 200 && digests.count == athletes)
                    times.append(milliseconds(ContinuousClock.now - start))
                }
                return times
            }
            var result: [Double] = []
            for try await times in group {
                if let times {
                    result = times
                    group.cancelAll()
                    break
                }
            }
            return result
        }
        return Result(machine: PushBenchmark.machine(), athletes: athletes, days: days, runs: runs,
                      localP50Milliseconds: percentile(local, 0.5), localP99Milliseconds: percentile(local, 0.99),
                      httpP50Milliseconds: percentile(http, 0.5), httpP99Milliseconds: percentile(http, 0.99))
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
