import Foundation
import Postgres
import SquadServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Real PostgreSQL for tests: `DATABASE_URL` when set, otherwise one throwaway
/// embedded cluster for the whole test run (fsync off), started with the same
/// code as `coach db start`. Each test gets its own database, cloned from a
/// template migrated once per run.
public enum TestDatabase {
    /// A database made for one test.
    public struct Handle: Sendable {
        public let name: String
        public let url: String

        /// A pool on this database; close it at the end of the test.
        public func pool(maxConnections: Int = 4, acquireTimeout: Duration = .seconds(60)) throws -> ConnectionPool {
            try ConnectionPool(configuration: .init(conninfo: url, maxConnections: maxConnections, acquireTimeout: acquireTimeout))
        }

        /// A pool whose sessions run as `squadsync_app`, as `coach serve`'s do: row-level
        /// security applies, so requests see only their scope's rows.
        public func requestPool(maxConnections: Int = 4) throws -> ConnectionPool {
            try ConnectionPool(configuration: .init(
                conninfo: url, maxConnections: maxConnections, acquireTimeout: .seconds(60), settings: [("role", "squadsync_app")]))
        }

        public func connect() throws -> Connection {
            try Connection(conninfo: url)
        }
    }

    /// A URL of the test server's maintenance database, for CREATE/DROP DATABASE.
    public static func adminURL() throws -> String {
        try server.get().adminURL
    }

    /// A new database: migrated with `Schema/` (default) or empty.
    public static func make(migrated: Bool = true) throws -> Handle {
        _ = TestTokenKey.file
        let server = try server.get()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try Connection(conninfo: server.adminURL)
        if migrated {
            try admin.execute("CREATE DATABASE \(identifier: name) TEMPLATE \(identifier: server.templateName)")
        } else {
            try admin.execute("CREATE DATABASE \(identifier: name) TEMPLATE template0 ENCODING 'UTF8'")
        }
        created.withLock { $0.append(name) }
        return Handle(name: name, url: try ConnectionString.replacingDatabase(in: server.adminURL, with: name))
    }

    // MARK: - The server, started once

    struct Server: Sendable {
        var adminURL: String
        var templateName: String
        var cluster: EmbeddedCluster?
    }

    static let created = Mutex<[String]>([])

    /// Swift runs a global's initializer once, thread-safely, on first use.
    static let server: Result<Server, any Error> = Result { try startServer() }

    private static func startServer() throws -> Server {
        let environment = ProcessInfo.processInfo.environment
        let templateName = "squad_template_\(getpid())"
        var cluster: EmbeddedCluster?
        let adminURL: String
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            adminURL = url
        } else {
            let home = URL(fileURLWithPath: "/tmp/squadsync-test-\(getpid())")
            try? FileManager.default.removeItem(at: home)
            let embedded = EmbeddedCluster(configuration: .init(home: home, database: "postgres", durable: false))
            try embedded.start()
            cluster = embedded
            adminURL = embedded.url(database: "postgres")
        }
        let server = Server(adminURL: adminURL, templateName: templateName, cluster: cluster)
        serverForCleanup.withLock { $0 = server }
        atexit { TestDatabase.cleanUp() }

        let admin = try Connection(conninfo: adminURL)
        try admin.execute("DROP DATABASE IF EXISTS \(identifier: templateName)")
        try admin.execute("CREATE DATABASE \(identifier: templateName) TEMPLATE template0 ENCODING 'UTF8'")
        let template = try Connection(conninfo: try ConnectionString.replacingDatabase(in: adminURL, with: templateName))
        let migrations = try Migration.load(from: try SchemaDirectory.locate())
        try Migrator(migrations: migrations).migrate(on: template)
        return server
    }

    static let serverForCleanup = Mutex<Server?>(nil)

    /// Drops what the run made: the whole cluster, or the databases on `DATABASE_URL`.
    static func cleanUp() {
        guard let server = serverForCleanup.withLock({ $0 }) else { return }
        if let cluster = server.cluster {
            _ = try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(at: cluster.configuration.home)
            return
        }
        guard let admin = try? Connection(conninfo: server.adminURL) else { return }
        for name in created.withLock({ $0 }) + [server.templateName] {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(identifier: name) WITH (FORCE)")
        }
    }
}
