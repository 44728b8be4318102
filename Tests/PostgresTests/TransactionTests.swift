import Foundation
import Postgres
import Testing
import TestSupport

struct Boom: Error {}

@Suite("Transactions, savepoints and COPY")
struct TransactionTests {
    @Test("a transaction commits when its closure returns and rolls back when it throws")
    func rollbackOnThrow() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE runs (km int8)")
        try connection.transaction { try $0.execute("INSERT INTO runs VALUES (\(5))") }
        #expect(throws: Boom.self) {
            try connection.transaction { connection in
                try connection.execute("INSERT INTO runs VALUES (\(10))")
                throw Boom()
            }
        }
        #expect(connection.isIdle)
        let kilometres = try connection.query("SELECT km FROM runs").map { try $0.decode(Int.self, at: 0) }
        #expect(kilometres == [5])
    }

    @Test("a server error inside a transaction rolls it all back")
    func serverErrorRollsBack() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE runs (km int8 CHECK (km >= 0))")
        #expect(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.execute("INSERT INTO runs VALUES (\(5))")
                try connection.execute("INSERT INTO runs VALUES (\(-1))")
            }
        }
        #expect(try connection.query("SELECT count(*) FROM runs")[0].decode(Int.self, at: 0) == 0)
    }

    @Test("statements held for the next one go out with the COMMIT, in order, and one that fails rolls the whole transaction back")
    func heldUntilCommit() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE runs (km int8 CHECK (km >= 0))")
        // Held with a deferred BEGIN as well (a scoped transaction): all in the COMMIT's round trip.
        try connection.transaction(prelude: ["SELECT set_config('application_name', 'held', true)"]) { connection in
            connection.sendWithNextStatement(["INSERT INTO runs VALUES (\(1))", "UPDATE runs SET km = km + 1"])
        }
        #expect(try connection.query("SELECT km FROM runs")[0].decode(Int.self, at: 0) == 2)
        // A statement run after holding sends the held ones first, so it sees their effect.
        let seen = try connection.transaction { connection in
            connection.sendWithNextStatement(["INSERT INTO runs VALUES (\(5))"])
            return try connection.query("SELECT count(*) FROM runs")[0].decode(Int.self, at: 0)
        }
        #expect(seen == 2)
        #expect(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.execute("INSERT INTO runs VALUES (\(7))")
                connection.sendWithNextStatement(["INSERT INTO runs VALUES (\(8))", "INSERT INTO runs VALUES (\(-1))", "INSERT INTO runs VALUES (\(9))"])
            }
        }
        #expect(connection.isIdle, "rolled back, nothing left held")
        let kilometres = try connection.query("SELECT km FROM runs ORDER BY km").map { try $0.decode(Int.self, at: 0) }
        #expect(kilometres == [2, 5])
    }

    @Test("a failed savepoint is undone while the rest of the transaction commits")
    func savepointRollback() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE ops (id int8 PRIMARY KEY)")
        var rejected: [Int] = []
        try connection.transaction { connection in
            for id in [1, 2, 2, 3, -1, 4] {
                do {
                    try connection.savepoint { connection in
                        try connection.execute("INSERT INTO ops VALUES (\(id))")
                        if id < 0 { throw Boom() }
                    }
                } catch {
                    rejected.append(id)
                }
            }
            // Nested savepoints roll back independently.
            try connection.savepoint { connection in
                try connection.execute("INSERT INTO ops VALUES (\(10))")
                #expect(throws: PostgresError.self) {
                    try connection.savepoint { try $0.execute("INSERT INTO ops VALUES (\(10))") }
                }
            }
        }
        #expect(rejected == [2, -1])
        let ids = try connection.query("SELECT id FROM ops ORDER BY id").map { try $0.decode(Int.self, at: 0) }
        #expect(ids == [1, 2, 3, 4, 10])
    }

    @Test("COPY loads UTF-8, quotes, tabs, newlines, backslashes and NULLs exactly")
    func copyText() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE notes (id int8, body text, doc jsonb, at timestamptz)")
        let bodies: [String?] = [
            "plain", "quote ' and \"double\"", "tab\there", "line\nbreak\r\n", "back\\slash \\N", "ünïcödé 🏃‍♀️ 走る", "", nil,
        ]
        let when = Date(timeIntervalSince1970: 1_700_000_000)
        let loaded = try connection.copy(into: "notes", columns: ["id", "body", "doc", "at"]) { writer in
            for (index, body) in bodies.enumerated() {
                try writer.append(index, body, PostgresJSON(["text": body ?? "-"]), when)
            }
        }
        #expect(loaded == bodies.count)
        let rows = try connection.query("SELECT body, doc->>'text', at FROM notes ORDER BY id")
        #expect(try rows.map { try $0.decode(String?.self, at: 0) } == bodies)
        #expect(try rows.map { try $0.decode(String.self, at: 1) } == bodies.map { $0 ?? "-" })
        #expect(try rows[0].decode(Date.self, at: 2) == when)
    }

    @Test("a failing COPY loads nothing and leaves the connection usable")
    func copyFailure() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE counts (n int8 NOT NULL)")
        #expect(throws: PostgresError.self) {
            try connection.copy(into: "counts", columns: ["n"]) { writer in
                try writer.append(1)
                try writer.append(nil as Int?)
            }
        }
        #expect(throws: Boom.self) {
            try connection.copy(into: "counts", columns: ["n"]) { writer in
                try writer.append(1)
                throw Boom()
            }
        }
        #expect(throws: PostgresError.self) {
            try connection.copy(into: "counts", columns: ["n"]) { writer in
                try writer.append("1\u{0}")
            }
        }
        #expect(try connection.query("SELECT count(*) FROM counts")[0].decode(Int.self, at: 0) == 0)
        let many = try connection.copy(into: "counts", columns: ["n"]) { writer in
            for n in 0..<50_000 { try writer.append(n) }
        }
        #expect(many == 50_000)
        #expect(try connection.query("SELECT sum(n) FROM counts")[0].decode(Int.self, at: 0) == 49_999 * 50_000 / 2)
    }
}
