extension Connection {
    /// Isolation levels for `transaction(isolation:_:)`.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// BEGIN and the `prelude` statements (settings, say) are held back and sent with the
    /// body's first statement, in one round trip; statements the body leaves held
    /// (`sendWithNextStatement`) go out with the COMMIT, in its round trip.
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
            // A held statement that fails skips the COMMIT behind it: the transaction is
            // then failed, and rolled back below. A COMMIT that fails has ended it already.
            try execute("COMMIT")
        } catch {
            deferred = []
            if isInTransaction { _ = try? execute("ROLLBACK") }
            throw error
        }
        return value
    }

    /// Holds `statements` back to go out ahead of this connection's next statement, in its
    /// round trip: at the end of a transaction, ahead of its COMMIT. For writes whose
    /// results nobody reads (they are dropped); an error in one is thrown by that next
    /// statement, and the statements after it in the round trip are skipped.
    public func sendWithNextStatement(_ statements: [SQL]) {
        deferred.append(contentsOf: statements)
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
