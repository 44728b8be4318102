import ArgumentParser
import Foundation
import Logging
import Postgres
import SquadServer

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure performance on this machine.",
        subcommands: [Push.self, Nightly.self, Digest.self]
    )

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push throughput and latency, against COPY and INSERT ... unnest ceilings of the same rows.",
            discussion: """
                Runs on a scratch database created next to the configured one (embedded by default)
                and dropped afterwards. Build with -c release for meaningful figures:
                  swift run -c release coach bench push
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Concurrent devices (one athlete each) at peak.") var devices: Int = 8
        @Option(help: "500-op batches each device pushes at peak.") var batches: Int = 12
        @Option(name: .customLong("latency-seconds"), help: "How long to measure latency at half of peak.") var latencySeconds: Int = 10
        @Option(name: .customLong("latency-devices"), help: "Devices (one athlete each) sharing the load while latency is measured.") var latencyDevices: Int = 64
        @Option(name: .customLong("latency-batch-size"), help: "Ops per push in the latency phase; other sizes than the goal's 50 show the fixed cost of a push.")
        var latencyBatchSize: Int = 50
        @Option(name: .customLong("latency-rate"), help: ArgumentHelp("The latency phase's load in ops/s instead of half of the measured peak.", valueName: "ops/s"))
        var latencyRate: Double?
        @Option(help: "Local port for the benchmark's HTTP server; 0 for any free one.") var port: Int = 0
        @Option(name: .customLong("db-statement-cache"), help: ArgumentHelp("Statements each connection of the benchmark's daemon keeps prepared, 0 for none (env SQUAD_DB_STATEMENT_CACHE). Default: 256.", valueName: "n"))
        var statementCache: String?
        @Flag(help: "Keep the scratch database afterwards (to look at the data or plans).") var keep = false
        @Flag(help: "Print JSON instead of text.") var json = false

        func validate() throws {
            if devices < 1 || batches < 1 || latencySeconds < 1 || latencyDevices < 1 {
                throw ValidationError("--devices, --batches, --latency-seconds and --latency-devices must be >= 1")
            }
            if !(1...PushRequest.maximumOps).contains(latencyBatchSize) { throw ValidationError("--latency-batch-size must be 1...\(PushRequest.maximumOps)") }
            if let latencyRate, !(latencyRate > 0) { throw ValidationError("--latency-rate must be above 0") }
        }

        func run() async throws {
            let configuration = try global.configuration(extra: [.statementCache: statementCache])
            let logger = Logs.logger(configuration.logLevel)
            let target = try DatabaseTarget.resolve(configuration.database, logger: logger)
            let name = "squadsync_bench_\(getpid())"
            let admin = try Connection(conninfo: target.url)
            try admin.execute("DROP DATABASE IF EXISTS \(identifier: name)")
            try admin.execute("CREATE DATABASE \(identifier: name) TEMPLATE template0 ENCODING 'UTF8'")
            defer {
                if keep { FileHandle.standardError.write(Data("kept database \(name)\n".utf8)) } else { _ = try? admin.execute("DROP DATABASE IF EXISTS \(identifier: name) WITH (FORCE)") }
            }
            let url = try ConnectionString.replacingDatabase(in: target.url, with: name)
            try DatabaseTarget.migrator(configuration.database).migrate(on: try Connection(conninfo: url))
            var scratch = configuration.database
            scratch.url = url
            scratch.poolSize = max(4, devices)
            let quiet = json
            let result = try await PushBenchmark.run(
                .init(devices: devices, batchesPerDevice: batches, latencySeconds: latencySeconds, latencyDevices: latencyDevices,
                      latencyBatchSize: latencyBatchSize, latencyOpsPerSecond: latencyRate, port: port),
                database: DatabaseTarget.resolve(scratch, logger: logger), configuration: scratch, logger: logger
            ) { line in if !quiet { FileHandle.standardError.write(Data("... \(line)\n".utf8)) } }
            if json { try Output.json(result); return }
            print("machine: \(result.machine)")
            print(String(format: "rows per phase: %d (run entries, ~650-byte jsonb envelope)", result.rows))
            Output.table(["PATH", "ROWS/S", "RATIO"], [
                ["raw COPY (ceiling)", String(format: "%.0f", result.copyRowsPerSecond), "1.00"],
                ["INSERT ... SELECT unnest, 500 rows", String(format: "%.0f", result.unnestRowsPerSecond), String(format: "%.2f", result.unnestRowsPerSecond / result.copyRowsPerSecond)],
                ["push over HTTP, 500-op batches", String(format: "%.0f", result.pushOpsPerSecond), String(format: "%.2f", result.pushToCopyRatio)],
            ])
            print("latency at \(latencyRate == nil ? "half of peak" : "the given rate") " + String(format: "(%.0f ops/s in %d-op batches from %d devices): p50 %.1f ms, p99 %.1f ms over %d requests, %d errors",
                         result.latencyTargetOpsPerSecond, result.latencyBatchSize, latencyDevices, result.latencyP50Milliseconds, result.latencyP99Milliseconds, result.latencyRequests, result.latencyErrors))
            print(String(format: "slowest second of the latency phase: second %d, p99 %.1f ms", result.latencyWorstSecond, result.latencyWorstSecondP99Milliseconds))
            print(String(format: "machine busy during the latency phase: %.0f %% of %d cores, %.1f core-ms per request (server, PostgreSQL and client)",
                         result.latencyCPUBusy * 100, ProcessInfo.processInfo.activeProcessorCount, result.latencyCPUMillisecondsPerRequest))
            print(String(format: "ceiling, a bare commit alongside (one row, no HTTP, every 20 ms): p50 %.1f ms, p99 %.1f ms, slowest %.1f ms in second %d, over %d commits, %d errors",
                         result.commitProbeP50Milliseconds, result.commitProbeP99Milliseconds, result.commitProbeWorstMilliseconds,
                         result.commitProbeWorstSecond, result.commitProbeCount, result.commitProbeErrors))
        }
    }

    struct Nightly: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The nightly run over generated athletes with a year of history: first run and one more night, against a bare SQL aggregation.",
            discussion: """
                Generates one entry per athlete-day (~670-byte envelopes, runs and wellness) in a
                scratch database next to the configured one, dropped afterwards. The ceiling is a
                window-function aggregation of session load over the same rows, in the same run.
                Build with -c release for meaningful figures:
                  swift run -c release coach bench nightly --athletes 10000 --days 365
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Generated athletes.") var athletes: Int = 1000
        @Option(help: "Days of history per athlete.") var days: Int = 365
        @Option(help: "Nightly workers (connections).") var workers: Int = 2
        @Option(name: .customLong("batch-size"), help: "Athletes per claimed batch.") var batchSize: Int = 100
        @Flag(help: "Keep the scratch database afterwards (to look at the data or plans).") var keep = false
        @Flag(help: "Print JSON instead of text.") var json = false

        func validate() throws {
            if athletes < 1 || days < 56 { throw ValidationError("--athletes must be >= 1 and --days >= 56") }
        }

        func run() async throws {
            let configuration = try global.configuration()
            let logger = Logs.logger(configuration.logLevel)
            let quiet = json
            let options = NightlyBenchmark.Options(athletes: athletes, days: days, workers: workers, batchSize: batchSize)
            let result = try await withScratchDatabase(configuration, logger: logger, poolSize: max(2, workers), keep: keep) { pool in
                try await NightlyBenchmark.run(options, pool: pool, logger: logger) { line in
                    if !quiet { FileHandle.standardError.write(Data("... \(line)\n".utf8)) }
                }
            }
            if json { try Output.json(result); return }
            print("machine: \(result.machine)")
            print("\(result.athletes) athletes, \(result.entries) entries (generated in \(String(format: "%.1f", result.generateSeconds)) s)")
            Output.table(["WHAT", "SECONDS", "ATHLETES/S", "RATIO TO BARE AGGREGATION"], [
                ["bare SQL aggregation, all rows (ceiling)", String(format: "%.2f", result.aggregationSeconds), "-", "1.00"],
                ["bare SQL aggregation, the 125 days a first run reads", String(format: "%.2f", result.windowAggregationSeconds), "-",
                 String(format: "%.2f", result.windowAggregationSeconds / result.aggregationSeconds)],
                ["nightly, first run", String(format: "%.2f", result.firstRunSeconds), String(format: "%.0f", result.firstRunAthletesPerSecond),
                 String(format: "%.2f (%.2f of the 125-day aggregation)", result.firstToAggregation, result.firstToWindowAggregation)],
                ["nightly, one new day", String(format: "%.2f", result.incrementalSeconds), String(format: "%.0f", result.incrementalAthletesPerSecond),
                 String(format: "%.2f", result.incrementalToAggregation)],
            ])
            print("goals: first run <= 2.0, incremental <= 0.2; athletes failed: \(result.failed)")
        }
    }
}

extension BenchCommand {
    struct Digest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "digest",
            abstract: "The squad view for a squad with a year of history: p50 and p99, in process and through the coach API.",
            discussion: "Build with -c release:\n  swift run -c release coach bench digest --athletes 200")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Athletes in the squad.") var athletes: Int = 200
        @Option(help: "Days of history per athlete.") var days: Int = 365
        @Option(help: "Squad views timed per path.") var runs: Int = 100
        @Option(help: "Local port for the benchmark's HTTP server; 0 for any free one.") var port: Int = 0
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let configuration = try global.configuration()
            let logger = Logs.logger(configuration.logLevel)
            let quiet = json
            let (athletes, days, runs, port) = (self.athletes, self.days, self.runs, self.port)
            let result = try await withScratchDatabase(configuration, logger: logger, poolSize: 4) { pool in
                try await DigestBenchmark.run(athletes: athletes, days: days, runs: runs, port: port, pool: pool, logger: logger) { line in
                    if !quiet { FileHandle.standardError.write(Data("... \(line)\n".utf8)) }
                }
            }
            if json { try Output.json(result); return }
            print("machine: \(result.machine)")
            print("squad of \(result.athletes) athletes, \(result.days) days each; \(result.runs) squad views per path")
            Output.table(["PATH", "P50 MS", "P99 MS"], [
                ["in process (read + render)", String(format: "%.1f", result.localP50Milliseconds), String(format: "%.1f", result.localP99Milliseconds)],
                ["coach API over HTTP (+ decode + render)", String(format: "%.1f", result.httpP50Milliseconds), String(format: "%.1f", result.httpP99Milliseconds)],
            ])
            print("goal: under 150 ms locally")
        }
    }
}

/// Runs `body` on a pool of a scratch database created next to the configured one,
/// migrated, and dropped afterwards.
func withScratchDatabase<Result: Sendable>(_ configuration: Configuration, logger: Logger, poolSize: Int, keep: Bool = false, _ body: (ConnectionPool) async throws -> Result) async throws -> Result {
    let target = try DatabaseTarget.resolve(configuration.database, logger: logger)
    let name = "squadsync_bench_\(getpid())"
    let admin = try Connection(conninfo: target.url)
    try admin.execute("DROP DATABASE IF EXISTS \(identifier: name)")
    try admin.execute("CREATE DATABASE \(identifier: name) TEMPLATE template0 ENCODING 'UTF8'")
    defer {
        if keep { FileHandle.standardError.write(Data("kept database \(name)\n".utf8)) } else { _ = try? admin.execute("DROP DATABASE IF EXISTS \(identifier: name) WITH (FORCE)") }
    }
    let url = try ConnectionString.replacingDatabase(in: target.url, with: name)
    try DatabaseTarget.migrator(configuration.database).migrate(on: try Connection(conninfo: url))
    var scratch = configuration.database
    scratch.url = url
    scratch.poolSize = poolSize
    let pool = try DatabaseTarget.resolve(scratch, logger: logger).makePool(scratch, logger: logger)
    do {
        let result = try await body(pool)
        await pool.close()
        return result
    } catch {
        await pool.close()
        throw error
    }
}
