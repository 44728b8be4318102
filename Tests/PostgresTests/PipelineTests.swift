import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Pipelined statements")
struct PipelineTests {
    @Test("statements run in order in one round trip and answer in order")
    func inOrder() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE runs (id int8 PRIMARY KEY, km int8)")
        let results = try connection.transaction { connection in
            try connection.pipeline([
                "INSERT INTO runs VALUES (\(1), \(5)), (\(2), \(7))",
                "UPDATE runs SET km = km + \(1) WHERE id = \(2)",
                "SELECT id, km FROM runs ORDER BY id",
                "SELECT count(*) FROM runs WHERE km > \(6)",
            ])
        }
        #expect(results.count == 4)
        #expect(results[0].affectedRows == 2)
        #expect(results[1].affectedRows == 1)
        #expect(try results[2].map { try $0.decode((Int, Int).self) }.map { [$0.0, $0.1] } == [[1, 5], [2, 8]])
        #expect(try results[3][0].decode(Int.self, at: 0) == 1)
        #expect(connection.isIdle)
    }

    @Test("a failing statement throws its own error, the rest do not run, and the connection stays usable")
    func failure() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE runs (km int8 CHECK (km >= 0))")
        let error = #expect(throws: PostgresError.self) {
            try connection.transaction { connection in
                _ = try connection.pipeline([
                    "INSERT INTO runs VALUES (\(5))",
                    "INSERT INTO runs VALUES (\(-1))",
                    "INSERT INTO runs VALUES (\(9))",
                ])
            }
        }
        #expect(error?.sqlState == "23514")
        #expect(error?.sql?.contains("INSERT INTO runs") == true)
        #expect(connection.isIdle)
        #expect(try connection.query("SELECT count(*) FROM runs")[0].decode(Int.self, at: 0) == 0)
        // Outside a transaction the pipeline is one implicit transaction: none of it stays.
        #expect(throws: PostgresError.self) {
            _ = try connection.pipeline(["INSERT INTO runs VALUES (\(5))", "INSERT INTO runs VALUES (\(-1))", "INSERT INTO runs VALUES (\(9))"])
        }
        #expect(try connection.query("SELECT count(*) FROM runs")[0].decode(Int.self, at: 0) == 0)
        #expect(try connection.pipeline(["SELECT \(1)::int8", "SELECT \(2)::int8"]).map { try $0[0].decode(Int.self, at: 0) } == [1, 2])
    }

    @Test("a large result ahead of a large statement does not deadlock")
    func largeBothWays() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        // Each is far over a socket buffer: blocking sends would wait on a server that
        // waits for the client to read the first result.
        let big = String(repeating: "x", count: 6_000_000)
        let results = try connection.pipeline([
            "SELECT repeat('y', \(6_000_000)::int4)",
            "SELECT length(\(big))",
        ])
        #expect(try results[0][0].decode(String.self, at: 0).utf8.count == 6_000_000)
        #expect(try results[1][0].decode(Int.self, at: 0) == 6_000_000)
    }

    @Test("a parameter that cannot be sent is refused before anything runs")
    func encodingError() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE notes (text text)")
        #expect(throws: PostgresError.self) {
            _ = try connection.pipeline(["INSERT INTO notes VALUES (\("fine"))", "INSERT INTO notes VALUES (\("nul\u{0}byte"))"])
        }
        #expect(try connection.query("SELECT count(*) FROM notes")[0].decode(Int.self, at: 0) == 0)
    }

    @Test("a transaction's BEGIN and prelude go out with its first statement, and fail it when they fail")
    func prelude() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE runs (km int8)")
        let setting = try connection.transaction(prelude: ["SELECT set_config('squad.test', \("on"), true)"]) { connection in
            try connection.execute("INSERT INTO runs VALUES (\(5))")
            return try connection.query("SELECT current_setting('squad.test')")[0].decode(String.self, at: 0)
        }
        #expect(setting == "on")
        #expect(connection.isIdle)
        // The setting was local to that transaction.
        #expect(try connection.query("SELECT coalesce(current_setting('squad.test', true), '')")[0].decode(String.self, at: 0) == "")
        #expect(throws: PostgresError.self) {
            try connection.transaction(prelude: ["SELECT 1 / \(0)"]) { connection in
                try connection.execute("INSERT INTO runs VALUES (\(7))")
            }
        }
        #expect(connection.isIdle)
        // A body that runs nothing still commits its prelude's transaction.
        try connection.transaction(prelude: ["INSERT INTO runs VALUES (\(9))"]) { _ in }
        #expect(try connection.query("SELECT km FROM runs ORDER BY km").map { try $0.decode(Int.self, at: 0) } == [5, 9])
    }

    @Test("the statement timeout applies to each statement of a pipeline, not to the whole")
    func timeoutPerStatement() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("SET statement_timeout = '1500ms'")
        let results = try connection.transaction(prelude: ["SELECT pg_sleep(\(0.6))"]) { connection in
            try connection.pipeline(["SELECT pg_sleep(\(0.6))", "SELECT pg_sleep(\(0.6))", "SELECT \(1)::int8"])
        }
        #expect(try results[2][0].decode(Int.self, at: 0) == 1)
    }
}
