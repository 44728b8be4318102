import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A bounded pool of libpq connections whose blocking calls run on an `NIOThreadPool`.
///
/// - Threading: `withConnection` suspends the caller while its closure runs on one
///   of the pool's own threads, never on the cooperative pool or an event loop.
/// - Lifetime: connections open lazily up to `maxConnections`; a broken one is
///   dropped and replaced on the next checkout; `close()` ends them all.
/// - Waiting: when all are in use, callers queue in order and fail with
///   `PostgresError.Kind.poolTimeout` after `acquireTimeout`.
public final class ConnectionPool: Sendable {
    /// How to reach the database and how many connections to keep.
    public struct Configuration: Sendable {
        /// A libpq URL or conninfo string. Never logged: it may hold a password.
        public var conninfo: String
        /// Upper bound on open connections (default 10).
        public var maxConnections: Int
        /// How long a caller waits for a free connection (default 10 s).
        public var acquireTimeout: Duration
        /// Reported to the server as `application_name` unless the URL sets one.
        public var applicationName: String

        public init(conninfo: String, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10), applicationName: String = "squadsync") {
            self.conninfo = conninfo
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.applicationName = applicationName
        }
    }

    /// Counts for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        public var open: Int
        public var idle: Int
        public var inUse: Int
        public var waiting: Int
    }

    private enum Grant: Sendable {
        case idle(Connection)
        case create
    }

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<Grant, any Error>
        var timeout: Scheduled<Void>?
    }

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var inUse = 0
        var waiters: [Waiter] = []
        var nextWaiterID = 0
        var closed = false
    }

    public let configuration: Configuration
    private let state = Mutex(State())
    private let threads: NIOThreadPool
    private let timers: any EventLoop
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "squadsync.postgres")) throws {
        try Connection.validate(conninfo: configuration.conninfo)
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: configuration.maxConnections)
        self.timers = MultiThreadedEventLoopGroup.singleton.any()
        threads.start()
    }

    public var statistics: Statistics {
        state.withLock { Statistics(open: $0.open, idle: $0.idle.count, inUse: $0.inUse, waiting: $0.waiters.count) }
    }

    /// Runs `body` with a connection of its own on a pool thread.
    ///
    /// A connection left inside a transaction is rolled back before reuse; a
    /// broken one is closed and not returned to the pool.
    @discardableResult
    public func withConnection<Result: Sendable>(_ body: @escaping @Sendable (Connection) throws -> Result) async throws -> Result {
        let grant = try await acquire()
        let conninfo = configuration.conninfo
        let applicationName = configuration.applicationName
        let logger = self.logger
        let outcome: (Swift.Result<Result, any Error>, Connection?)
        do {
            outcome = try await threads.runIfActive {
                let connection: Connection
                switch grant {
                case .idle(let pooled) where pooled.isHealthy:
                    connection = pooled
                case .idle:
                    logger.notice("replacing a broken pooled connection")
                    connection = try Connection(conninfo: conninfo, applicationName: applicationName)
                case .create:
                    connection = try Connection(conninfo: conninfo, applicationName: applicationName)
                }
                let result: Swift.Result<Result, any Error>
                do {
                    result = .success(try body(connection))
                } catch {
                    result = .failure(error)
                }
                if connection.isInTransaction, connection.isHealthy {
                    _ = try? connection.execute("ROLLBACK")
                }
                let reusable = connection.isHealthy && connection.isIdle
                return (result, reusable ? connection : nil)
            }
        } catch {
            release(nil)
            throw error
        }
        release(outcome.1)
        return try outcome.0.get()
    }

    /// Runs `body` in a transaction on a pooled connection (see `Connection.transaction`).
    @discardableResult
    public func withTransaction<Result: Sendable>(
        isolation: Connection.IsolationLevel = .readCommitted,
        _ body: @escaping @Sendable (Connection) throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in
            try connection.transaction(isolation: isolation, body)
        }
    }

    /// Fails waiting callers, closes idle connections and stops the pool's threads.
    /// Connections in use are closed when their callers finish.
    public func close() async {
        let (idle, waiters) = state.withLock { state -> ([Connection], [Waiter]) in
            state.closed = true
            let idle = state.idle
            let waiters = state.waiters
            state.open -= idle.count
            state.idle = []
            state.waiters = []
            return (idle, waiters)
        }
        for waiter in waiters {
            waiter.timeout?.cancel()
            waiter.continuation.resume(throwing: PostgresError(.poolClosed, "the database pool is shutting down"))
        }
        // PQfinish writes to the socket: close on a pool thread, not here.
        _ = try? await threads.runIfActive { [idle] in _ = idle.count }
        try? await threads.shutdownGracefully()
    }

    // MARK: - Acquire and release

    private func acquire() async throws -> Grant {
        let maxConnections = configuration.maxConnections
        let waiterID = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                enum Decision { case grant(Grant), fail(any Error), wait }
                let decision = state.withLock { state -> Decision in
                    if state.closed { return .fail(PostgresError(.poolClosed, "the database pool is closed")) }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    if let connection = state.idle.popLast() {
                        state.inUse += 1
                        return .grant(.idle(connection))
                    }
                    if state.open < maxConnections {
                        state.open += 1
                        state.inUse += 1
                        return .grant(.create)
                    }
                    state.waiters.append(Waiter(id: waiterID, continuation: continuation))
                    return .wait
                }
                switch decision {
                case .grant(let grant): continuation.resume(returning: grant)
                case .fail(let error): continuation.resume(throwing: error)
                case .wait: scheduleTimeout(for: waiterID)
                }
            }
        } onCancel: {
            fail(waiterID, with: CancellationError())
        }
    }

    private func scheduleTimeout(for waiterID: Int) {
        let timeout = configuration.acquireTimeout
        let size = configuration.maxConnections
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let scheduled = timers.scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
            fail(waiterID, with: PostgresError(
                .poolTimeout,
                "no database connection became free within \(timeout) (all \(size) in use); raise the pool size or look for slow queries"))
        }
        let stillWaiting = state.withLock { state -> Bool in
            guard let index = state.waiters.firstIndex(where: { $0.id == waiterID }) else { return false }
            state.waiters[index].timeout = scheduled
            return true
        }
        if !stillWaiting { scheduled.cancel() }
    }

    private func fail(_ waiterID: Int, with error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
            return state.waiters.remove(at: index)
        }
        guard let waiter else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(throwing: error)
    }

    /// Returns a connection (or `nil` when it was dropped) and wakes the first waiter.
    private func release(_ connection: Connection?) {
        let maxConnections = configuration.maxConnections
        let handoff = state.withLock { state -> (Waiter, Grant)? in
            state.inUse -= 1
            if let connection, !state.closed {
                if !state.waiters.isEmpty {
                    state.inUse += 1
                    return (state.waiters.removeFirst(), .idle(connection))
                }
                state.idle.append(connection)
                return nil
            }
            state.open -= 1
            if !state.closed, !state.waiters.isEmpty, state.open < maxConnections {
                state.open += 1
                state.inUse += 1
                return (state.waiters.removeFirst(), .create)
            }
            return nil
        }
        guard let (waiter, grant) = handoff else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(returning: grant)
    }
}
