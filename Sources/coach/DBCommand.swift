import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the embedded PostgreSQL cluster.",
        discussion: """
            The cluster lives under --home (SQUAD_HOME): data in postgres/, the unix socket
            and server log in run/. It listens on no TCP port. As root it runs as the
            `postgres` user, since PostgreSQL refuses to run as root.

            Examples:
              coach db start
              psql "$(coach db url)"
              coach db stop
            """,
        subcommands: [Start.self, Stop.self, Status.self, URLCommand.self, Psql.self]
    )

    static func cluster(_ options: GlobalOptions) throws -> (EmbeddedCluster, Configuration) {
        let configuration = try options.configuration()
        let cluster = EmbeddedCluster(
            configuration: .init(home: configuration.database.home),
            logger: Logs.logger(configuration.logLevel))
        return (cluster, configuration)
    }

    static func requireEmbedded(_ configuration: Configuration, _ command: String) throws {
        if configuration.database.url != nil {
            throw UsageError(message: "`coach db \(command)` manages the embedded cluster, but a database URL is set (--database-url or DATABASE_URL)")
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the cluster if needed and start it.",
            discussion: "Example:\n  SQUAD_HOME=/srv/squad coach db start")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let (cluster, configuration) = try DBCommand.cluster(global)
            try DBCommand.requireEmbedded(configuration, "start")
            let started = try cluster.start()
            print(started ? "started PostgreSQL (socket in \(cluster.socketDirectory.path))" : "already running (socket in \(cluster.socketDirectory.path))")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the cluster (fast shutdown: open sessions end, nothing committed is lost).",
            discussion: "Example:\n  coach db stop")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let (cluster, configuration) = try DBCommand.cluster(global)
            try DBCommand.requireEmbedded(configuration, "stop")
            print(try cluster.stop() ? "stopped" : "not running")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether the cluster is initialized and running.",
            discussion: "Example:\n  coach db status --json")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Report: Encodable {
            var state: String
            var pid: Int32?
            var home: String
            var dataDirectory: String
            var socketDirectory: String
            var url: String

            enum CodingKeys: String, CodingKey {
                case state, pid, home, url
                case dataDirectory = "data_directory"
                case socketDirectory = "socket_directory"
            }
        }

        func run() async throws {
            let (cluster, configuration) = try DBCommand.cluster(global)
            try DBCommand.requireEmbedded(configuration, "status")
            let state = cluster.status()
            var name = "stopped"
            var pid: Int32?
            switch state {
            case .notInitialized: name = "not_initialized"
            case .stopped, .stale: name = "stopped"
            case .running(let runningPID): name = "running"; pid = runningPID
            }
            if json {
                try Output.json(Report(
                    state: name, pid: pid, home: configuration.database.home.path, dataDirectory: cluster.dataDirectory.path,
                    socketDirectory: cluster.socketDirectory.path, url: cluster.url()))
            } else {
                print("embedded PostgreSQL: \(state)")
                print("data:   \(cluster.dataDirectory.path)")
                print("socket: \(cluster.socketDirectory.path)")
            }
        }
    }

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print a database URL that psql and other libpq programs accept.",
            discussion: "Example:\n  psql \"$(coach db url)\" -c 'SELECT count(*) FROM athletes'")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let (cluster, configuration) = try DBCommand.cluster(global)
            print(configuration.database.url ?? cluster.url())
        }
    }

    struct Psql: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open psql on the database (starting the embedded cluster if needed).",
            discussion: "Arguments after -- go to psql.\nExample:\n  coach db psql -- -c 'SELECT * FROM squads'")
        @OptionGroup var global: GlobalOptions
        @Argument(parsing: .postTerminator, help: "Arguments passed to psql.") var psqlArguments: [String] = []

        func run() async throws {
            let configuration = try global.configuration()
            let target = try DatabaseTarget.resolve(configuration.database, logger: Logs.logger(configuration.logLevel))
            let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
                .map { "\($0)/psql" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let psql = path else {
                throw AdminError(.notFound, "psql is not installed: apt-get install postgresql-client")
            }
            let arguments = [psql, target.url] + psqlArguments
            let cArguments = arguments.map { strdup($0) } + [nil]
            execv(psql, cArguments)
            throw AdminError(.notFound, "cannot run \(psql): \(String(cString: strerror(errno)))")
        }
    }
}
