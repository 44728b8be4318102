import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Parameters and decoding against a real server")
struct ValueCodingTests {
    @Test("every supported type round-trips, and NULL decodes only into optionals")
    func roundTripsEveryType() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("""
            CREATE TABLE everything (
                i int8, i4 int4, d float8, b bool, s text, u uuid, t timestamptz, bytes bytea,
                ints int8[], texts text[], uuids uuid[], doc jsonb)
            """)
        let uuid = UUID()
        let when = Date(timeIntervalSince1970: 1_780_000_000.123456)
        let bytes = Data([0, 1, 2, 0xff, 0, 0x5c])
        struct Doc: Codable, Sendable, Equatable { var name: String; var laps: [Int] }
        let doc = Doc(name: "long \"run\"", laps: [1, 2])
        try connection.execute("""
            INSERT INTO everything VALUES (\(Int.max), \(Int32.min), \(-0.25), \(true), \("héllo ✓"), \(uuid), \(when), \(bytes),
                \([1, -2, 3]), \(["a,b", "c\"d", "e\\f", "NULL", ""]), \([uuid]), \(PostgresJSON(doc)))
            """)
        try connection.execute("INSERT INTO everything DEFAULT VALUES")
        let rows = try connection.query("SELECT * FROM everything ORDER BY i NULLS LAST")
        #expect(rows.count == 2)
        let row = rows[0]
        #expect(try row.decode(Int.self, column: "i") == Int.max)
        #expect(try row.decode(Int32.self, column: "i4") == Int32.min)
        #expect(try row.decode(Double.self, column: "d") == -0.25)
        #expect(try row.decode(Bool.self, column: "b") == true)
        #expect(try row.decode(String.self, column: "s") == "héllo ✓")
        #expect(try row.decode(UUID.self, column: "u") == uuid)
        let decodedDate = try row.decode(Date.self, column: "t")
        #expect(abs(decodedDate.timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_002)
        #expect(try row.decode(Data.self, column: "bytes") == bytes)
        #expect(try row.decode([Int].self, column: "ints") == [1, -2, 3])
        #expect(try row.decode([String].self, column: "texts") == ["a,b", "c\"d", "e\\f", "NULL", ""])
        #expect(try row.decode([UUID].self, column: "uuids") == [uuid])
        #expect(try row.decode(PostgresJSON<Doc>.self, column: "doc").value == doc)

        let empty = rows[1]
        for column in ["i", "i4", "d", "b", "s", "u", "t", "bytes", "ints", "texts", "uuids", "doc"] {
            #expect(empty.text(at: rows.columns.firstIndex(of: column)!) == nil)
        }
        #expect(try empty.decode(Int?.self, column: "i") == nil)
        #expect(try empty.decode(Int32?.self, column: "i4") == nil)
        #expect(try empty.decode(Double?.self, column: "d") == nil)
        #expect(try empty.decode(Bool?.self, column: "b") == nil)
        #expect(try empty.decode(String?.self, column: "s") == nil)
        #expect(try empty.decode(UUID?.self, column: "u") == nil)
        #expect(try empty.decode(Date?.self, column: "t") == nil)
        #expect(try empty.decode(Data?.self, column: "bytes") == nil)
        #expect(try empty.decode([Int]?.self, column: "ints") == nil)
        #expect(try empty.decode(PostgresJSON<Doc>?.self, column: "doc") == nil)
        let error = #expect(throws: PostgresError.self) { try empty.decode(Int.self, column: "i") }
        #expect(error?.kind == .decoding)
        #expect(error?.message.contains("\"i\"") == true)
    }

    @Test("NULL parameters bind as NULL of their type, and arrays may hold NULLs")
    func nullParameters() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        let none: Int? = nil
        let row = try connection.query("SELECT \(none) IS NULL, \(none)::int8 IS NULL, \([1, nil, 3] as [Int?])::int8[]")[0]
        #expect(try row.decode(Bool.self, at: 0))
        #expect(try row.decode(Bool.self, at: 1))
        #expect(try row.decode([Int?].self, at: 2) == [1, nil, 3])
        #expect(throws: PostgresError.self) { try row.decode([Int].self, at: 2) }
    }

    @Test("arrays bound in binary read back as their text literals would")
    func binaryArrays() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        let ids = [UUID(), UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))]
        let times: [Date?] = [Date(timeIntervalSince1970: 1_780_000_000.123456), nil, Date(timeIntervalSince1970: -1_000.5),
                              Date(timeIntervalSince1970: 946_684_800)]
        let texts = ["a,b", "c\"d", "e\\f", "NULL", "", "héllo ✓", "{x}"]
        let flags = [true, false]
        let counts: [Int?] = [Int.min, -1, 0, nil, Int.max]
        let doubles = [-0.25, Double.infinity, 1e300]
        #expect(ids.postgresParameter.binary != nil, "uuids go in binary")
        #expect(times.postgresParameter.binary != nil && texts.postgresParameter.binary != nil)
        let row = try connection.query("""
            SELECT \(ids)::text, \(times)::timestamptz[] = \(value: times.postgresValue)::timestamptz[], \(texts), \(flags), \(counts),
                   \(doubles), cardinality(\([UUID]())), \([String]()) = '{}'::text[], \(times)::text
            """)[0]
        #expect(try row.decode(String.self, at: 0) == "{" + ids.map(\.postgresText).joined(separator: ",") + "}")
        #expect(try row.decode(Bool.self, at: 1), "binary and text timestamps agree")
        #expect(try row.decode([String].self, at: 2) == texts)
        #expect(try row.decode([Bool].self, at: 3) == flags)
        #expect(try row.decode([Int?].self, at: 4) == counts)
        #expect(try row.decode([Double].self, at: 5) == doubles)
        #expect(try row.decode(Int.self, at: 6) == 0)
        #expect(try row.decode(Bool.self, at: 7))
        #expect(try row.decode(String.self, at: 8).contains("NULL"))
        let nul = #expect(throws: PostgresError.self) { try connection.query("SELECT \(["fine", "nul\u{0}"])") }
        #expect(nul?.kind == .encoding)
    }

    @Test("SQL injection attempts are stored as plain values", arguments: [
        "'; DROP TABLE victims; --",
        "x' OR '1'='1",
        "$1",
        "\\'; SELECT pg_sleep(10); --",
        "Robert'); DELETE FROM victims WHERE ('1'='1",
    ])
    func injectionIsInert(attempt: String) throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE victims (name text)")
        try connection.execute("INSERT INTO victims VALUES ('kept')")
        try connection.execute("INSERT INTO victims VALUES (\(attempt))")
        let matches = try connection.query("SELECT count(*) FROM victims WHERE name = \(attempt)")[0].decode(Int.self, at: 0)
        #expect(matches == 1)
        let total = try connection.query("SELECT count(*) FROM victims")[0].decode(Int.self, at: 0)
        #expect(total == 2)
    }

    @Test("a NUL byte in text is refused before anything runs; in bytea it is kept")
    func nulBytes() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE notes (body text, raw bytea)")
        let error = #expect(throws: PostgresError.self) {
            try connection.execute("INSERT INTO notes (body) VALUES (\("before\u{0}after"))")
        }
        #expect(error?.kind == .encoding)
        #expect(error?.message.contains("$1") == true)
        #expect(try connection.query("SELECT count(*) FROM notes")[0].decode(Int.self, at: 0) == 0)
        let inArray = #expect(throws: PostgresError.self) {
            try connection.execute("INSERT INTO notes (body) SELECT unnest(\(["fine", "bad\u{0}"])::text[])")
        }
        #expect(inArray?.kind == .encoding)
        #expect(try connection.query("SELECT count(*) FROM notes")[0].decode(Int.self, at: 0) == 0)
        let raw = Data("before\u{0}after".utf8)
        try connection.execute("INSERT INTO notes (raw) VALUES (\(raw))")
        #expect(try connection.query("SELECT raw FROM notes")[0].decode(Data.self, at: 0) == raw)
    }

    @Test("identifiers are quoted, fragments keep their parameters when composed")
    func composition() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        let table = "odd \"name\""
        try connection.execute("CREATE TABLE \(identifier: table) (n int8)")
        try connection.execute("INSERT INTO \(identifier: table) SELECT generate_series(1, 10)")
        let low: SQL = "n >= \(3)"
        let high: SQL = "n <= \(5)"
        let rows = try connection.query("SELECT n FROM \(identifier: table) WHERE \(low) AND \(high) AND n <> \(4) ORDER BY n")
        #expect(try rows.map { try $0.decode(Int.self, at: 0) } == [3, 5])
        let tuple = try connection.query("SELECT 7::int8, 'seven', true")[0].decode((Int, String, Bool).self)
        #expect(tuple == (7, "seven", true))
    }

    @Test("server errors carry SQLSTATE, detail and the placeholder SQL, never the values")
    func serverErrors() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        try connection.execute("CREATE TABLE tokens (secret text PRIMARY KEY)")
        try connection.execute("INSERT INTO tokens VALUES (\("s3cret-token"))")
        let error = #expect(throws: PostgresError.self) {
            try connection.execute("INSERT INTO tokens VALUES (\("s3cret-token"))")
        }
        #expect(error?.isUniqueViolation == true)
        #expect(error?.sqlState == "23505")
        #expect(error?.constraint == "tokens_pkey")
        #expect(error?.sql == "INSERT INTO tokens VALUES ($1)")
        #expect(error?.message.contains("s3cret-token") == false)
        // The connection stays usable after a statement error.
        #expect(try connection.query("SELECT 1::int8")[0].decode(Int.self, at: 0) == 1)
    }

    @Test("bad URLs and unreachable servers give errors that name what is wrong")
    func connectionErrors() throws {
        let malformed = #expect(throws: PostgresError.self) { try Connection(conninfo: "postgres://user@host/db?no_such_option=1") }
        #expect(malformed?.kind == .invalidConnectionString)
        #expect(malformed?.message.contains("no_such_option") == true)
        let badPort = #expect(throws: PostgresError.self) { try Connection(conninfo: "postgres://user@127.0.0.1:notaport/db") }
        #expect(badPort?.message.contains("port") == true)
        let unknownKey = #expect(throws: PostgresError.self) { try Connection(conninfo: "hots=localhost") }
        #expect(unknownKey?.kind == .invalidConnectionString)
        #expect(unknownKey?.message.contains("hots") == true)
        let refused = #expect(throws: PostgresError.self) { try Connection(conninfo: "postgres://nobody@127.0.0.1:1/nowhere?connect_timeout=3") }
        #expect(refused?.kind == .connection)
        #expect(refused?.message.contains("127.0.0.1") == true)
        #expect(refused?.message.contains("port 1") == true)
        let handle = try TestDatabase.make(migrated: false)
        let missing = try ConnectionString.replacingDatabase(in: handle.url, with: "no_such_database")
        let noDatabase = #expect(throws: PostgresError.self) { try Connection(conninfo: missing) }
        #expect(noDatabase?.message.contains("no_such_database") == true)
    }
}
