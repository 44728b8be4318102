import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster that Squadsync owns under `$SQUAD_HOME`, used when no database URL is given.
///
/// Layout: `home/postgres` holds the data (created by `initdb`, UTF8), `home/run`
/// the unix socket and the server log; there is no TCP listener. Local
/// connections are trusted, guarded by the socket folder's 0700 mode.
///
/// PostgreSQL refuses to run as root: when this process is root, `initdb` and
/// `pg_ctl` run as the unprivileged `postgres` user through `runuser`, which owns
/// the data and socket folders. Starting and stopping take a file lock, so
/// concurrent `coach` commands never start two servers. A stale `postmaster.pid`
/// (its process gone or not a PostgreSQL) is recovered, not reported as running.
public struct EmbeddedCluster: Sendable {
    /// Where the cluster lives and how it runs.
    public struct Configuration: Sendable {
        /// `$SQUAD_HOME`.
        public var home: URL
        /// The database `url` points at; created on start.
        public var database: String
        /// The superuser made by `initdb`.
        public var user: String
        /// Part of the socket file name (`.s.PGSQL.<port>`); no TCP port is opened.
        public var port: Int
        /// `false` turns fsync off: for throwaway test clusters only.
        public var durable: Bool
        /// The OS user that runs the server; `nil` means this process's user,
        /// except as root, where it defaults to `postgres`.
        public var serverUser: String?

        public init(home: URL, database: String = "squadsync", user: String = "squadsync", port: Int = 5432, durable: Bool = true, serverUser: String? = nil) {
            self.home = home
            self.database = database
            self.user = user
            self.port = port
            self.durable = durable
            self.serverUser = serverUser ?? (geteuid() == 0 ? "postgres" : nil)
        }

        /// `$SQUAD_HOME`, else `$XDG_DATA_HOME/squadsync`, else `~/.local/share/squadsync`;
        /// as root `/var/lib/squadsync`, since the `postgres` user cannot enter `/root`.
        public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
            if let home = environment["SQUAD_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
            if geteuid() == 0 { return URL(fileURLWithPath: "/var/lib/squadsync") }
            if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
                return URL(fileURLWithPath: xdg).appendingPathComponent("squadsync")
            }
            let userHome = environment["HOME"] ?? NSHomeDirectory()
            return URL(fileURLWithPath: userHome).appendingPathComponent(".local/share/squadsync")
        }
    }

    /// What `status()` found.
    public enum State: Sendable, Equatable, CustomStringConvertible {
        case notInitialized
        case stopped
        case running(pid: Int32)
        /// A `postmaster.pid` whose process is gone or is not this cluster's server.
        case stale(pid: Int32)

        public var description: String {
            switch self {
            case .notInitialized: "not initialized"
            case .stopped: "stopped"
            case .running(let pid): "running (pid \(pid))"
            case .stale(let pid): "stopped (stale pid file for pid \(pid))"
            }
        }
    }

    public let configuration: Configuration
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "squadsync.cluster")) {
        self.configuration = configuration
        self.logger = logger
    }

    public var dataDirectory: URL { configuration.home.appendingPathComponent("postgres") }
    public var socketDirectory: URL { configuration.home.appendingPathComponent("run") }
    public var logFile: URL { socketDirectory.appendingPathComponent("postgres.log") }

    /// A libpq URL for `database` (default: the configured one) that `psql` accepts.
    public func url(database: String? = nil) -> String {
        let name = database ?? configuration.database
        return "postgresql://\(Self.percentEncode(configuration.user))@/\(Self.percentEncode(name))"
            + "?host=\(Self.percentEncode(socketDirectory.path))&port=\(configuration.port)"
    }

    // MARK: - State

    public func status() -> State {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) else {
            return .notInitialized
        }
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let contents = try? String(contentsOf: pidFile, encoding: .utf8) else { return .stopped }
        guard let firstLine = contents.split(separator: "\n").first, let pid = Int32(firstLine.trimmingCharacters(in: .whitespaces)), pid > 0 else {
            return .stale(pid: 0)
        }
        return isServerProcess(pid) ? .running(pid: pid) : .stale(pid: pid)
    }

    /// Whether `pid` is alive and is a PostgreSQL server for this data folder.
    private func isServerProcess(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
            return true  // no /proc: trust the live pid
        }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let program = arguments.first, program.hasSuffix("postgres") || program.hasSuffix("postmaster") else { return false }
        let realData = dataDirectory.resolvingSymlinksInPath().path
        return arguments.contains { $0 == dataDirectory.path || $0 == realData }
    }

    // MARK: - Start and stop

    /// Creates the cluster if needed, starts it if it is not running, and makes sure the
    /// configured database exists.
    ///
    /// - Returns: `true` when this call started the server (the caller may stop it later).
    @discardableResult
    public func start() throws -> Bool {
        let binaries = try PostgresBinaries.locate()
        let started = try withLock {
            try prepareFolders()
            if status() == .notInitialized { try initialize(binaries) }
            try writeSettings()
            switch status() {
            case .running:
                return false
            case .stale(let pid):
                try recoverFromStalePidFile(pid)
            case .stopped, .notInitialized:
                break
            }
            logger.notice("starting the embedded PostgreSQL", metadata: ["data": "\(dataDirectory.path)"])
            let outcome = try runAsServerUser(binaries.pgCtl, [
                "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "120", "-s", "start",
            ])
            guard outcome.status == 0 else {
                throw PostgresError(.cluster, "the embedded PostgreSQL did not start: \(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines))\n\(logTail())")
            }
            return true
        }
        try createDatabaseIfMissing(configuration.database)
        return started
    }

    /// Stops the server if it runs (fast shutdown: sessions are ended, no data lost).
    ///
    /// - Returns: `false` when it was not running.
    @discardableResult
    public func stop(immediate: Bool = false) throws -> Bool {
        guard case .running = status() else { return false }
        let binaries = try PostgresBinaries.locate()
        return try withLock {
            guard case .running = status() else { return false }
            let outcome = try runAsServerUser(binaries.pgCtl, [
                "-D", dataDirectory.path, "-m", immediate ? "immediate" : "fast", "-w", "-t", "120", "-s", "stop",
            ])
            guard outcome.status == 0 else {
                throw PostgresError(.cluster, "the embedded PostgreSQL did not stop: \(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            return true
        }
    }

    /// Creates `name` unless it exists (safe when two processes race).
    public func createDatabaseIfMissing(_ name: String) throws {
        let connection = try Connection(conninfo: url(database: "postgres"))
        let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)")
        guard exists.isEmpty else { return }
        do {
            try connection.execute("CREATE DATABASE \(identifier: name) ENCODING 'UTF8' TEMPLATE template0")
        } catch let error as PostgresError where error.sqlState == "42P04" || error.sqlState == "23505" {
            // Another process created it first.
        }
    }

    // MARK: - Internals

    /// After a crash (or `kill -9`) the pid file outlives its server, and the dead
    /// postmaster may linger as a zombie that PostgreSQL's own check takes for alive.
    /// Once no process of the old server is left (they all run in the data folder),
    /// its pid file and socket lock are removed so the server can start and recover.
    private func recoverFromStalePidFile(_ pid: Int32) throws {
        let deadline = ContinuousClock.now + .seconds(15)
        var survivors = processesInDataDirectory()
        while !survivors.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw PostgresError(.cluster, "processes of a crashed PostgreSQL still run in \(dataDirectory.path) (pids \(survivors.map(String.init).joined(separator: ", "))): stop them, then start again")
            }
            usleep(100_000)
            survivors = processesInDataDirectory()
        }
        logger.warning("recovering from a stale postmaster.pid", metadata: ["pid": "\(pid)"])
        try? FileManager.default.removeItem(at: dataDirectory.appendingPathComponent("postmaster.pid"))
        try? FileManager.default.removeItem(at: socketDirectory.appendingPathComponent(".s.PGSQL.\(configuration.port).lock"))
    }

    /// Live processes whose working folder is the data folder: PostgreSQL's server processes.
    private func processesInDataDirectory() -> [Int32] {
        let target = dataDirectory.resolvingSymlinksInPath().path
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd") else { return false }
            return cwd == target
        }
    }

    private func prepareFolders() throws {
        let fileManager = FileManager.default
        let home = configuration.home.path
        let socketPath = socketDirectory.appendingPathComponent(".s.PGSQL.\(configuration.port)").path
        guard socketPath.utf8.count < 108 else {
            throw PostgresError(.cluster, "the socket path \(socketPath) is \(socketPath.utf8.count) bytes, over the 107 that unix sockets allow: choose a shorter SQUAD_HOME")
        }
        do {
            try fileManager.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            for directory in [dataDirectory.path, socketDirectory.path] where !fileManager.fileExists(atPath: directory) {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw PostgresError(.cluster, "cannot create \(home): \(error.localizedDescription)")
        }
        guard let serverUser = configuration.serverUser, serverUser != currentUserName() else { return }
        guard let account = getpwnam(serverUser) else {
            throw PostgresError(.cluster, "PostgreSQL refuses to run as root and there is no '\(serverUser)' user to run it: install the server (apt-get install postgresql), which creates that user, or run coach as an ordinary user")
        }
        let uid = account.pointee.pw_uid
        let gid = account.pointee.pw_gid
        // The server user must be able to pass through home to its own folders.
        var info = stat()
        if stat(home, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o001 == 0 {
            chmod(home, (info.st_mode & 0o7777) | 0o001)
        }
        for directory in [dataDirectory.path, socketDirectory.path] {
            try chownRecursively(directory, uid: uid, gid: gid)
        }
        let probe = try Subprocess.run(try Self.runuserPath(), ["-u", serverUser, "--", "test", "-w", socketDirectory.path])
        guard probe.status == 0 else {
            throw PostgresError(.cluster, "the '\(serverUser)' user that runs PostgreSQL cannot reach \(socketDirectory.path): a folder above it is closed to other users; set SQUAD_HOME to a folder such as /var/lib/squadsync")
        }
    }

    private func initialize(_ binaries: PostgresBinaries) throws {
        logger.notice("creating the embedded PostgreSQL cluster", metadata: ["data": "\(dataDirectory.path)"])
        let outcome = try runAsServerUser(binaries.initdb, [
            "-D", dataDirectory.path, "-U", configuration.user, "-E", "UTF8", "--locale=C",
            "--auth=trust", "--no-instructions",
        ])
        guard outcome.status == 0 else {
            throw PostgresError(.cluster, "initdb failed: \(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let conf = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: conf)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n# Settings managed by Squadsync, rewritten at every start.\ninclude_if_exists = 'squadsync.conf'\n".utf8))
    }

    /// Rewrites `squadsync.conf` so the socket follows `home` if it moved.
    private func writeSettings() throws {
        func quoted(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }
        var lines = [
            "listen_addresses = ''",
            "port = \(configuration.port)",
            "unix_socket_directories = \(quoted(socketDirectory.path))",
            "unix_socket_permissions = 0700",
        ]
        if configuration.durable {
            // Autovacuum at a fifth of its default pace (cost delay 2 ms -> 10 ms): inserts alone
            // trigger it, and at full pace one pass over a busy table took a third of a core
            // for seconds, which on a small server already busy with pushes queued requests for
            // seconds (coach bench push: p99 over 100 ms). Migration 0016 sets the same on the
            // push tables, for servers that are not embedded.
            //
            // Shared buffers: a quarter of the memory, at least PostgreSQL's default 128 MB and
            // at most 1 GB (a squad's whole history fits). With the default, a server taking
            // pushes evicts dirty pages into the kernel's cache all the time; the kernel writes
            // them back in bursts, and a commit's WAL flush waited behind one for 100-300 ms
            // (the slow-statement log during coach bench push: every backend's COMMIT at once,
            // in 3 of 4 runs; none in 4 runs with 1 GB). ALTER SYSTEM still overrides both.
            lines += ["max_connections = 100", "autovacuum_vacuum_cost_delay = 10ms", "shared_buffers = \(Self.sharedBuffersMegabytes())MB"]
        } else {
            // Throwaway test clusters: many tests at once, each with pools of its own.
            lines += ["max_connections = 300", "fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        }
        let path = dataDirectory.appendingPathComponent("squadsync.conf").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        if let serverUser = configuration.serverUser, serverUser != currentUserName(), let account = getpwnam(serverUser) {
            chown(path, account.pointee.pw_uid, account.pointee.pw_gid)
        }
    }

    /// The embedded server's shared buffers in MB: a quarter of `memory`, within 128...1024.
    public static func sharedBuffersMegabytes(memory: UInt64 = ProcessInfo.processInfo.physicalMemory) -> Int {
        Int(min(1024, max(128, memory / 4 / 1_048_576)))
    }

    private func runAsServerUser(_ executable: String, _ arguments: [String]) throws -> Subprocess.Outcome {
        if let serverUser = configuration.serverUser, serverUser != currentUserName() {
            return try Subprocess.run(try Self.runuserPath(), ["-u", serverUser, "--", executable] + arguments)
        }
        return try Subprocess.run(executable, arguments)
    }

    private func withLock<Result>(_ body: () throws -> Result) throws -> Result {
        try FileManager.default.createDirectory(at: configuration.home, withIntermediateDirectories: true)
        let lockPath = configuration.home.appendingPathComponent("cluster.lock").path
        let descriptor = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw PostgresError(.cluster, "cannot open the lock file \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw PostgresError(.cluster, "cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    private func logTail(lines: Int = 15) -> String {
        guard let text = try? String(contentsOf: logFile, encoding: .utf8) else { return "(no server log at \(logFile.path))" }
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
        return "last lines of \(logFile.path):\n\(tail)"
    }

    private func currentUserName() -> String? {
        guard let account = getpwuid(geteuid()) else { return nil }
        return String(cString: account.pointee.pw_name)
    }

    private func chownRecursively(_ path: String, uid: uid_t, gid: gid_t) throws {
        guard chown(path, uid, gid) == 0 else {
            throw PostgresError(.cluster, "cannot give \(path) to the server user: \(String(cString: strerror(errno)))")
        }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return }
        for case let relative as String in enumerator {
            lchown("\(path)/\(relative)", uid, gid)
        }
    }

    static func runuserPath() throws -> String {
        for candidate in ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw PostgresError(.cluster, "running as root needs runuser to start PostgreSQL as another user: install util-linux")
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}

/// The PostgreSQL server programs this machine has.
public struct PostgresBinaries: Sendable {
    public var initdb: String
    public var pgCtl: String

    /// Looks on PATH, then in Debian's `/usr/lib/postgresql/<version>/bin` (newest first).
    public static func locate() throws -> PostgresBinaries {
        if let initdb = Subprocess.which("initdb"), let pgCtl = Subprocess.which("pg_ctl") {
            return PostgresBinaries(initdb: initdb, pgCtl: pgCtl)
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { Int($0) }
            .sorted(by: >)
        for version in versions {
            let bin = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: "\(bin)/initdb"), FileManager.default.isExecutableFile(atPath: "\(bin)/pg_ctl") {
                return PostgresBinaries(initdb: "\(bin)/initdb", pgCtl: "\(bin)/pg_ctl")
            }
        }
        throw PostgresError(
            .cluster,
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed: looked on PATH and in \(root)/*/bin",
            hint: "Install them with: sudo apt-get install postgresql (or pass --database-url to use an existing server)")
    }
}
