import Foundation
import Logging
import Postgres
import SquadCore
import Synchronization

/// What one athlete's nightly run did, as `coach nightly --json` prints it.
public struct AthleteNight: Sendable, Encodable {
    public var handle: String
    /// The nights whose flags were evaluated (a missed night is caught up).
    public var nights: [Day]
    public var metrics: DailyMetrics?
    public var flagsRaised: [FlagStore.Flag]
    public var flagsCleared: [FlagStore.Flag]
    public var planChanges: [AnyJSON]
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case handle, nights, metrics, flagsRaised = "flags_raised", flagsCleared = "flags_cleared", planChanges = "plan_changes", error
    }
}

/// The whole run.
public struct NightlyReport: Sendable, Encodable {
    public var date: Day?
    public var athletes: [AthleteNight]
    /// Athletes another runner held (cron overlap, a second machine): it processes them.
    public var skipped: [String]
    public var dryRun: Bool

    public var failed: [AthleteNight] { athletes.filter { $0.error != nil } }

    enum CodingKeys: String, CodingKey { case date, athletes, skipped, dryRun = "dry_run" }
}

/// The nightly run (`coach nightly`, cron's entry point): rollups, metrics, flags and
/// plan adjustments for every athlete, from the last completed night up to the target.
///
/// Work is claimed per athlete in the database (`FOR UPDATE SKIP LOCKED` on
/// `nightly_state`), in batches, one transaction per batch and a savepoint per athlete:
/// concurrent runners share the work and never adjust an athlete twice, and one
/// athlete's failure is reported without stopping the others. A first run reads the
/// last 155 days (120 days of EWMA warm-up: the chronic EWMA's weight of a day 120 days
/// back is (27/29)^120 < 0.0002), later runs only what changed since.
public enum NightlyRunner {
    public struct Options: Sendable {
        public var date: Day?
        public var handle: String?
        public var dryRun: Bool
        public var batchSize: Int
        /// Batches processed at once, each on its own connection.
        public var workers: Int
        public var now: Date

        public init(date: Day? = nil, handle: String? = nil, dryRun: Bool = false, batchSize: Int = 50, workers: Int = 2, now: Date = Date()) {
            self.workers = workers
            self.date = date
            self.handle = handle
            self.dryRun = dryRun
            self.batchSize = batchSize
            self.now = now
        }
    }

    /// Days of history a first run reads, and of metrics warm-up before the first night.
    static let warmupDays = 120
    static let windowDays = 35

    public static func run(_ options: Options, pool: ConnectionPool, logger: Logger,
                           progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }) async throws -> NightlyReport {
        let candidates = try await pool.withConnection { try NightlyStore.candidates(handle: options.handle, date: options.date, now: options.now, on: $0) }
        if let handle = options.handle, candidates.isEmpty { throw AdminError(.notFound, "no athlete with handle '\(handle)'") }
        var report = NightlyReport(date: options.date ?? candidates.map(\.night).max(), athletes: [], skipped: [], dryRun: options.dryRun)
        let size = max(1, options.batchSize)
        let batches = stride(from: 0, to: candidates.count, by: size).map { Array(candidates[$0..<min($0 + size, candidates.count)]) }
        let done = Counter()
        progress(0, candidates.count)
        // Workers take batches in turn; claims in the database keep them (and other runners) apart.
        let results = try await withThrowingTaskGroup(of: [(Int, [AthleteNight], [String])].self) { group in
            for worker in 0..<max(1, min(options.workers, batches.count)) {
                group.addTask {
                    var mine: [(Int, [AthleteNight], [String])] = []
                    for index in stride(from: worker, to: batches.count, by: max(1, min(options.workers, batches.count))) {
                        let batch = batches[index]
                        let (nights, skipped) = try await pool.withConnection { connection in
                            try processBatch(batch, options: options, logger: logger, on: connection)
                        }
                        mine.append((index, nights, skipped))
                        let finished = done.value.withLock { count -> Int in
                            count += batch.count
                            return count
                        }
                        progress(finished, candidates.count)
                    }
                    return mine
                }
            }
            var all: [(Int, [AthleteNight], [String])] = []
            for try await part in group { all += part }
            return all.sorted { $0.0 < $1.0 }
        }
        for (_, nights, skipped) in results {
            report.athletes += nights
            report.skipped += skipped
        }
        logger.info("nightly run finished", metadata: [
            "athletes": "\(report.athletes.count)", "failed": "\(report.failed.count)", "skipped": "\(report.skipped.count)",
        ])
        return report
    }

    struct DryRunRollback: Error {
        var nights: [AthleteNight]
        var skipped: [String]
    }

    static func processBatch(_ batch: [NightlyStore.Candidate], options: Options, logger: Logger, on connection: Connection) throws -> ([AthleteNight], [String]) {
        do {
            return try connection.transaction { connection in
                let result = try processClaimed(batch, options: options, logger: logger, on: connection)
                if options.dryRun { throw DryRunRollback(nights: result.0, skipped: result.1) }
                return result
            }
        } catch let rollback as DryRunRollback {
            return (rollback.nights, rollback.skipped)
        }
    }

    /// What to do for one athlete in this run.
    struct Work {
        var candidate: NightlyStore.Candidate
        var rebuildFrom: Day
        var metricsFrom: Day
        var evalNights: [Day]
        var seedFromZero: Bool
        var storeFrom: Day
    }

    static func processClaimed(_ batch: [NightlyStore.Candidate], options: Options, logger: Logger, on connection: Connection) throws -> ([AthleteNight], [String]) {
        let progress = try NightlyStore.claim(batch.map(\.athlete.id), on: connection)
        let skipped = batch.filter { progress[$0.athlete.id] == nil }.map(\.athlete.handle)
        let claimed = batch.filter { progress[$0.athlete.id] != nil }
        guard !claimed.isEmpty else { return ([], skipped) }
        let heads = try NightlyStore.lockHeads(claimed.map(\.athlete.id), on: connection)
        let dirty = try NightlyStore.dirtyDays(progress.filter { id, _ in claimed.contains { $0.athlete.id == id } }, on: connection)

        var works: [Work] = []
        for candidate in claimed {
            let target = candidate.night
            guard let last = progress[candidate.athlete.id]?.lastNight else {
                let metricsFrom = target.adding(days: -warmupDays)
                works.append(Work(candidate: candidate, rebuildFrom: metricsFrom.adding(days: -windowDays), metricsFrom: metricsFrom,
                                  evalNights: [target], seedFromZero: true, storeFrom: target.adding(days: -windowDays)))
                continue
            }
            let changed = dirty[candidate.athlete.id]
            let evalNights: [Day]
            if last < target {
                evalNights = Array(max(last.adding(days: 1), target.adding(days: -13))...target)
            } else if let changed, changed <= last {
                evalNights = [last]
            } else {
                continue  // already done and nothing changed: a re-run is a no-op
            }
            var from = min(changed ?? last.adding(days: 1), last.adding(days: 1), evalNights[0])
            from = max(from, target.adding(days: -400))
            works.append(Work(candidate: candidate, rebuildFrom: from, metricsFrom: from, evalNights: evalNights, seedFromZero: false, storeFrom: from))
        }
        guard !works.isEmpty else { return ([], skipped) }

        // Seeds: the EWMA of the day before the metrics start; without one, warm up from zero.
        var stored = try NightlyStore.storedMetrics(works.map { (id: $0.candidate.athlete.id, from: min($0.metricsFrom.adding(days: -1), $0.evalNights[0].adding(days: -7))) }, on: connection)
        for index in works.indices where !works[index].seedFromZero {
            let work = works[index]
            if stored[work.candidate.athlete.id]?[work.metricsFrom.adding(days: -1)] == nil {
                works[index].seedFromZero = true
                works[index].metricsFrom = work.metricsFrom.adding(days: -warmupDays)
                works[index].rebuildFrom = works[index].metricsFrom.adding(days: -windowDays)
            }
        }
        try NightlyStore.rebuildRollups(works.map { work in
            (id: work.candidate.athlete.id, from: work.rebuildFrom, easyRPE: work.candidate.rules["easy.max_rpe"], easyHRPercent: work.candidate.rules["easy.max_hr_pct"])
        }, on: connection)
        let rollups = try NightlyStore.rollups(works.map { (id: $0.candidate.athlete.id, from: min($0.metricsFrom, $0.evalNights[0]).adding(days: -windowDays)) }, on: connection)
        if works.contains(where: \.seedFromZero) {
            stored.merge(try NightlyStore.storedMetrics(works.filter(\.seedFromZero).map { (id: $0.candidate.athlete.id, from: $0.evalNights[0].adding(days: -7)) }, on: connection)) { $1 }
        }
        let ids = works.map(\.candidate.athlete.id)
        let devices = try NightlyStore.devices(ids, on: connection)
        let liveFlags = try FlagStore.live(ids, on: connection)

        var nights: [AthleteNight] = []
        for work in works {
            let athlete = work.candidate.athlete
            var night = AthleteNight(handle: athlete.handle, nights: work.evalNights, metrics: nil, flagsRaised: [], flagsCleared: [], planChanges: [])
            do {
                try connection.savepoint { connection in
                    night = try processAthlete(work, rollups: rollups[athlete.id] ?? [:], stored: stored[athlete.id] ?? [:],
                                               devices: devices[athlete.id] ?? [], live: liveFlags[athlete.id] ?? [:], seenSeq: heads[athlete.id] ?? 0,
                                               now: options.now, on: connection)
                }
            } catch {
                logger.error("nightly run failed for an athlete", metadata: ["athlete": "\(athlete.handle)", "error": "\(error)"])
                night.error = "\(error)"
            }
            nights.append(night)
        }
        return (nights, skipped)
    }

    static func processAthlete(_ work: Work, rollups: [Day: DayRollup], stored: [Day: (ewma: EWMAState, activeFlags: Int)],
                               devices: [DeviceSyncState], live: [String: FlagStore.Flag], seenSeq: Int64, now: Date,
                               on connection: Connection) throws -> AthleteNight {
        let athlete = work.candidate.athlete
        let rules = work.candidate.rules
        let lastNight = work.evalNights.last!
        let plan = try PlanStore.active(athleteID: athlete.id, on: connection)
        var planDays: [Day: PlanStore.StoredDay] = [:]
        var weeks: [Day: (phase: Phase, cutback: Bool)] = [:]
        if let plan {
            planDays = try PlanStore.days(planID: plan.planID, from: min(work.metricsFrom, work.evalNights[0]).adding(days: -14), to: lastNight.adding(days: 28), on: connection)
            weeks = try PlanStore.weeks(planID: plan.planID, on: connection)
        }
        let seed = work.seedFromZero ? EWMAState() : (stored[work.metricsFrom.adding(days: -1)]?.ewma ?? EWMAState())
        let computed = MetricsCalculator.compute(days: work.metricsFrom...lastNight, rollups: rollups, seed: seed,
                                                 plannedKm: plan == nil ? nil : planDays.mapValues(\.session.kilometres), rules: rules)
        var metricsByDay: [Day: DailyMetrics] = [:]
        for metric in computed { metricsByDay[metric.date] = metric }
        let evaluator = FlagEvaluator(rollups: rollups, metrics: metricsByDay, rules: rules)

        var live = live
        var result = AthleteNight(handle: athlete.handle, nights: work.evalNights, metrics: metricsByDay[lastNight], flagsRaised: [], flagsCleared: [], planChanges: [])
        var activeFlags: [Day: Int] = [:]
        var holding: [FlagCode: FlagSignal] = [:]
        for night in work.evalNights {
            let outcomes = evaluator.evaluate(on: night, devices: night == work.candidate.yesterday ? devices : nil)
            holding = [:]
            for code in FlagCode.allCases {
                switch outcomes[code] ?? .unknown {
                case .holds(let signal):
                    holding[code] = signal
                    if let flag = live[code.rawValue] {
                        if let severity = Severity(rawValue: flag.severity), signal.severity > severity {
                            try FlagStore.escalate(flag, to: signal, on: connection)
                            live[code.rawValue]?.severity = signal.severity.rawValue
                        }
                    } else {
                        let flag = try FlagStore.raise(signal, on: night, athlete: athlete, on: connection)
                        live[code.rawValue] = flag
                        result.flagsRaised.append(flag)
                    }
                case .clear:
                    if let flag = live[code.rawValue] {
                        result.flagsCleared.append(try FlagStore.clear(flag, on: night, on: connection))
                        live[code.rawValue] = nil
                    }
                case .unknown:
                    break
                }
            }
            activeFlags[night] = live.keys.compactMap(FlagCode.init(rawValue:)).filter(\.isFatigue).count
        }

        if let plan {
            var upcoming: [Day: PlanDay] = [:]
            for offset in 1...28 {
                let day = lastNight.adding(days: offset)
                if let stored = planDays[day] { upcoming[day] = stored.planDay }
            }
            // Live flags whose data went quiet tonight still count, with their stored evidence.
            var signals = Array(holding.values)
            for (code, flag) in live {
                guard let flagCode = FlagCode(rawValue: code), holding[flagCode] == nil, let severity = Severity(rawValue: flag.severity) else { continue }
                signals.append(FlagSignal(code: flagCode, severity: severity, evidence: flag.evidence.value.objectValue ?? [:], dataQuality: flag.dataQuality))
            }
            var fatigue: [Day: Int] = [:]
            for (day, value) in stored { fatigue[day] = value.activeFlags }
            for (day, value) in activeFlags { fatigue[day] = value }
            var actual: [Day: Double] = [:]
            for (day, rollup) in rollups { actual[day] = rollup.runKilometres }
            let input = AdjustmentInput(night: lastNight, days: upcoming, liveFlags: signals, fatigueFlagsByDay: fatigue, actualKm: actual,
                                        cutbackWeeks: Set(weeks.filter { $0.value.cutback }.keys), weekPhases: weeks.mapValues(\.phase), rules: rules)
            let already = try Set(connection.query("""
                SELECT session_date, rule FROM plan_revisions WHERE plan_id = \(plan.planID) AND night = \(lastNight) AND author = 'rule'
                """).map { row in let (day, rule) = try row.decode((Day, String).self); return "\(day) \(rule)" })
            let alreadyRules = Set(already.map { String($0.split(separator: " ")[1]) })
            let adjusted = PlanAdjuster.adjust(input, skipping: alreadyRules.contains("recovery_swap") ? ["recovery_swap"] : [])
            let changes = adjusted.changes.filter { !already.contains("\($0.sessionDate) \($0.rule)") }
            try PlanStore.apply(changes, author: .rule(night: lastNight), planID: plan.planID, athlete: athlete, days: planDays,
                                cutbackWeeks: adjusted.newCutbackWeeks, now: now, on: connection)
            result.planChanges = changes.map { AnyJSON($0.json) }
        }

        try NightlyStore.saveMetrics(computed.filter { $0.date >= work.storeFrom }, activeFlags: activeFlags, athleteID: athlete.id, on: connection)
        let seen = result.planChanges.isEmpty ? seenSeq : try EntryStore.head(athleteID: athlete.id, on: connection).lastSeq
        try NightlyStore.saveProgress(athleteID: athlete.id, night: lastNight, seenSeq: seen, on: connection)
        return result
    }
}

/// A count shared by concurrent workers.
final class Counter: Sendable {
    let value = Mutex(0)
}
