import Foundation
import Logging
import Postgres

/// The whole typed configuration, read once at start-up and validated.
public struct Configuration: Sendable {
    public var database: DatabaseConfiguration
    public var http: HTTPConfiguration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// When `coach serve` runs the nightly job itself (hour, minute, server local time); nil: never.
    public var nightlyAt: (hour: Int, minute: Int)?
    /// The file of the server key that tokens are stored under (`TokenKey`).
    public var tokenKeyFile: URL
    /// Crash points for the soak tests; empty in production.
    public var faults: FaultPoints = .none
    /// Where each effective value came from (flag, environment, file, default), for `coach config show`.
    public var sources: [Setting: String] = [:]

    /// How log records are written to standard error.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// swift-log's one-line text, for a person at a terminal.
        case text
        /// One JSON object a line (`JSONLogHandler`), for log collectors.
        case json
    }

    public init(
        database: DatabaseConfiguration, http: HTTPConfiguration = HTTPConfiguration(), logLevel: Logger.Level = .info,
        logFormat: LogFormat = .text, nightlyAt: (hour: Int, minute: Int)? = nil
    ) {
        self.database = database
        self.tokenKeyFile = database.home.appendingPathComponent("token.key")
        self.http = http
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.nightlyAt = nightlyAt
    }

    /// The token key, made in `tokenKeyFile` on first use; errors name the setting.
    public func tokenKey() throws -> TokenKey {
        do { return try TokenKey.load(file: tokenKeyFile) } catch let error as TokenKeyError {
            throw ConfigurationError(setting: .tokenKeyFile, message: error.message)
        }
    }

    /// Parses `HH:MM` (24 h); `off` or empty is nil.
    public static func parseTimeOfDay(_ text: String) throws -> (hour: Int, minute: Int)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "off" { return nil }
        let parts = trimmed.split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
              (0...23).contains(hour), (0...59).contains(minute) else {
            throw ConfigurationError(setting: .nightlyAt, message: "'\(text)' is not a time of day like 02:30 (or off)")
        }
        return (hour, minute)
    }

    /// Reads every setting; throws `ConfigurationError` naming the first bad one.
    public init(reader: ConfigurationReader) throws {
        database = try DatabaseConfiguration(reader: reader)
        tokenKeyFile = reader.string(.tokenKeyFile).map { URL(fileURLWithPath: $0) } ?? database.home.appendingPathComponent("token.key")
        http = try HTTPConfiguration(reader: reader)
        let levelText = reader.string(.logLevel) ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError(setting: .logLevel, message: "'\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
        let formatText = reader.string(.logFormat) ?? "text"
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw ConfigurationError(setting: .logFormat, message: "'\(formatText)' is not text or json")
        }
        logFormat = format
        nightlyAt = try reader.string(.nightlyAt).flatMap(Self.parseTimeOfDay)
        faults = try reader.string(.faultInjection).map(FaultPoints.parse) ?? .none
        for setting in Setting.all { sources[setting] = reader.source(setting) }
    }

    /// Each setting with its effective value, secrets masked, for `--help`-style listings and logs.
    public func describe() -> [(Setting, String)] {
        [
            (.configFile, database.configFile ?? "(none)"),
            (.databaseURL, database.url.map { _ in "(set, hidden)" } ?? "(embedded cluster)"),
            (.home, database.home.path),
            (.schemaDirectory, database.schemaDirectory ?? "(auto)"),
            (.tokenKeyFile, tokenKeyFile.path),
            (.poolSize, String(database.poolSize)),
            (.acquireTimeout, String(database.acquireTimeoutSeconds)),
            (.connectTimeout, String(database.connectTimeoutSeconds)),
            (.statementTimeout, String(database.statementTimeoutSeconds)),
            (.idleInTransactionTimeout, String(database.idleInTransactionTimeoutSeconds)),
            (.statementCache, String(database.statementCacheSize)),
            (.databaseRole, database.role.isEmpty ? "(the login role)" : database.role),
            (.host, http.host),
            (.port, String(http.port)),
            (.shutdownGrace, String(http.shutdownGraceSeconds)),
            (.rateLimit, String(Int(http.rateLimit))),
            (.rateLimitAddress, String(Int(http.rateLimitAddress))),
            (.trustedProxies, http.trustedProxiesText),
            (.requestTimeout, String(http.requestTimeoutSeconds)),
            (.idleTimeout, String(http.idleTimeoutSeconds)),
            (.logLevel, logLevel.rawValue),
            (.logFormat, logFormat.rawValue),
            (.nightlyAt, nightlyAt.map { String(format: "%02d:%02d", $0.hour, $0.minute) } ?? "off"),
            (.faultInjection, faults.isEmpty ? "off" : faults.probabilities.map { "\($0.key.rawValue)=\($0.value)" }.sorted().joined(separator: ",")),
        ]
    }
}

/// Where the database is and how to use it.
public struct DatabaseConfiguration: Sendable {
    /// An explicit server; `nil` means the embedded cluster under `home`.
    public var url: String?
    public var home: URL
    public var schemaDirectory: String?
    public var poolSize: Int
    public var acquireTimeoutSeconds: Int
    /// `connect_timeout` for every connection.
    public var connectTimeoutSeconds: Int
    /// `statement_timeout` on the daemon's connections (0: none); admin commands set none.
    public var statementTimeoutSeconds: Int
    /// `idle_in_transaction_session_timeout` on the daemon's connections (0: none).
    public var idleInTransactionTimeoutSeconds: Int
    /// Statements each pooled connection keeps prepared (0: none).
    public var statementCacheSize: Int = 256
    /// The config file the values were read from, if any (shown by `coach config show`).
    public var configFile: String?
    /// The role the daemon's sessions run as (row-level security applies to it); empty: the login role.
    public var role: String = "squadsync_app"

    public init(
        url: String? = nil, home: URL = EmbeddedCluster.Configuration.defaultHome(), schemaDirectory: String? = nil, poolSize: Int = 10,
        acquireTimeoutSeconds: Int = 10, connectTimeoutSeconds: Int = 3, statementTimeoutSeconds: Int = 5, idleInTransactionTimeoutSeconds: Int = 30
    ) {
        self.url = url
        self.home = home
        self.schemaDirectory = schemaDirectory
        self.poolSize = poolSize
        self.acquireTimeoutSeconds = acquireTimeoutSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.statementTimeoutSeconds = statementTimeoutSeconds
        self.idleInTransactionTimeoutSeconds = idleInTransactionTimeoutSeconds
    }

    /// Server settings for the daemon's connections: every request then ends within its
    /// deadline even when a statement or a client would otherwise hold a backend.
    public var daemonSessionSettings: [(name: String, value: String)] {
        var settings: [(name: String, value: String)] = []
        if statementTimeoutSeconds > 0 { settings.append(("statement_timeout", "\(statementTimeoutSeconds)s")) }
        if idleInTransactionTimeoutSeconds > 0 { settings.append(("idle_in_transaction_session_timeout", "\(idleInTransactionTimeoutSeconds)s")) }
        if !role.isEmpty { settings.append(("role", role)) }
        return settings
    }

    public init(reader: ConfigurationReader) throws {
        url = reader.string(.databaseURL)
        if let url {
            do { try Connection.validate(conninfo: url) } catch let error as PostgresError {
                throw ConfigurationError(setting: .databaseURL, message: error.message)
            }
        }
        var environment = reader.environment
        if let home = reader.string(.home) { environment["SQUAD_HOME"] = home }
        home = EmbeddedCluster.Configuration.defaultHome(environment: environment)
        schemaDirectory = reader.string(.schemaDirectory)
        poolSize = try reader.integer(.poolSize, default: 10, in: 1...500)
        acquireTimeoutSeconds = try reader.integer(.acquireTimeout, default: 10, in: 1...600)
        connectTimeoutSeconds = try reader.integer(.connectTimeout, default: 3, in: 1...300)
        statementTimeoutSeconds = try reader.integer(.statementTimeout, default: 5, in: 0...86_400)
        idleInTransactionTimeoutSeconds = try reader.integer(.idleInTransactionTimeout, default: 30, in: 0...86_400)
        statementCacheSize = try reader.integer(.statementCache, default: 256, in: 0...10_000)
        configFile = reader.string(.configFile)
        role = reader.string(.databaseRole) ?? "squadsync_app"
        guard role.isEmpty || role.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }) else {
            throw ConfigurationError(setting: .databaseRole, message: "'\(role)' is not a role name of lowercase letters, digits and _")
        }
    }
}

/// Where the HTTP server listens.
public struct HTTPConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Seconds in-flight requests may take to finish after SIGTERM.
    public var shutdownGraceSeconds: Int
    /// Requests a second per bearer token (0: unlimited).
    public var rateLimit: Double
    /// Seconds a connection may stay silent before it is closed.
    public var idleTimeoutSeconds: Int
    /// Requests a second per client address (0: unlimited).
    public var rateLimitAddress: Double = 100
    /// Proxies whose X-Forwarded-For is believed, and how they were written.
    public var trustedProxies: TrustedProxies = .loopback
    public var trustedProxiesText = "127.0.0.1,::1"
    /// Seconds a client has to send a whole request.
    public var requestTimeoutSeconds: Int = 60

    public init(host: String = "127.0.0.1", port: Int = 8080, shutdownGraceSeconds: Int = 10, rateLimit: Double = 20, idleTimeoutSeconds: Int = 30) {
        self.host = host
        self.port = port
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.rateLimit = rateLimit
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    public init(reader: ConfigurationReader) throws {
        host = reader.string(.host) ?? "127.0.0.1"
        port = try reader.integer(.port, default: 8080, in: 0...65535)
        shutdownGraceSeconds = try reader.integer(.shutdownGrace, default: 10, in: 0...3600)
        rateLimit = Double(try reader.integer(.rateLimit, default: 20, in: 0...100_000))
        idleTimeoutSeconds = try reader.integer(.idleTimeout, default: 30, in: 1...3600)
        rateLimitAddress = Double(try reader.integer(.rateLimitAddress, default: 100, in: 0...1_000_000))
        trustedProxiesText = reader.string(.trustedProxies) ?? "127.0.0.1,::1"
        do { trustedProxies = try TrustedProxies.parse(trustedProxiesText) } catch {
            throw ConfigurationError(setting: .trustedProxies, message: "\(error)")
        }
        requestTimeoutSeconds = try reader.integer(.requestTimeout, default: 60, in: 1...3600)
    }
}
