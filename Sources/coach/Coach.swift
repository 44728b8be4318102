import ArgumentParser

struct Coach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coach",
        abstract: "Squadsync: sync athletes' training logs, adjust plans nightly, and brief the coach.",
        discussion: """
            With no --database-url (or DATABASE_URL), every command uses an embedded
            PostgreSQL cluster under --home (SQUAD_HOME), created and started on first use.

            Start here:
              coach migrate                  create the database, apply the schema
              coach squads create "Tuesday Club"
              coach athletes add ana --name "Ana Costa" \\
                  --squad "Tuesday Club" --tz Europe/Lisbon
              coach serve                    the HTTP server (Ctrl-C stops it)
              coach plan generate ana --race 2027-04-18 --distance half \\
                  --days-per-week 5 --start-km 30
              coach nightly                  metrics, flags, plan changes (cron)
              coach digest                   the squad, most urgent first

            Exit codes: 0 success, 1 runtime failure, 2 usage error.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, ConfigCommand.self, MigrateCommand.self, DBCommand.self, SquadsCommand.self, AthletesCommand.self, DevicesCommand.self, DuplicatesCommand.self, SimulateCommand.self, ImportCommand.self, PlanCommand.self, NightlyCommand.self, PurgeCommand.self, RulesCommand.self, FlagsCommand.self, AckCommand.self, AuditCommand.self, ConflictsCommand.self, DigestCommand.self, CoachesCommand.self, BenchCommand.self,
        ]
    )
}
