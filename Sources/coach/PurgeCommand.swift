import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Retire deleted entries: empty them after 30 days, remove them after 180.",
        discussion: """
            SYNC.md: a deleted entry keeps its content 30 days so it can be restored; then
            only its id stays (devices still learn of the deletion); after 180 days the id
            goes too, and a device whose pull cursor is older gets 410 cursor_expired and
            pulls from the start. `coach nightly` does this at the end of every run; this
            command does it alone.

            Examples:
              coach purge --dry-run
              coach purge --json
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("dry-run"), help: "Count what would be retired; change nothing.") var dryRun = false
    @Flag(help: "Print the counts as JSON.") var json = false

    func run() async throws {
        let dryRun = self.dryRun
        let report = try await CommandContext.with(global) { context in
            try await context.pool.withConnection { connection in
                dryRun ? try TombstonePurge.preview(on: connection) : try TombstonePurge.run(on: connection)
            }
        }
        if json {
            try Output.json(report)
            return
        }
        print("\(dryRun ? "would empty" : "emptied") \(report.bodiesPurged) deleted entries older than 30 days; "
              + "\(dryRun ? "would remove" : "removed") \(report.tombstonesRemoved) older than 180 days"
              + (report.horizonsAdvanced > 0 ? " (\(report.horizonsAdvanced) athletes' older pull cursors now expire)" : ""))
    }
}
