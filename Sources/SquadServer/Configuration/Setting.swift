import Foundation

/// One configurable value: its flag, its environment variable and its default.
///
/// Values resolve in the order flag > environment > default (`ConfigurationReader`).
public struct Setting: Sendable, Hashable {
    /// The long flag without dashes, e.g. `database-url`.
    public var flag: String
    /// The environment variable, e.g. `DATABASE_URL`.
    public var environment: String
    /// The default as shown to people; `nil` means "unset".
    public var defaultDescription: String?
    /// Secrets are masked wherever configuration is shown or logged.
    public var isSecret: Bool
    public var help: String

    public init(flag: String, environment: String, defaultDescription: String?, isSecret: Bool = false, help: String) {
        self.flag = flag
        self.environment = environment
        self.defaultDescription = defaultDescription
        self.isSecret = isSecret
        self.help = help
    }
}

extension Setting {
    public static let databaseURL = Setting(
        flag: "database-url", environment: "DATABASE_URL", defaultDescription: nil, isSecret: true,
        help: "PostgreSQL URL or conninfo; unset means the embedded cluster under the home folder")
    public static let home = Setting(
        flag: "home", environment: "SQUAD_HOME", defaultDescription: "~/.local/share/squadsync (root: /var/lib/squadsync)",
        help: "Folder for the embedded PostgreSQL cluster and its socket")
    public static let schemaDirectory = Setting(
        flag: "schema-dir", environment: "SQUAD_SCHEMA_DIR", defaultDescription: "found beside the binary or in the checkout",
        help: "Folder with the numbered SQL migrations")
    public static let poolSize = Setting(
        flag: "db-pool-size", environment: "SQUAD_DB_POOL_SIZE", defaultDescription: "10",
        help: "Maximum open database connections")
    public static let acquireTimeout = Setting(
        flag: "db-acquire-timeout", environment: "SQUAD_DB_ACQUIRE_TIMEOUT", defaultDescription: "10",
        help: "Seconds to wait for a free database connection before failing")
    public static let host = Setting(
        flag: "host", environment: "SQUAD_HOST", defaultDescription: "127.0.0.1",
        help: "Address the HTTP server listens on")
    public static let port = Setting(
        flag: "port", environment: "SQUAD_PORT", defaultDescription: "8080",
        help: "TCP port the HTTP server listens on")
    public static let logLevel = Setting(
        flag: "log-level", environment: "SQUAD_LOG_LEVEL", defaultDescription: "info",
        help: "trace, debug, info, notice, warning, error or critical")

    public static let nightlyAt = Setting(
        flag: "nightly-at", environment: "SQUAD_NIGHTLY_AT", defaultDescription: "off (cron or the systemd timer runs `coach nightly`)",
        help: "HH:MM (server local time): `coach serve` also runs the nightly job in process, under the same per-athlete claims")

    public static let logFormat = Setting(
        flag: "log-format", environment: "SQUAD_LOG_FORMAT", defaultDescription: "text",
        help: "text (for a terminal) or json (one object a line, for journald, Loki and the like)")
    public static let configFile = Setting(
        flag: "config", environment: "SQUAD_CONFIG", defaultDescription: nil,
        help: "File of VARIABLE=value lines (the format of squadsync.env.example); flags and the environment win over it")
    public static let shutdownGrace = Setting(
        flag: "shutdown-grace", environment: "SQUAD_SHUTDOWN_GRACE", defaultDescription: "10",
        help: "Seconds `coach serve` lets in-flight requests finish after SIGTERM before cancelling them")
    public static let statementTimeout = Setting(
        flag: "db-statement-timeout", environment: "SQUAD_DB_STATEMENT_TIMEOUT", defaultDescription: "5",
        help: "Seconds a statement of the daemon may run (statement_timeout; 0: no limit); the nightly job lifts it for its own transactions")
    public static let idleInTransactionTimeout = Setting(
        flag: "db-idle-tx-timeout", environment: "SQUAD_DB_IDLE_TX_TIMEOUT", defaultDescription: "30",
        help: "Seconds a daemon connection may sit idle inside a transaction (idle_in_transaction_session_timeout; 0: no limit)")
    public static let statementCache = Setting(
        flag: "db-statement-cache", environment: "SQUAD_DB_STATEMENT_CACHE", defaultDescription: "256",
        help: "Statements each database connection keeps prepared, parsed once per session instead of on every request; 0: none (PgBouncer in transaction mode before 1.21, or without max_prepared_statements)")
    public static let connectTimeout = Setting(
        flag: "db-connect-timeout", environment: "SQUAD_DB_CONNECT_TIMEOUT", defaultDescription: "3",
        help: "Seconds to wait for PostgreSQL when opening a connection (connect_timeout)")

    public static let rateLimit = Setting(
        flag: "rate-limit", environment: "SQUAD_RATE_LIMIT", defaultDescription: "20",
        help: "Requests a second each device or coach token may make (bursts of twice that); 0: no limit")
    public static let databaseRole = Setting(
        flag: "db-role", environment: "SQUAD_DB_ROLE", defaultDescription: "squadsync_app",
        help: "Role the daemon's sessions run as (SET ROLE at connect), subject to row-level security; empty: the login role's own (give the daemon a login role that is a member of squadsync_app)")
    public static let rateLimitAddress = Setting(
        flag: "rate-limit-address", environment: "SQUAD_RATE_LIMIT_ADDRESS", defaultDescription: "100",
        help: "Requests a second each client address may make, with or without a token (bursts of twice that); 0: no limit")
    public static let trustedProxies = Setting(
        flag: "trusted-proxies", environment: "SQUAD_TRUSTED_PROXIES", defaultDescription: "127.0.0.1,::1",
        help: "Addresses or CIDR blocks of reverse proxies whose X-Forwarded-For names the client (comma-separated; none: trust nobody)")
    public static let requestTimeout = Setting(
        flag: "request-timeout", environment: "SQUAD_REQUEST_TIMEOUT", defaultDescription: "60",
        help: "Seconds a client has to send a whole request (head and body), however slowly it trickles; then the connection is closed")
    public static let idleTimeout = Setting(
        flag: "idle-timeout", environment: "SQUAD_IDLE_TIMEOUT", defaultDescription: "30",
        help: "Seconds a client connection may send nothing before it is closed")
    public static let faultInjection = Setting(
        flag: "fault-injection", environment: "SQUAD_FAULT_INJECTION", defaultDescription: "off",
        help: "Testing only: point=probability,... where `coach serve` kills itself (push.before_tx, push.in_tx, push.after_commit)")

    public static let tokenKeyFile = Setting(
        flag: "token-key-file", environment: "SQUAD_TOKEN_KEY_FILE", defaultDescription: "token.key in the home folder (made on first use)",
        help: "File with the server key (hex) under which device and coach tokens are stored as HMAC-SHA256; every daemon and command of one database needs the same file")

    /// Every setting, in the order the README documents them.
    public static let all: [Setting] = [
        configFile, databaseURL, home, schemaDirectory, poolSize, acquireTimeout, connectTimeout, statementTimeout, idleInTransactionTimeout, statementCache, databaseRole,
        tokenKeyFile, host, port, shutdownGrace, rateLimit, rateLimitAddress, trustedProxies, requestTimeout, idleTimeout, logLevel, logFormat, nightlyAt, faultInjection,
    ]
}
