import ArgumentParser
import SquadServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server until SIGTERM or Ctrl-C.",
        discussion: """
            Refuses to start on a database with pending migrations: run `coach migrate` first.
            With the embedded cluster, starts it if needed and stops it on shutdown if it started it.

            Example:
              coach serve --host 0.0.0.0 --port 8080
              coach serve --nightly-at 02:30      # no cron: the daemon runs the nightly job itself
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Address to listen on (env SQUAD_HOST).", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("TCP port (env SQUAD_PORT). Default: 8080.", valueName: "port"))
    var port: String?

    @Option(name: .customLong("db-pool-size"), help: ArgumentHelp("Maximum database connections (env SQUAD_DB_POOL_SIZE). Default: 10.", valueName: "n"))
    var poolSize: String?

    @Option(name: .customLong("db-acquire-timeout"), help: ArgumentHelp("Seconds to wait for a free connection (env SQUAD_DB_ACQUIRE_TIMEOUT). Default: 10.", valueName: "seconds"))
    var acquireTimeout: String?

    @Option(name: .customLong("nightly-at"), help: ArgumentHelp("Also run the nightly job at HH:MM, server local time (env SQUAD_NIGHTLY_AT). Default: off (cron runs it).", valueName: "time"))
    var nightlyAt: String?

    func run() async throws {
        let configuration = try global.configuration(
            extra: [.host: host, .port: port, .poolSize: poolSize, .acquireTimeout: acquireTimeout, .nightlyAt: nightlyAt],
            defaultLogLevel: "info")
        try await Serve.run(configuration: configuration, logger: Logs.logger(configuration.logLevel))
    }
}
