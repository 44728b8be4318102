import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// `coach serve --nightly-at 02:30`: the nightly job in process, for servers without cron.
/// It runs the same `NightlyRunner` under the same per-athlete claims, so cron (or a
/// second daemon) and this scheduler together never adjust an athlete twice.
public struct NightlyScheduler: Service {
    let pool: ConnectionPool
    let at: (hour: Int, minute: Int)
    let timeZone: TimeZone
    let logger: Logger

    public init(pool: ConnectionPool, at: (hour: Int, minute: Int), timeZone: TimeZone = .current, logger: Logger) {
        self.pool = pool
        self.at = at
        self.timeZone = timeZone
        self.logger = logger
    }

    /// The first time after `now` that the clock in `timeZone` shows `at` (DST-aware).
    public static func nextRun(after now: Date, at: (hour: Int, minute: Int), in timeZone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.nextDate(after: now, matching: DateComponents(hour: at.hour, minute: at.minute, second: 0), matchingPolicy: .nextTime) ?? now.addingTimeInterval(86_400)
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let next = Self.nextRun(after: Date(), at: at, in: timeZone)
            logger.info("next nightly run", metadata: ["at": "\(ISO8601DateFormatter().string(from: next))"])
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .seconds(max(1, next.timeIntervalSinceNow)))
                }
            } catch {
                return  // shutting down
            }
            do {
                var options = NightlyRunner.Options()
                options.runner = "scheduler"
                let report = try await NightlyRunner.run(options, pool: pool, logger: logger)
                logger.info("nightly run done", metadata: [
                    "athletes": "\(report.athletes.count)", "failed": "\(report.failed.count)", "held_by_another_run": "\(report.skipped.count)",
                ])
            } catch {
                // The database may be down: the next night (or cron) catches up.
                logger.error("nightly run failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
