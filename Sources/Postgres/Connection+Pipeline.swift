internal import CLibPQ
import Foundation

extension Connection {
    /// Runs several statements in one round trip (libpq's pipeline mode) and returns their
    /// results in order.
    ///
    /// The statements run one after another as if sent one by one, but the server gets
    /// them all before answering: a push sends its reads, and then its writes, this way
    /// instead of waiting for each (on this machine a round trip costs more CPU than most
    /// of its statements). Use it for statements that do not depend on each other's
    /// results. When one fails, the ones after it are skipped and its error is thrown;
    /// inside a transaction that fails the transaction, as a single statement would.
    /// Outside one, PostgreSQL runs the whole pipeline as one implicit transaction.
    public func pipeline(_ statements: [SQL]) throws -> [QueryResult] {
        // Held-back statements (a transaction's BEGIN) go first; their results are dropped.
        let held = deferred
        deferred = []
        let statements = held + statements
        guard statements.count > 1 else { return try statements.map { try query($0) } }
        return Array(try send(statements).dropFirst(held.count))
    }

    private func send(_ statements: [SQL]) throws -> [QueryResult] {
        let texts = try statements.map { try renderChecked($0) }
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError(sql: texts.first) }
        defer { PQexitPipelineMode(handle) }
        // Sent without blocking, reading whatever the server answers meanwhile, so a large
        // statement cannot deadlock against the results of an earlier one.
        guard PQsetnonblocking(handle, 1) == 0 else { throw connectionError(sql: texts.first) }
        // Per statement: its cache key, its prepared name, and whether a Parse goes first.
        var plans: [(key: StatementCache.Key?, name: String?, prepares: Bool)] = []
        plans.reserveCapacity(statements.count)
        do {
            for (sql, text) in zip(statements, texts) {
                let key = statementKey(sql, text: text)
                var plan = (key: key, name: key.flatMap { statementCache.name(for: $0) }, prepares: false)
                if let key, plan.name == nil, let fresh = statementCache.newName(for: key) {
                    let parsed = key.types.withUnsafeBufferPointer { types in
                        PQsendPrepare(handle, fresh, text, Int32(types.count), types.baseAddress)
                    }
                    guard parsed == 1 else { throw connectionError(sql: text) }
                    plan = (key, fresh, true)
                }
                plans.append(plan)
                let sent = withParameters(of: sql) { count, types, values, lengths, formats in
                    if let name = plan.name {
                        PQsendQueryPrepared(handle, name, count, values, lengths, formats, 0)
                    } else {
                        PQsendQueryParams(handle, text, count, types, values, lengths, formats, 0)
                    }
                }
                guard sent == 1 else { throw connectionError(sql: text) }
                try flushPipeline(sql: text)
            }
            guard PQpipelineSync(handle) == 1 else { throw connectionError(sql: nil) }
            try flushPipeline(sql: nil)
        } catch {
            PQsetnonblocking(handle, 0)
            throw error
        }
        PQsetnonblocking(handle, 0)

        var results: [QueryResult] = []
        results.reserveCapacity(statements.count)
        var failure: PostgresError?
        for (text, plan) in zip(texts, plans) {
            if plan.prepares, let key = plan.key, let name = plan.name {
                // The Parse's answer comes first; only an accepted one is recorded.
                guard let parsed = PQgetResult(handle) else { throw connectionError(sql: text) }
                switch PQresultStatus(parsed) {
                case PGRES_COMMAND_OK: statementCache.prepared(key, as: name)
                case PGRES_PIPELINE_ABORTED: break
                default: if failure == nil { failure = serverError(parsed, sql: text) }
                }
                PQclear(parsed)
                while let extra = PQgetResult(handle) { PQclear(extra) }
            }
            guard let result = PQgetResult(handle) else { throw connectionError(sql: text) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                results.append(Self.collect(result))
            case PGRES_PIPELINE_ABORTED:
                break
            default:
                let error = serverError(result, sql: text)
                if let key = plan.key, plan.name != nil { statementCache.forget(after: error, key: key) }
                if failure == nil { failure = error }
            }
            PQclear(result)
            // Each statement's results end with a null result.
            while let extra = PQgetResult(handle) { PQclear(extra) }
        }
        // The sync point closes the pipeline.
        guard let sync = PQgetResult(handle) else { throw failure ?? connectionError(sql: nil) }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        if let failure { throw failure }
        guard synced else { throw PostgresError(.connection, "the pipeline did not end at its sync point") }
        return results
    }

    /// Writes out what libpq holds, reading the server's answers whenever it must wait.
    private func flushPipeline(sql: String?) throws {
        while true {
            let state = PQflush(handle)
            if state == 0 { return }
            guard state > 0 else { throw connectionError(sql: sql) }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN | POLLOUT), revents: 0)
            guard poll(&descriptor, 1, -1) >= 0 || errno == EINTR else { throw connectionError(sql: sql) }
            if descriptor.revents & Int16(POLLIN) != 0 {
                guard PQconsumeInput(handle) == 1 else { throw connectionError(sql: sql) }
            }
        }
    }
}
