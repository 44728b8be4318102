import Logging
import Postgres
import ServiceLifecycle

/// Closes the connection pool when the service group shuts down (after the HTTP server).
public struct DatabasePoolService: Service {
    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await pool.close()
    }
}

/// Stops the embedded cluster at shutdown if this process started it; one that
/// was already running (another `coach` started it) is left running.
public struct EmbeddedClusterService: Service {
    public let cluster: EmbeddedCluster
    public let stopOnShutdown: Bool
    let logger: Logger

    public init(cluster: EmbeddedCluster, stopOnShutdown: Bool, logger: Logger) {
        self.cluster = cluster
        self.stopOnShutdown = stopOnShutdown
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        guard stopOnShutdown else { return }
        logger.info("stopping the embedded PostgreSQL")
        try cluster.stop()
    }
}
