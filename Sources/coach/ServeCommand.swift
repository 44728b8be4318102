import ArgumentParser
import SquadServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server until SIGTERM or Ctrl-C.",
        discussion: """
            Refuses to start on a database with pending migrations: run `coach migrate`.
            With the embedded cluster, starts it if needed (and stops it on shutdown).

            On SIGTERM: stops accepting, lets in-flight requests finish (up to
            --shutdown-grace), closes the pool, stops the cluster it started.
            While PostgreSQL is down or restarting: requests get 503 + Retry-After,
            /readyz is 503, reconnects back off (100 ms doubling to 2 s, jittered).
            GET /metrics serves Prometheus series; responses carry X-Request-Id.

            Example:
              coach serve --host 0.0.0.0 --port 8080
              coach serve --nightly-at 02:30   # no cron: run the nightly job here
              coach serve --config /etc/squadsync/squadsync.env --log-format json
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

    @Option(name: .customLong("db-connect-timeout"), help: ArgumentHelp("Seconds to wait for PostgreSQL when connecting (env SQUAD_DB_CONNECT_TIMEOUT). Default: 3.", valueName: "seconds"))
    var connectTimeout: String?

    @Option(name: .customLong("db-statement-timeout"), help: ArgumentHelp("Seconds a request's statement may run, 0 for no limit (env SQUAD_DB_STATEMENT_TIMEOUT). Default: 5.", valueName: "seconds"))
    var statementTimeout: String?

    @Option(name: .customLong("db-idle-tx-timeout"), help: ArgumentHelp("Seconds a connection may idle inside a transaction, 0 for no limit (env SQUAD_DB_IDLE_TX_TIMEOUT). Default: 30.", valueName: "seconds"))
    var idleTransactionTimeout: String?

    @Option(name: .customLong("db-statement-cache"), help: ArgumentHelp("Statements each connection keeps prepared, 0 for none, as PgBouncer before 1.21 needs (env SQUAD_DB_STATEMENT_CACHE). Default: 256.", valueName: "n"))
    var statementCache: String?

    @Option(name: .customLong("db-role"), help: ArgumentHelp("Role the daemon's sessions run as, under row-level security; empty for the login role's own (env SQUAD_DB_ROLE). Default: squadsync_app.", valueName: "role"))
    var databaseRole: String?

    @Option(name: .customLong("shutdown-grace"), help: ArgumentHelp("Seconds in-flight requests may take to finish after SIGTERM (env SQUAD_SHUTDOWN_GRACE). Default: 10.", valueName: "seconds"))
    var shutdownGrace: String?

    @Option(name: .customLong("rate-limit"), help: ArgumentHelp("Requests a second per device or coach token, bursts of twice that, 0 for none (env SQUAD_RATE_LIMIT). Default: 20.", valueName: "n"))
    var rateLimit: String?

    @Option(name: .customLong("rate-limit-address"), help: ArgumentHelp("Requests a second per client address, with or without a token, bursts of twice that, 0 for none (env SQUAD_RATE_LIMIT_ADDRESS). Default: 100.", valueName: "n"))
    var rateLimitAddress: String?

    @Option(name: .customLong("trusted-proxies"), help: ArgumentHelp("Addresses or CIDR blocks whose X-Forwarded-For names the client, comma-separated, or none (env SQUAD_TRUSTED_PROXIES). Default: 127.0.0.1,::1.", valueName: "list"))
    var trustedProxies: String?

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("Seconds a client has to send a whole request, head and body, however it trickles (env SQUAD_REQUEST_TIMEOUT). Default: 60.", valueName: "seconds"))
    var requestTimeout: String?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds a silent client connection is kept (env SQUAD_IDLE_TIMEOUT). Default: 30.", valueName: "seconds"))
    var idleTimeout: String?

    @Option(name: .customLong("fault-injection"), help: ArgumentHelp("Testing only: point=probability,... where the daemon kills itself (env SQUAD_FAULT_INJECTION). Default: off.", valueName: "spec"))
    var faultInjection: String?

    @Option(name: .customLong("nightly-at"), help: ArgumentHelp("Also run the nightly job at HH:MM, server local time (env SQUAD_NIGHTLY_AT). Default: off (cron runs it).", valueName: "time"))
    var nightlyAt: String?

    func run() async throws {
        let configuration = try global.configuration(
            extra: [
                .host: host, .port: port, .poolSize: poolSize, .acquireTimeout: acquireTimeout, .connectTimeout: connectTimeout,
                .statementTimeout: statementTimeout, .idleInTransactionTimeout: idleTransactionTimeout, .statementCache: statementCache, .databaseRole: databaseRole, .shutdownGrace: shutdownGrace,
                .nightlyAt: nightlyAt, .faultInjection: faultInjection, .rateLimit: rateLimit, .idleTimeout: idleTimeout,
                .rateLimitAddress: rateLimitAddress, .trustedProxies: trustedProxies, .requestTimeout: requestTimeout,
            ],
            defaultLogLevel: "info")
        try await Serve.run(configuration: configuration, logger: Logs.logger(configuration.logLevel))
    }
}
