/// An error from PostgreSQL, libpq or this wrapper, safe to log.
///
/// It carries the SQLSTATE and the server's message, detail and hint, and the
/// SQL with `$n` placeholders, but never the bound values: those may hold
/// tokens or athletes' data.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// Where the error arose.
    public enum Kind: String, Sendable {
        /// The connection string could not be parsed.
        case invalidConnectionString = "invalid_connection_string"
        /// Connecting failed, or an open connection broke.
        case connection
        /// The server answered a statement with an error (see `sqlState`).
        case server
        /// A value could not be turned into a parameter (e.g. a NUL byte in text).
        case encoding
        /// A column could not be decoded into the requested Swift type.
        case decoding
        /// No connection became free within the pool's acquire timeout.
        case poolTimeout = "pool_timeout"
        /// The pool was closed.
        case poolClosed = "pool_closed"
        /// A migration file or the migrations table is inconsistent.
        case migration
        /// The embedded cluster could not be set up, started or stopped.
        case cluster
    }

    public var kind: Kind
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The statement with placeholders, never with values.
    public var sql: String?
    /// The violated constraint's name, for integrity errors.
    public var constraint: String?

    public init(
        _ kind: Kind, _ message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, sql: String? = nil, constraint: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.sql = sql
        self.constraint = constraint
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "\nDETAIL: \(detail)" }
        if let hint, !hint.isEmpty { text += "\nHINT: \(hint)" }
        return text
    }

    /// True for errors after which the connection cannot be reused.
    public var isConnectionFailure: Bool {
        if kind == .connection { return true }
        guard let sqlState else { return false }
        // Class 08 (connection exception) and 57P01-57P03 (admin shutdown, crash, cannot connect now).
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    /// True for `unique_violation` (23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// True for errors a retry of the same transaction may cure:
    /// serialization failures, deadlocks and broken connections.
    public var isTransient: Bool {
        isConnectionFailure || sqlState == "40001" || sqlState == "40P01" || kind == .poolTimeout
    }
}
