import Foundation
import Postgres
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Embedded cluster", .serialized)
struct EmbeddedClusterTests {
    /// Durable (fsync on): a crash must not lose committed rows.
    func makeCluster() throws -> EmbeddedCluster {
        let home = URL(fileURLWithPath: "/tmp/sq-cluster-\(UUID().uuidString.prefix(8))")
        return EmbeddedCluster(configuration: .init(home: home, durable: true))
    }

    func count(_ cluster: EmbeddedCluster) throws -> Int {
        try Connection(conninfo: cluster.url()).query("SELECT count(*) FROM kept")[0].decode(Int.self, at: 0)
    }

    @Test("creates, starts, stops and restarts a cluster, keeping its data (as root: run by postgres)")
    func lifecycle() throws {
        let cluster = try makeCluster()
        defer {
            _ = try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(at: cluster.configuration.home)
        }
        #expect(cluster.status() == .notInitialized)
        #expect(try cluster.start() == true)
        guard case .running(let pid) = cluster.status() else {
            Issue.record("not running after start: \(cluster.status())")
            return
        }
        #expect(pid > 0)
        #expect(try cluster.start() == false, "a second start finds it running")
        if geteuid() == 0 {
            var info = stat()
            #expect(stat(cluster.dataDirectory.path, &info) == 0)
            #expect(info.st_uid == getpwnam("postgres").pointee.pw_uid, "the data folder belongs to postgres")
            let owner = try Connection(conninfo: cluster.url()).query("SELECT usename FROM pg_stat_activity WHERE backend_type = 'checkpointer' OR pid = pg_backend_pid()")
            #expect(!owner.isEmpty)
        }
        let connection = try Connection(conninfo: cluster.url())
        try connection.execute("CREATE TABLE kept (n int8)")
        try connection.execute("INSERT INTO kept VALUES (1), (2)")
        let encoding = try connection.query("SHOW server_encoding")[0].decode(String.self, at: 0)
        #expect(encoding == "UTF8")
        let listen = try connection.query("SHOW listen_addresses")[0].decode(String.self, at: 0)
        #expect(listen == "")
        let buffers = try connection.query("SELECT setting::int8 * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")[0].decode(Int.self, at: 0)
        #expect(buffers == EmbeddedCluster.sharedBuffersMegabytes(), "a durable cluster sizes its shared buffers from the memory")

        #expect(try cluster.stop() == true)
        #expect(cluster.status() == .stopped)
        #expect(try cluster.stop() == false)
        #expect(throws: PostgresError.self) { try Connection(conninfo: cluster.url()) }

        #expect(try cluster.start() == true)
        #expect(try count(cluster) == 2)
    }

    @Test("a crashed server (kill -9) and a stale pid file are recovered, not reported as running")
    func crashRecovery() throws {
        let cluster = try makeCluster()
        defer {
            _ = try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(at: cluster.configuration.home)
        }
        try cluster.start()
        let connection = try Connection(conninfo: cluster.url())
        try connection.execute("CREATE TABLE kept (n int8)")
        try connection.execute("INSERT INTO kept VALUES (1)")
        guard case .running(let pid) = cluster.status() else {
            Issue.record("not running")
            return
        }
        kill(pid, SIGKILL)
        for _ in 0..<50 where cluster.status() == .running(pid: pid) { usleep(50_000) }
        #expect(cluster.status() == .stale(pid: pid))
        #expect(try cluster.start() == true)
        #expect(try count(cluster) == 1)

        // A pid file naming a live process that is not PostgreSQL (pid 1) is stale too.
        try cluster.stop()
        try "1\n\(cluster.dataDirectory.path)\n".write(
            to: cluster.dataDirectory.appendingPathComponent("postmaster.pid"), atomically: true, encoding: .utf8)
        #expect(cluster.status() == .stale(pid: 1))
        #expect(try cluster.start() == true)
        #expect(try count(cluster) == 1)
    }

    @Test("shared buffers are a quarter of the memory, within PostgreSQL's default 128 MB and 1 GB")
    func sharedBuffers() {
        let mebibyte: UInt64 = 1_048_576
        #expect(EmbeddedCluster.sharedBuffersMegabytes(memory: 256 * mebibyte) == 128)
        #expect(EmbeddedCluster.sharedBuffersMegabytes(memory: 2048 * mebibyte) == 512)
        #expect(EmbeddedCluster.sharedBuffersMegabytes(memory: 24 * 1024 * mebibyte) == 1024)
    }

    @Test("the URL is one libpq and psql accept, with the socket folder percent-encoded")
    func urlShape() throws {
        let cluster = EmbeddedCluster(configuration: .init(home: URL(fileURLWithPath: "/tmp/a b"), database: "squad"))
        #expect(cluster.url() == "postgresql://squadsync@/squad?host=/tmp/a%20b/run&port=5432")
        let parsed = try ConnectionString.parse(cluster.url())
        #expect(parsed["host"] == "/tmp/a b/run")
        #expect(parsed["dbname"] == "squad")
    }
}
