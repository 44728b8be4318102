import Foundation
import Logging
import Postgres
import Prometheus
import Synchronization

/// The daemon's Prometheus series, served at `GET /metrics`.
///
/// Counters and histograms are kept in process (requests, push ops); pool gauges are read
/// at scrape time; nightly and flag figures are read from the database at scrape time, so
/// they are right whichever process (cron, timer or `--nightly-at`) did the work, and
/// several daemons behind a load balancer report the same values.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The database counts already added to their counters, by series.
    private let seen = Mutex<[String: Int]>([:])

    /// Upper bounds of the latency buckets: 5 ms to 10 s.
    static let latencyBuckets: [Duration] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000].map { .milliseconds($0) }

    public init() {}

    /// Counts one answered request and records its latency under its route pattern
    /// (`/v1/athletes/{handle}/digest`, never the handle itself: bounded label values).
    public func requestFinished(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: .init(namespace: "squadsync", metricName: "http_requests", unitName: "total", helpText: "HTTP requests answered, by method, route and status"),
            labels: [("method", method), ("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(namespace: "squadsync", metricName: "http_request_duration", unitName: "seconds", helpText: "Time from request to response, by method and route"),
            labels: [("method", method), ("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// Counts the ops of one push by their result status (applied, duplicate, merged, conflict, rejected, skipped).
    public func pushOps(_ counts: [String: Int]) {
        for (status, count) in counts where count > 0 {
            registry.makeCounter(
                descriptor: .init(namespace: "squadsync", metricName: "push_ops", unitName: "total", helpText: "Sync ops pushed by devices, by result status"),
                labels: [("status", status)]
            ).increment(by: Int64(count))
        }
    }

    /// Counts requests answered 503 because the database could not be reached or used.
    public func databaseUnavailable() {
        registry.makeCounter(
            descriptor: .init(namespace: "squadsync", metricName: "db_unavailable_responses", unitName: "total", helpText: "Requests answered 503 because the database was unavailable"),
            labels: []
        ).increment()
    }

    /// The exposition text: in-process series, then the pool and database figures read now.
    public func render(pool: ConnectionPool, logger: Logger) async -> String {
        let statistics = pool.statistics
        gauge("db_pool_connections_in_use", "Database connections lent to a request or job").set(Double(statistics.inUse))
        gauge("db_pool_connections_idle", "Open database connections waiting in the pool").set(Double(statistics.idle))
        gauge("db_pool_waiting", "Callers waiting for a free database connection").set(Double(statistics.waiting))
        gauge("db_pool_connections_max", "The pool's size (--db-pool-size)").set(Double(pool.configuration.maxConnections))
        do {
            let figures = try await pool.withConnection { try Self.databaseFigures(on: $0) }
            gauge("db_up", "1 when the last scrape could query the database").set(1.0)
            if let last = figures.lastRun {
                gauge("nightly_last_run_duration", "Duration of the last nightly run", unit: "seconds").set(last.seconds)
                gauge("nightly_last_run_athletes", "Athletes processed by the last nightly run").set(Double(last.athletes))
                gauge("nightly_last_run_failed", "Athletes whose last nightly run failed").set(Double(last.failed))
                gauge("nightly_last_run_finished", "When the last nightly run finished (Unix time)", unit: "timestamp_seconds").set(last.finished)
            }
            counterFromDatabase("nightly_runs", "Nightly runs recorded in the database", labels: [], value: figures.runs)
            counterFromDatabase("nightly_athletes_processed", "Athlete-nights processed by all nightly runs", labels: [], value: figures.athletesProcessed)
            for (code, count) in figures.flagsByCode {
                counterFromDatabase("flags_raised", "Recovery flags raised by the nightly job, by code", labels: [("code", code)], value: count)
            }
        } catch {
            gauge("db_up", "1 when the last scrape could query the database").set(0.0)
            logger.debug("metrics could not read the database", metadata: ["error": "\(error)"])
        }
        return registry.emitToString()
    }

    private func gauge(_ name: String, _ help: String, unit: String = "") -> Gauge {
        registry.makeGauge(descriptor: .init(namespace: "squadsync", metricName: name, unitName: unit, helpText: help), labels: [])
    }

    /// A counter whose truth is a count of rows in the database: raised by the difference
    /// since the last scrape. Rows are only added (a deleted athlete's rows go with them, and
    /// such a drop is not subtracted: Prometheus counters never go down).
    private func counterFromDatabase(_ name: String, _ help: String, labels: [(String, String)], value: Int) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let increase = seen.withLock { seen -> Int in
            let before = seen[key] ?? 0
            seen[key] = max(before, value)
            return max(0, value - before)
        }
        let counter = registry.makeCounter(
            descriptor: .init(namespace: "squadsync", metricName: name, unitName: "total", helpText: help), labels: labels)
        if increase > 0 { counter.increment(by: Int64(increase)) }
    }

    struct DatabaseFigures: Sendable {
        struct LastRun: Sendable { var seconds: Double; var athletes: Int; var failed: Int; var finished: Double }
        var lastRun: LastRun?
        var runs: Int
        var athletesProcessed: Int
        var flagsByCode: [(String, Int)]
    }

    static func databaseFigures(on connection: Connection) throws -> DatabaseFigures {
        let runs = try connection.query("""
            SELECT count(*)::bigint, coalesce(sum(athletes), 0)::bigint FROM nightly_runs
            """)
        let last = try connection.query("""
            SELECT extract(epoch FROM finished_at - started_at)::float8, athletes, failed, extract(epoch FROM finished_at)::float8
            FROM nightly_runs ORDER BY finished_at DESC LIMIT 1
            """)
        // A SECURITY DEFINER function: the daemon's role sees no athlete's flags without a scope.
        let flags = try connection.query("SELECT code, flags FROM squadsync_flag_counts()")
        return DatabaseFigures(
            lastRun: try last.first.map {
                DatabaseFigures.LastRun(
                    seconds: try $0.decode(at: 0), athletes: try $0.decode(at: 1), failed: try $0.decode(at: 2), finished: try $0.decode(at: 3))
            },
            runs: try runs[0].decode(at: 0),
            athletesProcessed: try runs[0].decode(at: 1),
            flagsByCode: try flags.map { (try $0.decode(at: 0), try $0.decode(at: 1)) })
    }
}
