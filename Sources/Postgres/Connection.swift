internal import CLibPQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection. Every call blocks until the server answers.
///
/// Threading: a `Connection` is used by one thread at a time. The pool hands
/// each to a single lease, which runs on an `NIOThreadPool` thread; that is
/// the invariant behind `@unchecked Sendable`. The C handle never leaves
/// this type and its extensions in this module, and is closed in `deinit`.
public final class Connection: @unchecked Sendable {
    let handle: OpaquePointer  // internal: the extensions of this module use it, never callers
    var savepointDepth = 0
    /// Statements held back to go out with the next one (a transaction's BEGIN and settings).
    var deferred: [SQL] = []
    /// The named prepared statements of this session (`StatementCache`).
    var statementCache: StatementCache

    /// How many statements this session has prepared (for tests and diagnostics).
    public var preparedStatementCount: Int { statementCache.count }

    /// Connects by URL (`postgres://user@host:5432/db`, `postgres:///db?host=/socket/dir`)
    /// or key-value conninfo (`host=/tmp dbname=squad`), parsed by libpq itself.
    ///
    /// - Throws: `PostgresError` of kind `.invalidConnectionString` when libpq cannot
    ///   parse it, `.connection` naming host, port, database and user when connecting fails.
    /// - Parameters:
    ///   - connectTimeout: seconds libpq waits for the server per host (`connect_timeout`);
    ///     nil leaves libpq's default (wait indefinitely) unless the URL sets one.
    ///   - settings: server settings sent at start-up (`options=-c name=value`), e.g.
    ///     `statement_timeout`; a URL that sets `options` itself wins.
    ///   - statementCacheCapacity: how many statements to keep prepared on this session
    ///     (`StatementCache`); 0 sends every statement unnamed.
    public init(
        conninfo: String, applicationName: String = "squadsync",
        connectTimeout: Int? = nil, settings: [(name: String, value: String)] = [], statementCacheCapacity: Int = 0
    ) throws {
        try Self.validate(conninfo: conninfo)
        // Keys before dbname are defaults the URL may override; expand_dbname = 1:
        // the dbname is parsed as a URL or conninfo, and its keys replace earlier ones.
        var keys: [String] = []
        var values: [String] = []
        if let connectTimeout {
            keys.append("connect_timeout")
            values.append(String(connectTimeout))
        }
        if !settings.isEmpty {
            keys.append("options")
            values.append(settings.map { "-c \($0.name)=\($0.value)" }.joined(separator: " "))
        }
        keys += ["dbname", "fallback_application_name", "client_encoding"]
        values += [conninfo, applicationName, "UTF8"]
        let conn = withCStringArray(keys) { keyPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let conn else { throw PostgresError(.connection, "libpq could not allocate a connection") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let reason = Self.trimmedMessage(PQerrorMessage(conn))
            let target = Self.describeTarget(conn)
            PQfinish(conn)
            throw PostgresError(.connection, "cannot connect to PostgreSQL (\(target)): \(reason)")
        }
        // libpq's default notice processor writes server notices (and a FATAL read while
        // idle, e.g. when the server shuts down) to standard error, bypassing the logs and
        // their format. Errors reach callers through results; notices are dropped.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        handle = conn
        statementCache = StatementCache(capacity: statementCacheCapacity)
    }

    deinit {
        PQfinish(handle)
    }

    /// Checks a connection string with libpq's parser, without connecting.
    public static func validate(conninfo: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            let reason = errorMessage.map { trimmedMessage($0) } ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(.invalidConnectionString, "invalid database URL or conninfo: \(reason)")
        }
        PQconninfoFree(options)
    }

    /// The server process id serving this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// False once the connection is broken: checked without blocking, so a
    /// backend terminated while idle in the pool is noticed before reuse.
    public var isHealthy: Bool {
        guard PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) != PQTRANS_UNKNOWN else { return false }
        // An idle connection has nothing to read. Input waiting here is a FATAL
        // (e.g. pg_terminate_backend) followed by EOF, or an unsolicited message
        // this code never asks for (it does not LISTEN): either way, replace it.
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { return false }
        return poll(&descriptor, 1, 0) == 0
    }

    /// True when no transaction is open or failed on this connection.
    public var isIdle: Bool { PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// True inside a transaction block (open or failed).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    public func query(_ sql: SQL) throws -> QueryResult {
        if !deferred.isEmpty { return try pipeline([sql])[0] }
        let result = try run(sql)
        defer { PQclear(result) }
        return Self.collect(result)
    }

    /// Runs one statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL) throws -> Int {
        if !deferred.isEmpty { return try pipeline([sql])[0].affectedRows }
        let result = try run(sql)
        defer { PQclear(result) }
        return Self.affectedRows(result)
    }

    /// Sends the held-back statements, if any, on their own.
    func sendDeferred() throws {
        guard !deferred.isEmpty else { return }
        _ = try pipeline([])
    }

    /// Runs a trusted script of several statements with the simple query protocol
    /// (no parameters). Only migrations and setup use this.
    public func executeScript(_ script: String) throws {
        try sendDeferred()
        guard let result = PQexec(handle, script) else { throw connectionError(sql: nil) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            throw serverError(result, sql: nil)
        }
    }

    /// Quotes an identifier with `PQescapeIdentifier`.
    public func escapeIdentifier(_ name: String) -> String {
        let utf8Count = name.utf8.count
        guard let escaped = PQescapeIdentifier(handle, name, utf8Count) else {
            return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: - Internals

    /// Sends one statement; the caller clears the returned result.
    func run(_ sql: SQL) throws -> OpaquePointer {
        let text = try renderChecked(sql)
        let key = statementKey(sql, text: text)
        var name = key.flatMap { statementCache.name(for: $0) }
        if let key, name == nil, let fresh = statementCache.newName(for: key) {
            // The first run on this session prepares it: one extra round trip, once.
            try prepare(key, as: fresh)
            name = fresh
        }
        let result = withParameters(of: sql) { count, types, values, lengths, formats in
            if let name {
                PQexecPrepared(handle, name, count, values, lengths, formats, 0)
            } else {
                PQexecParams(handle, text, count, types, values, lengths, formats, 0)
            }
        }
        guard let result else { throw connectionError(sql: text) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN:
            return result
        default:
            let error = serverError(result, sql: text)
            PQclear(result)
            if let key, name != nil { statementCache.forget(after: error, key: key) }
            throw error
        }
    }

    /// The statement's cache key, or nil when this session prepares nothing.
    func statementKey(_ sql: SQL, text: String) -> StatementCache.Key? {
        guard statementCache.capacity > 0 else { return nil }
        return StatementCache.Key(text: text, types: sql.parameters.map { Oid($0.type.rawValue) })
    }

    /// Prepares `key` under `name` and records it once the server accepts it.
    private func prepare(_ key: StatementCache.Key, as name: String) throws {
        let result = key.types.withUnsafeBufferPointer { types in
            PQprepare(handle, name, key.text, Int32(types.count), types.baseAddress)
        }
        guard let result else { throw connectionError(sql: key.text) }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw serverError(result, sql: key.text) }
        statementCache.prepared(key, as: name)
    }

    /// The statement's text, after checking that every parameter can be sent.
    func renderChecked(_ sql: SQL) throws -> String {
        let text = sql.render(quotingIdentifiersWith: escapeIdentifier)
        for (index, parameter) in sql.parameters.enumerated() {
            if let problem = parameter.encodingError {
                throw PostgresError(.encoding, "parameter $\(index + 1) \(problem)", sql: text)
            }
        }
        return text
    }

    /// Calls `body` with the parameters laid out as libpq wants them (count, types, values,
    /// lengths, formats), valid for the call.
    func withParameters<Value>(
        of sql: SQL,
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> Value
    ) -> Value {
        let parameters = sql.parameters
        guard !parameters.isEmpty else { return body(0, nil, nil, nil, nil) }
        let types: [Oid] = parameters.map { Oid($0.type.rawValue) }
        // All values go into one buffer (text NUL-terminated, binary with its length) that
        // lives for the call.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(parameters.reduce(0) { $0 + ($1.binary?.count ?? $1.text?.utf8.count ?? 0) + 1 })
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        offsets.reserveCapacity(parameters.count)
        lengths.reserveCapacity(parameters.count)
        formats.reserveCapacity(parameters.count)
        for parameter in parameters {
            if let binary = parameter.binary {
                offsets.append(buffer.count)
                lengths.append(Int32(binary.count))
                formats.append(1)
                buffer.append(contentsOf: binary)
                continue
            }
            lengths.append(0)
            formats.append(0)
            guard let value = parameter.text else { offsets.append(nil); continue }
            offsets.append(buffer.count)
            buffer.append(contentsOf: value.utf8)
            buffer.append(0)
        }
        let anyBinary = formats.contains(1)
        return buffer.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { bytes in
                let pointers: [UnsafePointer<CChar>?] = offsets.map { offset -> UnsafePointer<CChar>? in
                    guard let offset, let base = bytes.baseAddress else { return nil }
                    return base + offset
                }
                return anyBinary ? body(Int32(parameters.count), types, pointers, lengths, formats) : body(Int32(parameters.count), types, pointers, nil, nil)
            }
        }
    }

    static func collect(_ result: OpaquePointer) -> QueryResult {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        var types: [PostgresType] = []
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
            types.append(PostgresType(rawValue: UInt32(PQftype(result, Int32(column)))))
        }
        var cells: [String?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                    let value = PQgetvalue(result, Int32(row), Int32(column))!
                    cells.append(value.withMemoryRebound(to: UInt8.self, capacity: length) {
                        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                    })
                }
            }
        }
        return QueryResult(columns: columns, columnTypes: types, cells: cells, affectedRows: affectedRows(result))
    }

    static func affectedRows(_ result: OpaquePointer) -> Int {
        let tuples = String(cString: PQcmdTuples(result))
        return Int(tuples) ?? Int(PQntuples(result))
    }

    func serverError(_ result: OpaquePointer, sql: String?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(squad_PG_DIAG_SQLSTATE)
        let message = field(squad_PG_DIAG_MESSAGE_PRIMARY)
            ?? Self.trimmedMessage(PQresultErrorMessage(result))
        let broken = PQstatus(handle) != CONNECTION_OK
        return PostgresError(
            broken && sqlState == nil ? .connection : .server,
            message.isEmpty ? Self.trimmedMessage(PQerrorMessage(handle)) : message,
            sqlState: sqlState,
            detail: field(squad_PG_DIAG_MESSAGE_DETAIL),
            hint: field(squad_PG_DIAG_MESSAGE_HINT),
            sql: sql,
            constraint: field(squad_PG_DIAG_CONSTRAINT_NAME)
        )
    }

    func connectionError(sql: String?) -> PostgresError {
        PostgresError(.connection, "lost the connection to PostgreSQL: \(Self.trimmedMessage(PQerrorMessage(handle)))", sql: sql)
    }

    static func trimmedMessage(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func describeTarget(_ conn: OpaquePointer) -> String {
        func read(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
            guard let pointer else { return nil }
            let value = String(cString: pointer)
            return value.isEmpty ? nil : value
        }
        let host = read(PQhost(conn)) ?? "default socket"
        let port = read(PQport(conn)) ?? "5432"
        let database = read(PQdb(conn)) ?? "?"
        let user = read(PQuser(conn)) ?? "?"
        return "host \(host), port \(port), database \(database), user \(user)"
    }

    // MARK: - COPY

    func putCopyData(_ bytes: [UInt8]) throws {
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(handle, $0, Int32(buffer.count))
            }
        }
        guard status == 1 else { throw connectionError(sql: "COPY") }
    }

    /// Ends a COPY and collects its outcome; `abort` makes the server fail it.
    func endCopy(abort reason: String?, sql: String) throws -> Int {
        let status = PQputCopyEnd(handle, reason)
        guard status == 1 else { throw connectionError(sql: sql) }
        var firstError: PostgresError?
        var rows = 0
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Self.affectedRows(result)
            } else if firstError == nil {
                firstError = serverError(result, sql: sql)
            }
        }
        if let firstError { throw firstError }
        return rows
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
private func withCStringArray<Result>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> Result) -> Result {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}
