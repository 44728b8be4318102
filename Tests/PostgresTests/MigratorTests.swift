import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Migrations")
struct MigratorTests {
    func folder(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, sql) in files {
            try sql.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return url
    }

    let first = "CREATE TABLE a (id int8 PRIMARY KEY);"
    let second = "CREATE TABLE b (id int8 REFERENCES a); INSERT INTO a VALUES (1);"

    @Test("loads numbered files in order, ignores others, refuses duplicate numbers")
    func loading() throws {
        let url = try folder(["0002_b.sql": second, "0001_a.sql": first, "openapi.yaml": "x", "notes.sql": "--"])
        #expect(try Migration.load(from: url).map(\.name) == ["0001_a", "0002_b"])
        try "SELECT 1;".write(to: url.appendingPathComponent("0002_again.sql"), atomically: true, encoding: .utf8)
        #expect(throws: PostgresError.self) { try Migration.load(from: url) }
    }

    @Test("applies pending migrations once, in order, and lists their state")
    func appliesInOrder() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        let migrator = Migrator(migrations: try Migration.load(from: try folder(["0001_a.sql": first, "0002_b.sql": second])))
        #expect(try migrator.pending(on: connection) == ["0001_a", "0002_b"])
        var seen: [String] = []
        #expect(try migrator.migrate(on: connection) { seen.append($0.name) } == ["0001_a", "0002_b"])
        #expect(seen == ["0001_a", "0002_b"])
        #expect(try migrator.migrate(on: connection).isEmpty)
        #expect(try migrator.status(on: connection).map(\.state) == [.applied, .applied])
        #expect(try connection.query("SELECT count(*) FROM a")[0].decode(Int.self, at: 0) == 1)
    }

    @Test("a failing migration is rolled back whole; earlier ones stay")
    func failingMigration() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        let broken = "CREATE TABLE c (id int8); SELECT no_such_function();"
        let migrator = Migrator(migrations: try Migration.load(from: try folder(["0001_a.sql": first, "0002_c.sql": broken])))
        let error = #expect(throws: PostgresError.self) { try migrator.migrate(on: connection) }
        #expect(error?.message.contains("0002_c") == true)
        #expect(try migrator.status(on: connection).map(\.state) == [.applied, .pending])
        #expect(try connection.query("SELECT to_regclass('c') IS NULL")[0].decode(Bool.self, at: 0))
    }

    @Test("an applied file whose content changed is refused by name")
    func checksumDrift() throws {
        let connection = try TestDatabase.make(migrated: false).connect()
        let url = try folder(["0001_a.sql": first])
        try Migrator(migrations: try Migration.load(from: url)).migrate(on: connection)
        try (first + "\n-- edited").write(to: url.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try second.write(to: url.appendingPathComponent("0002_b.sql"), atomically: true, encoding: .utf8)
        let edited = Migrator(migrations: try Migration.load(from: url))
        let error = #expect(throws: PostgresError.self) { try edited.migrate(on: connection) }
        #expect(error?.kind == .migration)
        #expect(error?.message.contains("0001_a.sql") == true)
        #expect(try edited.status(on: connection).map(\.state) == [.changed, .pending])
        #expect(try connection.query("SELECT to_regclass('b') IS NULL")[0].decode(Bool.self, at: 0))
    }

    @Test("two migrators at once apply each migration exactly once")
    func concurrentMigrators() async throws {
        let database = try TestDatabase.make(migrated: false)
        let slow = "CREATE TABLE slow (id int8); SELECT pg_sleep(0.3); INSERT INTO slow VALUES (1);"
        let url = try folder(["0001_a.sql": first, "0002_slow.sql": slow, "0003_b.sql": second])
        let migrator = Migrator(migrations: try Migration.load(from: url))
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await Task.detached { try migrator.migrate(on: try database.connect()) }.value
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.flatMap { $0 }.sorted() == ["0001_a", "0002_slow", "0003_b"])
        let connection = try database.connect()
        #expect(try connection.query("SELECT count(*) FROM slow")[0].decode(Int.self, at: 0) == 1)
        #expect(try connection.query("SELECT count(*) FROM schema_migrations")[0].decode(Int.self, at: 0) == 3)
    }

    @Test("the project's own Schema/ applies cleanly to an empty database")
    func projectSchema() throws {
        let connection = try TestDatabase.make(migrated: true).connect()
        let tables = try connection.query("""
            SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1
            """).map { try $0.decode(String.self, at: 0) }
        for table in ["athletes", "athlete_squads", "coach_squads", "coaches", "devices", "schema_migrations", "squads"] {
            #expect(tables.contains(table))
        }
    }
}
