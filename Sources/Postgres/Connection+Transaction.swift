extension Connection {
    /// Isolation levels for `transaction(isolation:_:)`.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// BEGIN and the `prelude` statements (settings, say) are held back and sent with the
    /// body's first statement, in one round trip.
    ///
    /// The closure is synchronous on purpose: nothing may suspend while a
    /// transaction holds locks.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel = .readCommitted, prelude: [SQL] = [], _ body: (Connection) throws -> Result
    ) throws -> Result {
        let begin = SQL(unsafeText: "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        let value: Result
        do {
            if prelude.isEmpty { try execute(begin) } else { deferred = [begin] + prelude }
            value = try body(self)
            try sendDeferred()
        } catch {
            deferred = []
            if isInTransaction { _ = try? execute("ROLLBACK") }
            throw error
        }
        try execute("COMMIT")
        return value
    }

    /// Runs `body` under a savepoint inside the current transaction: released
    /// when it returns, rolled back to (leaving the transaction usable) when it throws.
    @discardableResult
    public func savepoint<Result>(_ body: (Connection) throws -> Result) throws -> Result {
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let name = "squad_sp_\(savepointDepth)"
        try execute(SQL(unsafeText: "SAVEPOINT \(name)"))
        let value: Result
        do {
            value = try body(self)
        } catch {
            if isInTransaction {
                try execute(SQL(unsafeText: "ROLLBACK TO SAVEPOINT \(name)"))
                try execute(SQL(unsafeText: "RELEASE SAVEPOINT \(name)"))
            }
            throw error
        }
        try execute(SQL(unsafeText: "RELEASE SAVEPOINT \(name)"))
        return value
    }
}
