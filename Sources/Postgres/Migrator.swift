import Foundation

/// Applies numbered migrations in order, each in its own transaction, under an
/// advisory lock, recording name and SHA-256 checksum in `schema_migrations`.
///
/// The lock is transaction-scoped (`pg_advisory_xact_lock`), so two migrators
/// run safely side by side, also through PgBouncer in transaction mode: the
/// second waits, then finds the work done. An applied file whose content
/// changed is refused, naming the file.
public struct Migrator: Sendable {
    /// The state of one migration in a database.
    public struct Status: Sendable, Equatable {
        public enum State: String, Sendable {
            /// Applied with the same content as the file.
            case applied
            /// Not applied yet.
            case pending
            /// Applied, but the file has changed since.
            case changed
            /// Recorded in the database, but no file has that name (the binary is older).
            case unknown
        }
        public var name: String
        public var state: State
        public var appliedAt: Date?
    }

    /// Advisory lock key: "SQUADMIG" read as a 64-bit integer.
    static let lockKey: Int64 = 0x5351_5541_444D_4947

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Lists every migration with its state, in order, then any unknown ones.
    public func status(on connection: Connection) throws -> [Status] {
        try connection.transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
            try Self.ensureTable(on: connection)
            let applied = try Self.applied(on: connection)
            let checksums = try checksumsOfFiles(on: connection)
            var result: [Status] = migrations.map { migration in
                guard let record = applied[migration.name] else {
                    return Status(name: migration.name, state: .pending, appliedAt: nil)
                }
                let state: Status.State = record.checksum == checksums[migration.name] ? .applied : .changed
                return Status(name: migration.name, state: state, appliedAt: record.appliedAt)
            }
            let known = Set(migrations.map(\.name))
            for (name, record) in applied.sorted(by: { $0.key < $1.key }) where !known.contains(name) {
                result.append(Status(name: name, state: .unknown, appliedAt: record.appliedAt))
            }
            return result
        }
    }

    /// Applies the pending migrations in order and returns the names applied.
    ///
    /// - Parameter progress: called before each migration runs.
    /// - Throws: `PostgresError` of kind `.migration` naming a changed file, or the
    ///   server's error for a failing script (that migration is rolled back;
    ///   earlier ones stay applied).
    @discardableResult
    public func migrate(on connection: Connection, progress: (Migration) -> Void = { _ in }) throws -> [String] {
        var appliedNow: [String] = []
        for migration in migrations {
            let didApply = try connection.transaction { connection -> Bool in
                try connection.execute("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
                try Self.ensureTable(on: connection)
                let applied = try Self.applied(on: connection)
                try verifyChecksums(applied, on: connection)
                guard applied[migration.name] == nil else { return false }
                progress(migration)
                let started = ContinuousClock.now
                do {
                    try connection.executeScript(migration.sql)
                } catch var error as PostgresError {
                    error.message = "migration \(migration.name) failed: \(error.message)"
                    throw error
                }
                let elapsed = ContinuousClock.now - started
                let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                try connection.execute("""
                    INSERT INTO schema_migrations (name, checksum, duration_ms)
                    VALUES (\(migration.name), encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex'), \(milliseconds))
                    """)
                return true
            }
            if didApply { appliedNow.append(migration.name) }
        }
        // Checked also when nothing was pending: a changed file must not pass silently.
        try connection.transaction { connection in
            try verifyChecksums(try Self.applied(on: connection), on: connection)
        }
        return appliedNow
    }

    /// Names of migrations not yet applied (empty when the database is current).
    public func pending(on connection: Connection) throws -> [String] {
        try status(on: connection).filter { $0.state == .pending }.map(\.name)
    }

    // MARK: - Internals

    struct Record {
        var checksum: String
        var appliedAt: Date
    }

    static func ensureTable(on connection: Connection) throws {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if try exists[0].decode(Bool.self, at: 0) { return }
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                duration_ms integer NOT NULL DEFAULT 0
            )
            """)
    }

    static func applied(on connection: Connection) throws -> [String: Record] {
        var records: [String: Record] = [:]
        for row in try connection.query("SELECT name, checksum, applied_at FROM schema_migrations") {
            let (name, checksum, appliedAt) = try row.decode((String, String, Date).self)
            records[name] = Record(checksum: checksum, appliedAt: appliedAt)
        }
        return records
    }

    /// SHA-256 of each file's text, computed by the server (the same function that
    /// recorded it), so no hashing library is needed on this side.
    func checksumsOfFiles(on connection: Connection) throws -> [String: String] {
        let names = migrations.map(\.name)
        let scripts = migrations.map(\.sql)
        let rows = try connection.query("""
            SELECT name, encode(sha256(convert_to(script, 'UTF8')), 'hex')
            FROM unnest(\(names)::text[], \(scripts)::text[]) AS files(name, script)
            """)
        var checksums: [String: String] = [:]
        for row in rows {
            let (name, checksum) = try row.decode((String, String).self)
            checksums[name] = checksum
        }
        return checksums
    }

    func verifyChecksums(_ applied: [String: Record], on connection: Connection) throws {
        let checksums = try checksumsOfFiles(on: connection)
        for migration in migrations {
            if let record = applied[migration.name], record.checksum != checksums[migration.name] {
                throw PostgresError(
                    .migration,
                    "migration \(migration.name).sql was changed after it was applied (checksum \(record.checksum.prefix(12)) in the database, \(checksums[migration.name]?.prefix(12) ?? "?") on disk)",
                    hint: "Applied migrations are never edited: restore the file and put the change in a new numbered migration.")
            }
        }
    }
}
