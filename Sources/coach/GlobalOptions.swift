import ArgumentParser
import Foundation
import Logging
import Postgres
import SquadServer

/// Options every command takes; each also reads its environment variable.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp("PostgreSQL URL or conninfo (env DATABASE_URL). Default: the embedded cluster.", valueName: "url"))
    var databaseURL: String?

    @Option(help: ArgumentHelp("Folder of the embedded cluster (env SQUAD_HOME). Default: ~/.local/share/squadsync, as root /var/lib/squadsync.", valueName: "path"))
    var home: String?

    @Option(name: .customLong("schema-dir"), help: ArgumentHelp("Folder of the SQL migrations (env SQUAD_SCHEMA_DIR). Default: found beside the binary.", valueName: "path"))
    var schemaDir: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace|debug|info|notice|warning|error (env SQUAD_LOG_LEVEL). Default: info for serve, notice otherwise.", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("text|json: json writes one object a line to standard error (env SQUAD_LOG_FORMAT). Default: text.", valueName: "format"))
    var logFormat: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("File of VARIABLE=value lines, as in squadsync.env.example (env SQUAD_CONFIG). Flags and the environment win over it.", valueName: "path"))
    var configFile: String?

    @Option(name: .customLong("token-key-file"), help: ArgumentHelp("Server key that tokens are stored under, HMAC-SHA256 (env SQUAD_TOKEN_KEY_FILE). Default: token.key in --home, made on first use.", valueName: "path"))
    var tokenKeyFile: String?

    /// Flags given on this command line, by setting.
    func flags(_ extra: [Setting: String?] = [:]) -> [String: String] {
        var flags: [String: String] = [:]
        let given: [Setting: String?] = [
            .databaseURL: databaseURL, .home: home, .schemaDirectory: schemaDir, .logLevel: logLevel, .logFormat: logFormat, .configFile: configFile, .tokenKeyFile: tokenKeyFile,
        ]
        for (setting, value) in given.merging(extra, uniquingKeysWith: { $1 }) {
            if let value { flags[setting.flag] = value }
        }
        return flags
    }

    func configuration(extra: [Setting: String?] = [:], defaultLogLevel: String = "notice") throws -> Configuration {
        var environment = ProcessInfo.processInfo.environment
        if environment["SQUAD_LOG_LEVEL"] == nil { environment["SQUAD_LOG_LEVEL"] = defaultLogLevel }
        let configuration = try Configuration(reader: ConfigurationReader.load(flags: flags(extra), environment: environment))
        Logs.format = configuration.logFormat
        return configuration
    }
}

/// Logging to standard error, so standard output stays for results (and `--json`).
enum Logs {
    /// Set from the configuration before the first logger is made.
    nonisolated(unsafe) static var format: Configuration.LogFormat = .text

    private static let bootstrapped: Bool = {
        switch format {
        case .text: LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        }
        return true
    }()

    static func logger(_ level: Logger.Level) -> Logger {
        _ = bootstrapped
        var logger = Logger(label: "squadsync")
        logger.logLevel = level
        return logger
    }
}

/// A database session for one admin command: the target (embedded cluster started if
/// needed), a small pool, and a schema that must be current.
struct CommandContext {
    let configuration: Configuration
    let logger: Logger
    let target: DatabaseTarget
    let pool: ConnectionPool

    static func open(_ options: GlobalOptions, requireCurrentSchema: Bool = true) async throws -> CommandContext {
        var configuration = try options.configuration()
        configuration.database.poolSize = min(configuration.database.poolSize, 2)
        let logger = Logs.logger(configuration.logLevel)
        let target = try DatabaseTarget.resolve(configuration.database, logger: logger)
        let pool = try target.makePool(configuration.database, logger: logger)
        if requireCurrentSchema {
            do {
                try await Serve.requireCurrentSchema(pool: pool, configuration: configuration.database)
            } catch {
                await pool.close()
                throw error
            }
        }
        return CommandContext(configuration: configuration, logger: logger, target: target, pool: pool)
    }

    func close() async {
        await pool.close()
    }

    /// Runs `body` with the context and closes the pool whatever happens.
    static func with<Result: Sendable>(_ options: GlobalOptions, _ body: (CommandContext) async throws -> Result) async throws -> Result {
        let context = try await open(options)
        do {
            let result = try await body(context)
            await context.close()
            return result
        } catch {
            await context.close()
            throw error
        }
    }
}
