import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Act as a squad's phones and watches: generate offline logs and push them to a server.",
        discussion: """
            Creates a squad "Simulation <seed>" with athletes sim<seed>-0, sim<seed>-1, ... and a watch
            and a phone for each (in the database this command is pointed at, which must be the
            server's), then pushes realistic logs: runs with splits and cadence, drills, strength,
            daily wellness, notes, edits from both devices, deletes, runs recorded twice, skewed
            clocks and re-sent batches, in offline bursts. The same seed and end date give the
            same ops, so running it again changes nothing (every op comes back as duplicate).
            The simulated devices' tokens derive from the seed: use it only for test data.

            Exit code 1 if the server answered any push with a 5xx.

            Example:
              coach simulate --server http://127.0.0.1:8080 --athletes 20 --days 60 --seed 7
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Base URL of a running coach serve; several, comma-separated, are picked at random per push.") var server: String
    @Option(help: "How many athletes to simulate.") var athletes: Int = 10
    @Option(help: "How many days of logs, ending on --end-date.") var days: Int = 30
    @Option(help: "Random seed: the same seed gives the same logs.") var seed: UInt64 = 1
    @Option(name: .customLong("end-date"), help: "Last simulated day, YYYY-MM-DD (default: today, UTC).") var endDate: String?
    @Option(help: "Athletes pushing at the same time.") var concurrency: Int = 8
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (1...5000).contains(athletes) else { throw ValidationError("--athletes must be 1 to 5000") }
        guard (1...3650).contains(days) else { throw ValidationError("--days must be 1 to 3650") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 64") }
        guard server.hasPrefix("http://") || server.hasPrefix("https://") else { throw ValidationError("--server must be an http:// or https:// URL") }
        if let endDate, Self.dayMillis(endDate) == nil { throw ValidationError("--end-date must look like 2026-06-30") }
    }

    static func dayMillis(_ text: String) -> Int64? {
        guard text.count == 10, let date = ISO8601DateFormatter().date(from: text + "T00:00:00Z") else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    func run() async throws {
        let end = endDate.flatMap(Self.dayMillis) ?? Int64(Date().timeIntervalSince1970 / 86_400) * 86_400_000
        let options = Simulator.Options(server: server, athletes: athletes, days: days, seed: seed, endDayMillis: end, concurrency: concurrency)
        let context = try await CommandContext.open(global)
        let simulated: [SimulatedAthlete]
        do {
            simulated = try await Simulator.prepare(options, pool: context.pool, key: try context.configuration.tokenKey())
            await context.close()
        } catch {
            await context.close()
            throw error
        }
        let interactive = isatty(STDERR_FILENO) == 1
        let report = try await Simulator.run(options, athletes: simulated, logger: context.logger) { done, total in
            if interactive { FileHandle.standardError.write(Data("\rathletes synced: \(done)/\(total)".utf8)) }
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        if json {
            try Output.json(report)
        } else {
            print("simulated \(report.athletes) athletes x \(report.days) days: \(report.ops) ops in \(report.pushes) pushes, \(String(format: "%.1f", report.seconds)) s")
            print("results: " + report.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("re-sent batches: \(report.resent), retries: \(report.retries), HTTP 4xx: \(report.http4xx), HTTP 5xx: \(report.http5xx), transport errors: \(report.transportErrors)")
        }
        if report.http5xx > 0 || report.transportErrors > 0 { throw ExitCode(1) }
    }
}
