import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Postgres
import ServiceLifecycle
import SquadCore
import Synchronization

/// `coach bench push`: end-to-end push throughput against the ceilings of the same
/// rows loaded by raw COPY and by one `INSERT ... SELECT unnest(...)` per 500 rows,
/// then latency at half the measured peak. Everything runs in one process on one
/// database, so the figures compare like with like on this machine.
public enum PushBenchmark {
    public struct Options: Sendable {
        public var devices: Int
        public var batchesPerDevice: Int
        public var batchSize: Int
        public var latencySeconds: Int
        /// Devices (one athlete each) sharing the steady load of the latency phase.
        public var latencyDevices: Int
        /// Ops per push in the latency phase (50 by the issue; other sizes show the fixed cost of a push).
        public var latencyBatchSize: Int
        /// The latency phase's load in ops/s; nil for half of the measured peak.
        public var latencyOpsPerSecond: Double?
        public var port: Int

        public init(devices: Int = 8, batchesPerDevice: Int = 12, batchSize: Int = 500, latencySeconds: Int = 10, latencyDevices: Int = 64,
                    latencyBatchSize: Int = 50, latencyOpsPerSecond: Double? = nil, port: Int = 0) {
            self.latencyBatchSize = latencyBatchSize
            self.latencyOpsPerSecond = latencyOpsPerSecond
            self.devices = devices
            self.batchesPerDevice = batchesPerDevice
            self.batchSize = batchSize
            self.latencySeconds = latencySeconds
            self.latencyDevices = latencyDevices
            self.port = port
        }
    }

    public struct Result: Sendable, Encodable {
        public var machine: String
        public var rows: Int
        public var copyRowsPerSecond: Double
        public var unnestRowsPerSecond: Double
        public var pushOpsPerSecond: Double
        public var pushToCopyRatio: Double
        public var pushToUnnestRatio: Double
        public var latencyTargetOpsPerSecond: Double
        public var latencyDevices: Int
        public var latencyBatchSize: Int
        public var latencyRequests: Int
        public var latencyP50Milliseconds: Double
        public var latencyP99Milliseconds: Double
        public var latencyErrors: Int
        /// The second of the latency phase (by send time) with the highest p99, and that p99:
        /// tells one hiccup (autovacuum, a checkpoint, the VM) from steady queueing.
        public var latencyWorstSecond: Int
        public var latencyWorstSecondP99Milliseconds: Double
        /// Share of all cores busy during the latency phase (server, database and client alike).
        public var latencyCPUBusy: Double
        /// Core-milliseconds the machine spent per latency request: the fixed cost of a small push.
        public var latencyCPUMillisecondsPerRequest: Double
        /// The latency ceiling: a bare durable commit (one row, no HTTP) every 20 ms alongside
        /// the latency phase. No push commits faster than this, so its p99 and worst say how much
        /// of the push p99 is the disk's WAL flush at that moment rather than the server.
        public var commitProbeCount: Int
        public var commitProbeErrors: Int
        public var commitProbeP50Milliseconds: Double
        public var commitProbeP99Milliseconds: Double
        public var commitProbeWorstMilliseconds: Double
        public var commitProbeWorstSecond: Int

        enum CodingKeys: String, CodingKey {
            case machine, rows
            case copyRowsPerSecond = "copy_rows_per_s"
            case unnestRowsPerSecond = "unnest_rows_per_s"
            case pushOpsPerSecond = "push_ops_per_s"
            case pushToCopyRatio = "push_to_copy_ratio"
            case pushToUnnestRatio = "push_to_unnest_ratio"
            case latencyTargetOpsPerSecond = "latency_target_ops_per_s"
            case latencyDevices = "latency_devices"
            case latencyBatchSize = "latency_batch_size"
            case latencyRequests = "latency_requests"
            case latencyP50Milliseconds = "latency_p50_ms"
            case latencyP99Milliseconds = "latency_p99_ms"
            case latencyErrors = "latency_errors"
            case latencyWorstSecond = "latency_worst_second"
            case latencyWorstSecondP99Milliseconds = "latency_worst_second_p99_ms"
            case latencyCPUBusy = "latency_cpu_busy"
            case latencyCPUMillisecondsPerRequest = "latency_cpu_ms_per_request"
            case commitProbeCount = "commit_probe_count"
            case commitProbeErrors = "commit_probe_errors"
            case commitProbeP50Milliseconds = "commit_probe_p50_ms"
            case commitProbeP99Milliseconds = "commit_probe_p99_ms"
            case commitProbeWorstMilliseconds = "commit_probe_worst_ms"
            case commitProbeWorstSecond = "commit_probe_worst_second"
        }
    }

    /// Busy and total jiffies of all cores since boot (`/proc/stat`); idle and iowait count as idle.
    static func cpuTimes() -> (busy: Double, total: Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return (0, 0) }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return (0, 0) }
        let total = fields.prefix(8).reduce(0, +)
        return (total - fields[3] - fields[4], total)
    }

    /// What this machine is, read from /proc.
    public static func machine() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let memory = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("MemTotal") }?
            .split(separator: " ").dropFirst().first.flatMap { Double($0) }.map { String(format: "%.0f GiB", $0 / 1_048_576) } ?? "?"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), \(memory) RAM"
    }

    /// A realistic run envelope of about 650 bytes, different per index.
    static func runEntry(_ index: Int, dayMillis: Int64) -> JSONValue {
        // Distinct times: each entry is a separate run (the duplicate rule is exercised, not triggered).
        let start = dayMillis - Int64(index) * 7_200_000
        return .object([
            "schema_version": .int(1),
            "time": .object(["start": .string(ISOInstant.formatMillis(start)), "end": .string(ISOInstant.formatMillis(start + 2_700_000)),
                             "tz": .string("Europe/Lisbon"), "local_date": .string(String(ISOInstant.formatMillis(start).prefix(10)))]),
            "source": .object(["device_type": .string("watch"), "recording_method": .string("active"),
                               "external_ids": .array([.object(["system": .string("strava"), "id": .int(Int64(1_000_000_000 + index))])])]),
            "body": .object([
                "sport": .string("run"), "session_type": .string(["easy", "tempo", "long", "interval"][index % 4]),
                "distance_m": .int(Int64(8000 + index % 5000)), "elapsed_s": .int(Int64(2700 + index % 600)), "moving_s": .int(Int64(2650 + index % 600)),
                "hr": .object(["avg_bpm": .int(Int64(140 + index % 20)), "max_bpm": .int(Int64(170 + index % 15))]),
                "cadence": .object(["avg_spm": .int(Int64(166 + index % 14))]), "rpe": .int(Int64(3 + index % 6)),
                "notes": .string("steady run along the river, felt good in the second half \(index)"),
            ]),
        ])
    }

    public static func run(_ options: Options, database: DatabaseTarget, configuration: DatabaseConfiguration, logger: Logger, say: @Sendable (String) -> Void) async throws -> Result {
        let pool = try database.makePool(configuration, logger: logger)
        // The HTTP side uses the daemon's own sessions: squadsync_app under row-level security, its timeouts.
        let requestPool = try database.makePool(configuration, daemon: true, logger: logger)
        do {
            let result = try await measure(options, pool: pool, requestPool: requestPool, logger: logger, say: say)
            await requestPool.close()
            await pool.close()
            return result
        } catch {
            await requestPool.close()
            await pool.close()
            throw error
        }
    }

    static func measure(_ options: Options, pool: ConnectionPool, requestPool: ConnectionPool, logger: Logger, say: @Sendable (String) -> Void) async throws -> Result {
        let total = options.devices * options.batchesPerDevice * options.batchSize
        let dayMillis: Int64 = 1_780_000_000_000 / 86_400_000 * 86_400_000
        say("preparing \(options.devices) athletes and \(total) rows")
        let seed = UInt64(Date().timeIntervalSince1970)
        // A scratch database: a key of its own, never written to disk.
        let tokenKey = TokenKey.random()
        // Athletes 0..<devices take the ceilings' rows, the next `devices` push at peak, and
        // `latencyDevices` more share the steady load (as many phones would).
        let (athleteIDs, tokens, latencyTokens) = try await pool.withTransaction { connection -> ([Int64], [String], [String]) in
            let squad = "Bench \(seed)"
            _ = try SquadStore.create(name: squad, on: connection)
            var ids: [Int64] = []
            var tokens: [String] = []
            var latencyTokens: [String] = []
            for index in 0..<(options.devices * 2 + options.latencyDevices) {
                let athlete = try AthleteStore.add(NewAthlete(handle: "bench\(seed)-\(index)", name: "Bench \(index)", squad: squad, timeZone: "Europe/Lisbon"), currentYear: 2100, on: connection)
                ids.append(athlete.id)
                guard index >= options.devices else { continue }
                let token = try DeviceStore.enroll(handle: athlete.handle, name: "bench watch", type: "watch", key: tokenKey, on: connection).1
                if index < options.devices * 2 { tokens.append(token) } else { latencyTokens.append(token) }
            }
            return (ids, tokens, latencyTokens.isEmpty ? tokens : latencyTokens)
        }

        // The same entries as the push path stores them, made by the real engine.
        let entryStates: [EntryState] = (0..<total).map { index in
            var engine = MergeEngine(device: "bench", nowMillis: dayMillis, lastSeq: 0, serverHLC: nil, entries: [:], conflicts: [:])
            let id = StableID.make("bench|\(seed)|\(index)")
            _ = engine.apply(SyncOp(opID: UUID(), action: .create, entryID: id, kind: .run, hlc: HLC(millis: dayMillis, counter: 0, node: "bench"), entry: runEntry(index, dayMillis: dayMillis)))
            var entry = engine.entries[id]!
            entry.seq = Int64(index + 1)
            return entry
        }

        // Ceiling 1: raw COPY of the same rows, encoded before the clock starts.
        say("ceiling: COPY")
        let copyRows: [[PostgresValue]] = entryStates.enumerated().map { index, entry in
            let started: Date? = entry.doc.value(at: "time.start")?.stringValue.flatMap(ISOInstant.parse)
            return [athleteIDs[index % options.devices].postgresValue, entry.entryID.postgresValue, entry.kind.rawValue.postgresValue,
                    Int(entry.version).postgresValue, entry.seq.postgresValue, entry.deleted.postgresValue, entry.doc.canonicalText.postgresValue,
                    entry.mergeStateJSON.canonicalText.postgresValue, entry.createdHLC.description.postgresValue, entry.updatedHLC.description.postgresValue,
                    started.postgresValue, (entry.doc.value(at: "time.local_date")?.stringValue).postgresValue]
        }
        let copyRate = try await timed(rows: total) {
            _ = try await pool.withTransaction { connection in
                try connection.copy(into: "entries", columns: ["athlete_id", "entry_id", "kind", "version", "seq", "deleted", "doc", "merge_state", "created_hlc", "updated_hlc", "started_at", "local_date"]) { writer in
                    for row in copyRows { try writer.append(values: row) }
                }
            }
        }
        _ = try await pool.withConnection { try $0.execute("DELETE FROM entries WHERE athlete_id = ANY(\(athleteIDs))") }

        // Ceiling 2: one INSERT ... SELECT unnest(...) per 500 rows, the push path's own statement.
        say("ceiling: INSERT ... SELECT unnest per 500 rows")
        let unnestRate = try await timed(rows: total) {
            for start in stride(from: 0, to: total, by: 500) {
                let chunk = Array(entryStates[start..<min(total, start + 500)])
                try await pool.withTransaction { try EntryStore.save(chunk, athleteID: athleteIDs[(start / 500) % options.devices], on: $0) }
            }
        }
        _ = try await pool.withConnection { try $0.execute("DELETE FROM entries WHERE athlete_id = ANY(\(athleteIDs))") }
        // Fresh statistics, as autovacuum would have them in a server that has been running.
        try await settle(pool)

        // The real thing: HTTP in, committed in PostgreSQL.
        // Port 0 (the default) is any free one, so that two benchmarks never answer each other's pushes.
        let (listening, bound) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(
            http: HTTPConfiguration(host: "127.0.0.1", port: options.port), pool: requestPool, tokenKey: tokenKey,
            logger: Logger(label: "bench.http", factory: { _ in SwiftLogNoOpLogHandler() }),
            onServerRunning: { channel in
                bound.yield(channel.localAddress?.port ?? options.port)
                bound.finish()
            })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let server = Task {
            defer { bound.finish() }
            try await group.run()
        }
        var ports = listening.makeAsyncIterator()
        guard let port = await ports.next() else {
            try await server.value  // throws why it could not listen (the port is taken, say)
            throw PostgresError(.server, "the benchmark's HTTP server stopped before it listened on port \(options.port)")
        }
        // One connection per device at most, as real phones would have: the client's default
        // of 8 per host would queue requests inside the client and count that as latency.
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(options.devices, options.latencyDevices))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        let url = "http://127.0.0.1:\(port)/v1/sync/push"
        try await waitForServer(client: client, port: port)

        let bodies: [[ByteBuffer]] = (0..<options.devices).map { device in
            (0..<options.batchesPerDevice).map { batch in
                let ops: [JSONValue] = (0..<options.batchSize).map { offset in
                    let index = (device * options.batchesPerDevice + batch) * options.batchSize + offset
                    return .object([
                        "op_id": .string(StableID.make("bench-op|\(seed)|\(index)").lowercasedText), "op": .string("create"),
                        "entry_id": .string(StableID.make("bench-push|\(seed)|\(index)").lowercasedText), "kind": .string("run"),
                        "hlc": .string(HLC(millis: dayMillis + Int64(index), counter: 0, node: "bench").description), "entry": runEntry(index, dayMillis: dayMillis),
                    ])
                }
                return ByteBuffer(string: JSONValue.object(["protocol": .int(1), "ops": .array(ops)]).canonicalText)
            }
        }
        say("peak: \(options.devices) devices pushing \(options.batchSize)-op batches")
        let pushRate = try await timed(rows: total) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for device in 0..<options.devices {
                    group.addTask {
                        for body in bodies[device] {
                            let status = try await post(body, token: tokens[device], url: url, client: client)
                            guard status == 200 else { throw PostgresError(.server, "bench push answered HTTP \(status)") }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        // Latency at half of peak: (by default) 50-op batches at a steady rate, once the peak's 48,000 rows
        // are vacuumed, analyzed and checkpointed (else autovacuum and a WAL-triggered
        // checkpoint, about a core-second each here, land inside the 10 s being measured).
        try await settle(pool)
        let target = options.latencyOpsPerSecond ?? pushRate / 2
        let small = options.latencyBatchSize
        let interval = Double(small) / target
        say(String(format: "latency: %d-op batches at %.0f ops/s (one every %.1f ms) for %d s", small, target, interval * 1000, options.latencySeconds))
        let requestCount = Int(Double(options.latencySeconds) / interval)
        let smallBodies: [ByteBuffer] = (0..<requestCount).map { request in
            let ops: [JSONValue] = (0..<small).map { offset in
                let index = total + request * small + offset
                return .object([
                    "op_id": .string(StableID.make("bench-op|\(seed)|\(index)").lowercasedText), "op": .string("create"),
                    "entry_id": .string(StableID.make("bench-push|\(seed)|\(index)").lowercasedText), "kind": .string("run"),
                    "hlc": .string(HLC(millis: dayMillis + Int64(index), counter: 0, node: "bench").description), "entry": runEntry(index, dayMillis: dayMillis),
                ])
            }
            return ByteBuffer(string: JSONValue.object(["protocol": .int(1), "ops": .array(ops)]).canonicalText)
        }
        let latencies = LatencyRecorder()
        let commits = LatencyRecorder()
        try await pool.withConnection { try $0.execute("CREATE TABLE IF NOT EXISTS squadsync_bench_commit_probe (n int NOT NULL)") }
        let cpuBefore = cpuTimes()
        let started = ContinuousClock.now
        let probe = Task { await probeCommits(pool: pool, into: commits, since: started) }
        defer { probe.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (request, body) in smallBodies.enumerated() {
                let due = started + .milliseconds(Int64(Double(request) * interval * 1000))
                let now = ContinuousClock.now
                if due > now { try await Task.sleep(until: due) }
                let token = latencyTokens[request % latencyTokens.count]
                group.addTask {
                    let sent = ContinuousClock.now
                    let status = (try? await post(body, token: token, url: url, client: client)) ?? 0
                    latencies.record(milliseconds(ContinuousClock.now - sent), second: Int(milliseconds(sent - started) / 1000), ok: status == 200)
                }
            }
            try await group.waitForAll()
        }
        let cpuAfter = cpuTimes()
        let latencyElapsed = ContinuousClock.now - started
        probe.cancel()
        await probe.value
        let probed = commits.summary()
        let (probeWorst, probeWorstSecond) = commits.maximum()
        try await client.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await server.value
        let (p50, p99, errors, count) = latencies.summary()
        let (worstSecond, worstP99) = latencies.worstSecond()
        let busyShare = cpuAfter.total > cpuBefore.total ? (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total) : 0
        let seconds = milliseconds(latencyElapsed) / 1000
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        return Result(
            machine: machine(), rows: total, copyRowsPerSecond: copyRate, unnestRowsPerSecond: unnestRate, pushOpsPerSecond: pushRate,
            pushToCopyRatio: pushRate / copyRate, pushToUnnestRatio: pushRate / unnestRate, latencyTargetOpsPerSecond: target,
            latencyDevices: latencyTokens.count, latencyBatchSize: small, latencyRequests: count, latencyP50Milliseconds: p50, latencyP99Milliseconds: p99, latencyErrors: errors,
            latencyWorstSecond: worstSecond, latencyWorstSecondP99Milliseconds: worstP99, latencyCPUBusy: busyShare, latencyCPUMillisecondsPerRequest: count > 0 ? busyShare * cores * seconds * 1000 / Double(count) : 0,
            commitProbeCount: probed.count, commitProbeErrors: probed.errors, commitProbeP50Milliseconds: probed.p50, commitProbeP99Milliseconds: probed.p99,
            commitProbeWorstMilliseconds: probeWorst, commitProbeWorstSecond: probeWorstSecond)
    }

    /// Inserts one row and commits (a WAL flush, as every push's COMMIT) every 20 ms until
    /// cancelled, recording how long each took; a failed commit counts as an error.
    static func probeCommits(pool: ConnectionPool, into recorder: LatencyRecorder, since started: ContinuousClock.Instant) async {
        var due = started
        while !Task.isCancelled {
            let sent = ContinuousClock.now
            let ok = (try? await pool.withConnection { try $0.execute("INSERT INTO squadsync_bench_commit_probe VALUES (1)") }) != nil
            recorder.record(milliseconds(ContinuousClock.now - sent), second: Int(milliseconds(sent - started) / 1000), ok: ok)
            due = max(due + .milliseconds(20), ContinuousClock.now)
            do { try await Task.sleep(until: due) } catch { return }
        }
    }

    /// Lets the database catch up between phases: VACUUM ANALYZE of the tables a push writes,
    /// then a CHECKPOINT (skipped when the role may not run one).
    static func settle(_ pool: ConnectionPool) async throws {
        try await pool.withConnection { connection in
            try connection.execute("VACUUM ANALYZE entries, applied_ops, entry_sources, athlete_sync, devices")
            _ = try? connection.execute("CHECKPOINT")
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func timed(rows: Int, _ body: () async throws -> Void) async throws -> Double {
        let started = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - started
        return Double(rows) / (milliseconds(elapsed) / 1000)
    }

    static func post(_ body: ByteBuffer, token: String, url: String, client: HTTPClient) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: .seconds(120))
        _ = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return Int(response.status.code)
    }

    static func waitForServer(client: HTTPClient, port: Int) async throws {
        for _ in 0..<100 {
            if let response = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(2)), response.status == .ok {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PostgresError(.server, "the benchmark's HTTP server did not start on port \(port)")
    }
}

/// Request latencies from many tasks, with the second (since the phase began) each was sent in.
final class LatencyRecorder: Sendable {
    private let state = Mutex<(latencies: [(milliseconds: Double, second: Int)], errors: Int)>(([], 0))

    func record(_ milliseconds: Double, second: Int, ok: Bool) {
        state.withLock { state in
            state.latencies.append((milliseconds, second))
            if !ok { state.errors += 1 }
        }
    }

    func summary() -> (p50: Double, p99: Double, errors: Int, count: Int) {
        state.withLock { state in
            let sorted = state.latencies.map(\.milliseconds).sorted()
            return (Self.percentile(0.5, of: sorted), Self.percentile(0.99, of: sorted), state.errors, sorted.count)
        }
    }

    /// The slowest request and the second it was sent in.
    func maximum() -> (milliseconds: Double, second: Int) {
        state.withLock { state in state.latencies.max { $0.milliseconds < $1.milliseconds } ?? (0, 0) }
    }

    /// The second whose requests have the highest p99, and that p99.
    func worstSecond() -> (second: Int, p99: Double) {
        state.withLock { state in
            Dictionary(grouping: state.latencies, by: \.second)
                .map { second, latencies in (second, Self.percentile(0.99, of: latencies.map(\.milliseconds).sorted())) }
                .max { $0.1 < $1.1 } ?? (0, 0)
        }
    }

    private static func percentile(_ p: Double, of sorted: [Double]) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}
