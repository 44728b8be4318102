import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Prepared statement cache")
struct StatementCacheTests {
    /// A connection to a fresh database that keeps up to `capacity` statements prepared.
    static func connect(capacity: Int) throws -> Connection {
        let database = try TestDatabase.make(migrated: false)
        return try Connection(conninfo: database.url, statementCacheCapacity: capacity)
    }

    @Test("a statement run again is parsed once per session and answers as before")
    func reused() throws {
        let connection = try Self.connect(capacity: 8)
        var sums: [Int] = []
        for value in 1...4 {
            sums.append(try connection.query("SELECT \(value)::int8 + 1")[0].decode(Int.self, at: 0))
        }
        #expect(sums == [2, 3, 4, 5])
        #expect(connection.preparedStatementCount == 1)
        // The server holds it too (the listing itself becomes the second statement).
        let names = try connection.query("SELECT name FROM pg_prepared_statements WHERE NOT from_sql ORDER BY name").map { try $0.decode(String.self, at: 0) }
        #expect(names.count == 2)
        #expect(names.allSatisfy { $0.hasPrefix("squad_s") })
    }

    @Test("the same text with other parameter types is another statement")
    func keyedByTypes() throws {
        let connection = try Self.connect(capacity: 8)
        #expect(try connection.query("SELECT \(41 as Int) + 1")[0].decode(Int.self, at: 0) == 42)
        #expect(try connection.query("SELECT \(41.5 as Double) + 1")[0].decode(Double.self, at: 0) == 42.5)
        #expect(connection.preparedStatementCount == 2)
    }

    @Test("capacity 0 prepares nothing; a full cache sends further statements unnamed")
    func capacity() throws {
        let none = try Self.connect(capacity: 0)
        for value in 1...3 { _ = try none.query("SELECT \(value)::int8") }
        #expect(none.preparedStatementCount == 0)
        #expect(try none.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(Int.self, at: 0) == 0)

        let small = try Self.connect(capacity: 2)
        var products: [Int] = []
        for n in 1...4 {
            products.append(try small.query(SQL(unsafeText: "SELECT \(n)::int8 * 10")).first!.decode(Int.self, at: 0))
        }
        #expect(products == [10, 20, 30, 40])
        #expect(small.preparedStatementCount == 2)
        #expect(try small.query("SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql").first!.decode(Int.self, at: 0) == 2)
    }

    @Test("only queries and DML are prepared: BEGIN, SAVEPOINT, SET and COPY go unnamed")
    func preparable() throws {
        let connection = try Self.connect(capacity: 8)
        try connection.execute("CREATE TABLE runs (km int8)")
        try connection.transaction { connection in
            try connection.execute("SET LOCAL work_mem = '8MB'")
            try connection.savepoint { try $0.execute("INSERT INTO runs VALUES (\(5))") }
            try connection.execute("  with x AS (SELECT 1) SELECT * FROM x")
        }
        #expect(connection.preparedStatementCount == 2)  // the INSERT and the WITH
    }

    @Test("in a pipeline a failed statement records nothing, the skipped ones neither, and both run later")
    func pipelineFailure() throws {
        let connection = try Self.connect(capacity: 8)
        try connection.execute("CREATE TABLE runs (km int8 CHECK (km >= 0))")
        let before = connection.preparedStatementCount
        #expect(throws: PostgresError.self) {
            try connection.transaction { connection in
                _ = try connection.pipeline([
                    "INSERT INTO runs VALUES (\(5))",
                    "SELECT km FROM no_such_table",
                    "INSERT INTO runs SELECT km + \(1) FROM runs",
                ])
            }
        }
        // The first INSERT's Parse succeeded (prepared statements outlive the rollback); the
        // bad one failed and the last was skipped.
        #expect(connection.preparedStatementCount == before + 1)
        try connection.transaction { connection in
            _ = try connection.pipeline([
                "INSERT INTO runs VALUES (\(5))",
                "INSERT INTO runs SELECT km + \(1) FROM runs",
            ])
        }
        #expect(connection.preparedStatementCount == before + 2)
        #expect(try connection.query("SELECT sum(km) FROM runs")[0].decode(Int.self, at: 0) == 11)
    }

    @Test("a statement prepared in a rolled-back transaction stays usable")
    func survivesRollback() throws {
        let connection = try Self.connect(capacity: 8)
        try connection.execute("CREATE TABLE runs (km int8)")
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { connection in
                try connection.execute("INSERT INTO runs VALUES (\(3))")
                throw Abort()
            }
        }
        try connection.execute("INSERT INTO runs VALUES (\(4))")
        #expect(try connection.query("SELECT sum(km) FROM runs")[0].decode(Int.self, at: 0) == 4)
    }

    @Test("after a migration changes a table, or DISCARD ALL, one call fails and the next prepares afresh")
    func recovers() throws {
        let connection = try Self.connect(capacity: 8)
        try connection.execute("CREATE TABLE runs (km int8)")
        try connection.execute("INSERT INTO runs VALUES (\(7))")
        #expect(try connection.query("SELECT * FROM runs WHERE km > \(0)").columns == ["km"])
        try connection.executeScript("ALTER TABLE runs ADD COLUMN note text DEFAULT 'easy'")
        let changed = #expect(throws: PostgresError.self) { try connection.query("SELECT * FROM runs WHERE km > \(0)") }
        #expect(changed?.sqlState == "0A000")
        #expect(try connection.query("SELECT * FROM runs WHERE km > \(0)")[0].decode(String.self, at: 1) == "easy")

        try connection.executeScript("DISCARD ALL")
        let gone = #expect(throws: PostgresError.self) { try connection.query("SELECT * FROM runs WHERE km > \(0)") }
        #expect(gone?.sqlState == "26000")
        #expect(connection.preparedStatementCount == 0)
        #expect(try connection.query("SELECT * FROM runs WHERE km > \(0)")[0].decode(Int.self, at: 0) == 7)
        #expect(connection.preparedStatementCount == 1)
    }
}
