import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle
import UnixSignals

/// `coach serve`: the HTTP server, the pool and the embedded cluster in one `ServiceGroup`.
public enum Serve {
    /// Why serving cannot start.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Runs until SIGTERM or SIGINT, then shuts down in reverse order: HTTP, pool, cluster.
    ///
    /// - Throws: `StartError` when the database is behind its migrations.
    public static func run(configuration: Configuration, logger: Logger, metrics: ServerMetrics = ServerMetrics()) async throws {
        let target = try DatabaseTarget.resolve(configuration.database, logger: logger)
        // Start-up checks as the login role: before migration 0013 the request role does not exist.
        let checks = try target.makePool(configuration.database, logger: logger)
        let tokenKey: TokenKey
        do {
            tokenKey = try configuration.tokenKey()
            try await requireCurrentSchema(pool: checks, configuration: configuration.database)
            try await checks.withConnection { try tokenKey.check(on: $0) }
            await checks.close()
        } catch {
            await checks.close()
            if target.startedCluster { _ = try? target.cluster?.stop() }
            throw error
        }
        let pool = try target.makePool(configuration.database, daemon: true, logger: logger)
        var services: [any Service] = []
        if let cluster = target.cluster {
            services.append(EmbeddedClusterService(cluster: cluster, stopOnShutdown: target.startedCluster, logger: logger))
        }
        services.append(DatabasePoolService(pool: pool))
        services.append(buildApplication(http: configuration.http, pool: pool, tokenKey: tokenKey, database: configuration.database, logger: logger, metrics: metrics, faults: configuration.faults,
            rateLimiter: RateLimiter(rate: configuration.http.rateLimit), addressLimiter: RateLimiter(rate: configuration.http.rateLimitAddress),
            trustedProxies: configuration.http.trustedProxies))
        if let at = configuration.nightlyAt {
            // The nightly job is the server's own work over every athlete: it runs as the
            // login role, like cron's `coach nightly`, not under the request role's policies.
            var own = configuration.database
            own.poolSize = 2
            let nightlyPool = try target.makePool(own, daemon: false, logger: logger)
            services.append(DatabasePoolService(pool: nightlyPool))
            services.append(NightlyScheduler(pool: nightlyPool, at: at, logger: logger))
        }
        // Shut down in reverse: the scheduler, then HTTP (stops accepting, lets in-flight
        // requests finish within the grace), then the pool, then the cluster.
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.http.shutdownGraceSeconds)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        if !configuration.faults.isEmpty {
            logger.warning("fault injection is on: this daemon will kill itself on purpose (testing only)")
        }
        let group = ServiceGroup(configuration: groupConfiguration)
        logger.info("serving", metadata: [
            "address": "\(configuration.http.host):\(configuration.http.port)",
            "database": "\(target.cluster == nil ? ConnectionString.redacted(target.url) : "embedded at " + configuration.database.home.path)",
        ])
        try await group.run()
    }

    /// Throws unless every migration file is applied unchanged.
    public static func requireCurrentSchema(pool: ConnectionPool, configuration: DatabaseConfiguration) async throws {
        let migrator = try DatabaseTarget.migrator(configuration)
        let status = try await pool.withConnection { try migrator.status(on: $0) }
        let pending = status.filter { $0.state == .pending }.map(\.name)
        let changed = status.filter { $0.state == .changed }.map(\.name)
        if !changed.isEmpty {
            throw StartError(description: "applied migrations were changed on disk: \(changed.joined(separator: ", ")); restore them and put changes in new migrations")
        }
        if !pending.isEmpty {
            throw StartError(description: "the database is behind: \(pending.count) pending migration\(pending.count == 1 ? "" : "s") (\(pending.joined(separator: ", "))); run `coach migrate` first")
        }
    }
}
