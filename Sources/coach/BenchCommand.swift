import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure performance on this machine.",
        subcommands: [Push.self]
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
        @Option(help: "Local port for the benchmark's HTTP server.") var port: Int = 18_555
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let configuration = try global.configuration()
            let logger = Logs.logger(configuration.logLevel)
            let target = try DatabaseTarget.resolve(configuration.database, logger: logger)
            let name = "squadsync_bench_\(getpid())"
            let admin = try Connection(conninfo: target.url)
            try admin.execute("DROP DATABASE IF EXISTS \(identifier: name)")
            try admin.execute("CREATE DATABASE \(identifier: name) TEMPLATE template0 ENCODING 'UTF8'")
            defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(identifier: name) WITH (FORCE)") }
            let url = try ConnectionString.replacingDatabase(in: target.url, with: name)
            try DatabaseTarget.migrator(configuration.database).migrate(on: try Connection(conninfo: url))
            var scratch = configuration.database
            scratch.url = url
            scratch.poolSize = max(4, devices)
            let quiet = json
            let result = try await PushBenchmark.run(
                .init(devices: devices, batchesPerDevice: batches, latencySeconds: latencySeconds, port: port),
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
            print(String(format: "latency at half of peak (%.0f ops/s in 50-op batches): p50 %.1f ms, p99 %.1f ms over %d requests, %d errors",
                         result.latencyTargetOpsPerSecond, result.latencyP50Milliseconds, result.latencyP99Milliseconds, result.latencyRequests, result.latencyErrors))
        }
    }
}
