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
/// - Outages: after a failed connect, new connections are not tried again until a
///   backoff has passed (doubling from 100 ms to `maximumBackoff`, with jitter), and
///   then by one caller at a time; the others fail at once with a `.connection`
///   error instead of piling onto a server that is down or restarting.
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
        /// Seconds to wait for the server when connecting (`connect_timeout`); nil: libpq's default.
        public var connectTimeout: Int?
        /// Server settings for every connection, e.g. `statement_timeout` (see `Connection.init`).
        public var settings: [(name: String, value: String)]
        /// The wait after the first failed connect, doubled after each further one (default 100 ms).
        public var initialBackoff: Duration
        /// The longest wait between reconnection attempts during an outage (default 2 s).
        public var maximumBackoff: Duration
        /// Statements each connection keeps prepared (`StatementCache`; default 0: none).
        public var statementCacheCapacity: Int

        public init(
            conninfo: String, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10), applicationName: String = "squadsync",
            connectTimeout: Int? = nil, settings: [(name: String, value: String)] = [],
            initialBackoff: Duration = .milliseconds(100), maximumBackoff: Duration = .seconds(2), statementCacheCapacity: Int = 0
        ) {
            self.conninfo = conninfo
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.applicationName = applicationName
            self.connectTimeout = connectTimeout
            self.settings = settings
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.statementCacheCapacity = statementCacheCapacity
        }
    }

    /// Whether the pool believes the server is reachable.
    public enum Reachability: Sendable, Equatable {
        /// The last connection attempt succeeded (or none failed yet).
        case reachable
        /// Connecting failed `failures` times in a row; the next attempt waits for the backoff.
        case unreachable(failures: Int, retryIn: Duration)
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
        /// A connect attempt while the server is believed down: its outcome ends or extends the backoff.
        case probe
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
        /// Consecutive failed connects; 0 when the server is reachable.
        var failures = 0
        var retryAt: ContinuousClock.Instant?
        var probing = false
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
        let logger = self.logger
        let outcome: (Swift.Result<Result, any Error>, Connection?)
        do {
            outcome = try await threads.runIfActive {
                let connection: Connection
                switch grant {
                case .idle(let pooled) where pooled.isHealthy:
                    connection = pooled
                case .idle, .create, .probe:
                    if case .idle = grant { logger.notice("replacing a broken pooled connection") }
                    do {
                        connection = try self.connect()
                    } catch {
                        self.connectFailed()
                        throw error
                    }
                    self.connected()
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

    /// Whether the last connection attempt succeeded, and when the next one may be made.
    public var reachability: Reachability {
        state.withLock { state in
            guard state.failures > 0 else { return .reachable }
            let remaining = state.retryAt.map { $0 - ContinuousClock.now } ?? .zero
            return .unreachable(failures: state.failures, retryIn: max(.zero, remaining))
        }
    }

    // MARK: - Connecting and backoff

    private func connect() throws -> Connection {
        try Connection(
            conninfo: configuration.conninfo, applicationName: configuration.applicationName,
            connectTimeout: configuration.connectTimeout, settings: configuration.settings,
            statementCacheCapacity: configuration.statementCacheCapacity)
    }

    /// The wait before the attempt after `failures` failed ones: `initial` doubling up to
    /// `maximum`, then a random 50-100 % of it so that several daemons do not retry in step.
    public static func backoff(afterFailures failures: Int, initial: Duration = .milliseconds(100), maximum: Duration) -> Duration {
        let exponent = min(max(failures - 1, 0), 16)
        let full = min(initial * (1 << exponent), maximum)
        return full * Double.random(in: 0.5...1.0)
    }

    private func connectFailed() {
        let (initial, maximum) = (configuration.initialBackoff, configuration.maximumBackoff)
        let (failures, wait) = state.withLock { state -> (Int, Duration) in
            state.failures += 1
            state.probing = false
            let wait = Self.backoff(afterFailures: state.failures, initial: initial, maximum: maximum)
            state.retryAt = ContinuousClock.now + wait
            return (state.failures, wait)
        }
        if failures == 1 || failures.isMultiple(of: 10) {
            logger.warning("cannot reach the database; retrying with backoff", metadata: [
                "failures": "\(failures)", "retry_in_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)",
            ])
        }
    }

    private func connected() {
        let recovered = state.withLock { state -> Int in
            let failures = state.failures
            state.failures = 0
            state.retryAt = nil
            state.probing = false
            return failures
        }
        if recovered > 0 {
            logger.notice("the database is reachable again", metadata: ["failed_attempts": "\(recovered)"])
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
                        if state.failures > 0 {
                            // The server was down at the last attempt: one probe at a time, after the backoff.
                            if state.probing || (state.retryAt.map { ContinuousClock.now < $0 } ?? false) {
                                return .fail(Self.unreachableError(state))
                            }
                            state.probing = true
                            state.open += 1
                            state.inUse += 1
                            return .grant(.probe)
                        }
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

    private static func unreachableError(_ state: State) -> PostgresError {
        PostgresError(.connection, "the database is unreachable (\(state.failures) failed connection attempt\(state.failures == 1 ? "" : "s")); retrying with backoff")
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

    /// Returns a connection (or `nil` when it was dropped) and wakes the first waiter;
    /// while the server is unreachable, a dropped connection fails the waiters instead
    /// of making them wait out their acquire timeout.
    private func release(_ connection: Connection?) {
        let maxConnections = configuration.maxConnections
        enum Action { case none, grant(Waiter, Grant), fail([Waiter], PostgresError) }
        let action = state.withLock { state -> Action in
            state.inUse -= 1
            if let connection, !state.closed {
                if !state.waiters.isEmpty {
                    state.inUse += 1
                    return .grant(state.waiters.removeFirst(), .idle(connection))
                }
                state.idle.append(connection)
                return .none
            }
            state.open -= 1
            guard !state.closed, !state.waiters.isEmpty, state.open < maxConnections else { return .none }
            if state.failures > 0 {
                let waiters = state.waiters
                state.waiters = []
                return .fail(waiters, Self.unreachableError(state))
            }
            state.open += 1
            state.inUse += 1
            return .grant(state.waiters.removeFirst(), .create)
        }
        switch action {
        case .none:
            return
        case .grant(let waiter, let grant):
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: grant)
        case .fail(let waiters, let error):
            for waiter in waiters {
                waiter.timeout?.cancel()
                waiter.continuation.resume(throwing: error)
            }
        }
    }
}
