import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations, or list them with --status.",
        discussion: """
            Each migration runs in its own transaction under an advisory lock, so two
            `coach migrate` runs at once are safe. An applied file whose content changed
            is refused, by name. With no --database-url, creates and starts the embedded
            cluster first (and leaves it running; `coach db stop` stops it).

            Examples:
              coach migrate
              coach migrate --status --json
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "List every migration and whether it is applied, pending or changed.")
    var status = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    struct StatusRow: Encodable {
        var name: String
        var state: String
        var appliedAt: Date?

        enum CodingKeys: String, CodingKey {
            case name, state
            case appliedAt = "applied_at"
        }
    }

    func run() async throws {
        let configuration = try global.configuration()
        let logger = Logs.logger(configuration.logLevel)
        let migrator = try DatabaseTarget.migrator(configuration.database)
        let target = try DatabaseTarget.resolve(configuration.database, logger: logger)
        let pool = try target.makePool(configuration.database, logger: logger)
        do {
            if status {
                let rows = try await pool.withConnection { try migrator.status(on: $0) }
                await pool.close()
                if json {
                    try Output.json(rows.map { StatusRow(name: $0.name, state: $0.state.rawValue, appliedAt: $0.appliedAt) })
                } else {
                    Output.table(["MIGRATION", "STATE", "APPLIED"], rows.map { [$0.name, $0.state.rawValue, $0.appliedAt.map(Output.date) ?? "-"] })
                }
                return
            }
            let printsProgress = !json
            let applied = try await pool.withConnection { connection in
                try migrator.migrate(on: connection) { migration in
                    if printsProgress { print("applying \(migration.name)") }
                }
            }
            await pool.close()
            if json {
                try Output.json(["applied": applied])
            } else if applied.isEmpty {
                print("database is up to date (\(migrator.migrations.count) migration\(migrator.migrations.count == 1 ? "" : "s"))")
            } else {
                print("applied \(applied.count) migration\(applied.count == 1 ? "" : "s")")
            }
        } catch {
            await pool.close()
            throw error
        }
    }
}
