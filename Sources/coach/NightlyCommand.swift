import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct NightlyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Compute metrics, raise and clear flags, and adjust plans (cron's entry point).",
        discussion: """
            Processes every night from each athlete's last completed one up to --date
            (default: yesterday in each athlete's time zone), so a missed night is caught up.
            Re-running a date changes nothing unless entries arrived late for it, and then
            the days they touch are recomputed. Several runs at once (cron overlap, a second
            machine) share the work: each athlete is claimed in the database and adjusted once.
            Then deleted entries are retired as SYNC.md says (see `coach purge`).

            Exit code 1 when any athlete failed (each is named); the others are still done.

            Examples:
              coach nightly                       # cron: 30 2 * * * coach nightly
              coach nightly --date 2026-11-22 --athlete ana --dry-run
              coach nightly --json | jq '.athletes[] | select(.flags_raised != [])'
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Process up to this night (YYYY-MM-DD). Default: yesterday in each athlete's time zone.", valueName: "date"))
    var date: String?
    @Option(help: ArgumentHelp("Only this athlete.", valueName: "handle")) var athlete: String?
    @Flag(name: .customLong("dry-run"), help: "Compute and report, then roll everything back.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Athletes claimed per transaction.", valueName: "n")) var batchSize = 50
    @Option(help: ArgumentHelp("Batches processed at once, each on its own database connection.", valueName: "n")) var workers = 2

    func validate() throws {
        if let date, Day(date) == nil { throw ValidationError("--date: '\(date)' is not a date (YYYY-MM-DD)") }
        if !(1...1000).contains(batchSize) { throw ValidationError("--batch-size: must be 1 to 1000") }
        if !(1...16).contains(workers) { throw ValidationError("--workers: must be 1 to 16") }
    }

    func run() async throws {
        let options = NightlyRunner.Options(date: date.flatMap(Day.init), handle: athlete, dryRun: dryRun, batchSize: batchSize, workers: workers)
        let interactive = isatty(STDERR_FILENO) == 1
        let started = Date()
        let report = try await CommandContext.with(global) { context in
            try await NightlyRunner.run(options, pool: context.pool, logger: context.logger) { done, total in
                if interactive { FileHandle.standardError.write(Data("\rnightly: \(done)/\(total) athletes".utf8)) }
            }
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        if json {
            try Output.json(report)
        } else {
            for night in report.athletes where night.error == nil && (!night.flagsRaised.isEmpty || !night.flagsCleared.isEmpty || !night.planChanges.isEmpty) {
                var parts: [String] = []
                if !night.flagsRaised.isEmpty { parts.append("raised " + night.flagsRaised.map { "\($0.code) (\($0.severity))" }.joined(separator: ", ")) }
                if !night.flagsCleared.isEmpty { parts.append("cleared " + night.flagsCleared.map(\.code).joined(separator: ", ")) }
                if !night.planChanges.isEmpty {
                    let rules = night.planChanges.compactMap { $0.value.objectValue?["rule"]?.stringValue }
                    parts.append("\(rules.count) plan changes (\(Set(rules).sorted().joined(separator: ", ")))")
                }
                print("\(night.handle): " + parts.joined(separator: "; "))
            }
            let raised = report.athletes.reduce(0) { $0 + $1.flagsRaised.count }
            let cleared = report.athletes.reduce(0) { $0 + $1.flagsCleared.count }
            let changes = report.athletes.reduce(0) { $0 + $1.planChanges.count }
            let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
            print("nightly \(report.date?.description ?? "-")\(dryRun ? " (dry run, nothing kept)" : ""): \(report.athletes.count) athletes processed, "
                  + "\(raised) flags raised, \(cleared) cleared, \(changes) plan changes, \(report.failed.count) failed, "
                  + "\(report.skipped.count) held by another run, in \(seconds) s")
            if let purge = report.purge, purge.bodiesPurged + purge.tombstonesRemoved > 0 {
                print("deleted entries: \(purge.bodiesPurged) emptied after 30 days, \(purge.tombstonesRemoved) removed after 180 days")
            }
        }
        for failed in report.failed {
            FileHandle.standardError.write(Data("error: \(failed.handle): \(failed.error ?? "failed")\n".utf8))
        }
        if !report.failed.isEmpty { throw ExitCode(1) }
    }
}
