import Postgres

/// Whose rows a transaction of the daemon may touch (migration 0013's policies): the
/// daemon's sessions run as `squadsync_app`, which sees no athlete's rows without one.
public enum DatabaseScope: Sendable, Equatable {
    /// A device's athlete: the sync endpoints.
    case athlete(Int64)
    /// A coach: the athletes of the coach's squads.
    case coach(Int64)

    /// Names the scope for the rest of the transaction (`set_config(..., true)`, the
    /// function form of SET LOCAL, which takes parameters).
    public func apply(on connection: Connection) throws {
        try connection.execute(statement)
    }

    /// The statement that names the scope.
    public var statement: SQL {
        switch self {
        case .athlete(let id):
            "SELECT set_config('squadsync.athlete_id', \(String(id)), true), set_config('squadsync.coach_id', '', true)"
        case .coach(let id):
            "SELECT set_config('squadsync.coach_id', \(String(id)), true), set_config('squadsync.athlete_id', '', true)"
        }
    }
}

extension ConnectionPool {
    /// A transaction with `scope` set before `body` runs (sent with BEGIN, one round trip).
    public func withTransaction<Result: Sendable>(
        scope: DatabaseScope, isolation: Connection.IsolationLevel = .readCommitted, _ body: @escaping @Sendable (Connection) throws -> Result
    ) async throws -> Result {
        let prelude = scope.statement
        return try await withConnection { connection in
            try connection.transaction(isolation: isolation, prelude: [prelude], body)
        }
    }
}
