import Foundation
import Logging
import Postgres

/// The database a command talks to: the configured URL, or the embedded
/// cluster, started (and created on first use) when it is not running.
public struct DatabaseTarget: Sendable {
    /// The libpq URL or conninfo. May hold a password: never log it.
    public let url: String
    /// The embedded cluster, when no URL was configured.
    public let cluster: EmbeddedCluster?
    /// True when resolving started the embedded cluster (so the caller may stop it).
    public let startedCluster: Bool

    public static func resolve(_ configuration: DatabaseConfiguration, logger: Logger) throws -> DatabaseTarget {
        if let url = configuration.url {
            return DatabaseTarget(url: url, cluster: nil, startedCluster: false)
        }
        let cluster = EmbeddedCluster(configuration: .init(home: configuration.home), logger: logger)
        let started = try cluster.start()
        return DatabaseTarget(url: cluster.url(), cluster: cluster, startedCluster: started)
    }

    /// A pool on this target with the configured size and timeouts.
    ///
    /// - Parameter daemon: true for `coach serve`, whose connections also get the
    ///   statement and idle-in-transaction timeouts; admin commands and the cron job
    ///   may run long statements and get none.
    public func makePool(_ configuration: DatabaseConfiguration, daemon: Bool = false, logger: Logger) throws -> ConnectionPool {
        try ConnectionPool(
            configuration: .init(
                conninfo: url, maxConnections: configuration.poolSize,
                acquireTimeout: .seconds(configuration.acquireTimeoutSeconds),
                connectTimeout: configuration.connectTimeoutSeconds,
                settings: daemon ? configuration.daemonSessionSettings : [],
                statementCacheCapacity: configuration.statementCacheSize),
            logger: logger)
    }

    /// The migrator for the configured schema folder.
    public static func migrator(_ configuration: DatabaseConfiguration) throws -> Migrator {
        Migrator(migrations: try Migration.load(from: try SchemaDirectory.locate(explicit: configuration.schemaDirectory)))
    }
}
