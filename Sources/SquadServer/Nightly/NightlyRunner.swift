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
    /// The tombstone retention step (`TombstonePurge`); nil for a dry run or one athlete.
    public var purge: TombstonePurge.Report?

    public var failed: [AthleteNight] { athletes.filter { $0.error != nil } }

    enum CodingKeys: String, CodingKey { case date, athletes, skipped, dryRun = "dry_run", purge }
}

/// The nightly run (`coach nightly`, cron's entry point): rollups, metrics, flags and
/// plan adjustments for every athlete, from the last completed night up to the target.
///
/// Work is claimed per athlete in the database (`FOR UPDATE SKIP LOCKED` on
/// `nightly_state`), in batches, one transaction per batch and a savepoint per athlete:
/// concurrent runners share the work and never adjust an athlete twice, and one
/// athlete's failure is reported without stopping the others. A first run reads the
/// last 125 days (90 days of EWMA warm-up: the chronic EWMA's weight of a day 90 days
/// back is (27/29)^90 < 0.002), later runs only what changed since.
public enum NightlyRunner {
    public struct Options: Sendable {
        public var date: Day?
        public var handle: String?
        public var dryRun: Bool
        public var batchSize: Int
        /// Batches processed at once, each on its own connection.
        public var workers: Int
        public var now: Date
        /// Recorded in `nightly_runs.runner`: `command` (cron, timer, a person) or `scheduler` (`serve --nightly-at`).
        public var runner: String = "command"

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
    static let warmupDays = 90

    /// Days before the first night (or stored metric) whose every rollup column a rule may
    /// read: the short windows (sleep, legs, pain, cadence, warm-up, easy share). Older
    /// days only feed volume, load and the resting HR and HRV baselines.
    static func fullWindow(_ rules: RuleSet) -> Int {
        let windows = ["perpetual_medium.window", "no_warmup.window", "heavy_legs.window", "pain.window", "form_fade.window", "short_sleep.window"]
        return max(14, windows.map { Int(rules[$0]) }.max() ?? 14) + 1
    }
    static let windowDays = 35

    public static func run(_ options: Options, pool: ConnectionPool, logger: Logger,
                           progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }) async throws -> NightlyReport {
        let startedAt = Date()
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
                        let (nights, skipped) = try await processIsolating(batch, options: options, pool: pool, logger: logger)
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
        if !options.dryRun && options.handle == nil {
            let now = options.now
            report.purge = try await pool.withConnection { try TombstonePurge.run(now: now, on: $0) }
        }
        if !options.dryRun {
            let run = NightlyStore.Run(
                night: report.date, startedAt: startedAt, finishedAt: Date(), athletes: report.athletes.count - report.failed.count,
                failed: report.failed.count, skipped: report.skipped.count, runner: options.runner)
            try await pool.withConnection { try NightlyStore.record(run, on: $0) }
        }
        logger.info("nightly run finished", metadata: [
            "athletes": "\(report.athletes.count)", "failed": "\(report.failed.count)", "skipped": "\(report.skipped.count)",
        ])
        return report
    }

    /// A batch, and if any of its set-based statements fails (a bad athlete row, a bug),
    /// each athlete on its own, so one athlete's failure is reported and the rest are done.
    static func processIsolating(_ batch: [NightlyStore.Candidate], options: Options, pool: ConnectionPool, logger: Logger) async throws -> ([AthleteNight], [String]) {
        do {
            return try await pool.withConnection { try processBatch(batch, options: options, logger: logger, on: $0) }
        } catch let error as PostgresError where error.isConnectionFailure {
            throw error  // the database is gone: every athlete would fail the same way
        } catch {
            guard batch.count > 1 else {
                logger.error("nightly run failed for an athlete", metadata: ["athlete": "\(batch[0].athlete.handle)", "error": "\(error)"])
                var night = AthleteNight(handle: batch[0].athlete.handle, nights: [], metrics: nil, flagsRaised: [], flagsCleared: [], planChanges: [])
                night.error = "\(error)"
                return ([night], [])
            }
            logger.warning("nightly batch failed; retrying athlete by athlete", metadata: ["error": "\(error)"])
            var nights: [AthleteNight] = []
            var skipped: [String] = []
            for candidate in batch {
                let (one, held) = try await processIsolating([candidate], options: options, pool: pool, logger: logger)
                nights += one
                skipped += held
            }
            return (nights, skipped)
        }
    }

    struct DryRunRollback: Error {
        var nights: [AthleteNight]
        var skipped: [String]
    }

    static func processBatch(_ batch: [NightlyStore.Candidate], options: Options, logger: Logger, on connection: Connection) throws -> ([AthleteNight], [String]) {
        do {
            return try connection.transaction { connection in
                // Per-athlete index lookups look expensive to the planner (it cannot see how few
                // rows follow a seq), and JIT compiling them cost ~90 ms a statement: off.
                try connection.execute("SET LOCAL jit = off")
                // The daemon's statement_timeout is for requests; a large batch may take longer.
                try connection.execute("SET LOCAL statement_timeout = 0")
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
        var previousNight: Day? = nil
        var revisedFrom: Day? = nil
    }

    static func processClaimed(_ batch: [NightlyStore.Candidate], options: Options, logger: Logger, on connection: Connection) throws -> ([AthleteNight], [String]) {
        var timer = PhaseTimer()
        let progress = try NightlyStore.claim(batch.map(\.athlete.id), on: connection)
        timer.mark("claim")
        let skipped = batch.filter { progress[$0.athlete.id] == nil }.map(\.athlete.handle)
        let claimed = batch.filter { progress[$0.athlete.id] != nil }
        guard !claimed.isEmpty else { return ([], skipped) }
        let heads = try NightlyStore.lockHeads(claimed.map(\.athlete.id), on: connection)
        timer.mark("lock heads")
        // A first run rebuilds everything it reads: only athletes with progress look for changes.
        let claimedIDs = Set(claimed.map(\.athlete.id))
        let dirty = try NightlyStore.dirtyDays(progress.filter { claimedIDs.contains($0.key) && $0.value.lastNight != nil }, on: connection)
        timer.mark("changes")

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
            works.append(Work(candidate: candidate, rebuildFrom: from, metricsFrom: from, evalNights: evalNights, seedFromZero: false, storeFrom: from,
                              previousNight: last, revisedFrom: changed.flatMap { $0 < evalNights[0] ? $0 : nil }))
        }
        guard !works.isEmpty else { return ([], skipped) }

        // Seeds: the EWMA of the day before the metrics start; without one, warm up from zero.
        var stored = try NightlyStore.storedMetrics(works.map { (id: $0.candidate.athlete.id, from: min($0.metricsFrom.adding(days: -1), $0.evalNights[0].adding(days: -7))) }, on: connection)
        timer.mark("stored metrics")
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
        timer.mark("rebuild rollups")
        let rollups = try NightlyStore.rollups(works.map { work in
            (id: work.candidate.athlete.id, from: min(work.metricsFrom, work.evalNights[0]).adding(days: -windowDays),
             fullFrom: min(work.storeFrom, work.evalNights[0]).adding(days: -Self.fullWindow(work.candidate.rules)))
        }, on: connection)
        timer.mark("read rollups")
        if works.contains(where: \.seedFromZero) {
            stored.merge(try NightlyStore.storedMetrics(works.filter(\.seedFromZero).map { (id: $0.candidate.athlete.id, from: $0.evalNights[0].adding(days: -7)) }, on: connection)) { $1 }
        }
        let ids = works.map(\.candidate.athlete.id)
        let devices = try NightlyStore.devices(ids, on: connection)
        let liveFlags = try FlagStore.live(ids, on: connection)
        timer.mark("devices and flags")

        // Plans of the whole batch in two queries.
        let plans = try PlanStore.activePlans(ids, on: connection)
        let planned = works.compactMap { work in plans[work.candidate.athlete.id].map { (work, $0.planID) } }
        let planDays = try PlanStore.days(planned.map { work, planID in
            (planID, min(work.metricsFrom, work.evalNights[0]).adding(days: -14), work.evalNights.last!.adding(days: 28))
        }, on: connection)
        let planWeeks = try PlanStore.weeks(planIDs: planned.map(\.1), on: connection)
        // Rule revisions already made on the night being processed (a re-run must not repeat them).
        let already = try PlanStore.ruleRevisions(planned.map { work, planID in (planID, work.evalNights.last!) }, on: connection)
        timer.mark("plans")

        let context = try DigestStore.context(works.map { (id: $0.candidate.athlete.id, night: $0.evalNights.last!) },
                                              plans: plans.mapValues(\.planID), on: connection)
        timer.mark("digest context")

        // Compute every athlete in Swift (no writes), then write the batch in a few statements.
        var outcomes: [Outcome] = []
        var nights: [AthleteNight] = []
        for work in works {
            let athlete = work.candidate.athlete
            let plan = plans[athlete.id]
            let outcome = computeAthlete(work, rollups: rollups[athlete.id] ?? [:], stored: stored[athlete.id] ?? [:], devices: devices[athlete.id] ?? [],
                                         live: liveFlags[athlete.id] ?? [:], plan: plan, planDays: plan.flatMap { planDays[$0.planID] } ?? [:],
                                         weeks: plan.flatMap { planWeeks[$0.planID] } ?? [:], already: plan.flatMap { already[$0.planID] } ?? [], seenSeq: heads[athlete.id] ?? 0)
            var built = outcome
            built.digest = DigestBuilder.build(outcome, devices: devices[athlete.id] ?? [], context: context[athlete.id] ?? DigestStore.Context())
            outcomes.append(built)
        }
        timer.mark("compute")
        defer {
            timer.mark("write")
            logger.debug("nightly batch", metadata: ["athletes": "\(works.count)", "ms": "\(timer.summary)"])
        }
        do {
            try connection.savepoint { connection in try write(outcomes, now: options.now, on: connection) }
            nights = outcomes.map(\.report)
        } catch {
            // Find the athlete(s) whose writes fail: one savepoint each, the others kept.
            logger.warning("nightly batch write failed; retrying athlete by athlete", metadata: ["error": "\(error)"])
            for outcome in outcomes {
                var night = outcome.report
                do {
                    try connection.savepoint { connection in try write([outcome], now: options.now, on: connection) }
                } catch {
                    logger.error("nightly run failed for an athlete", metadata: ["athlete": "\(outcome.athlete.handle)", "error": "\(error)"])
                    night = AthleteNight(handle: outcome.athlete.handle, nights: outcome.report.nights, metrics: nil, flagsRaised: [], flagsCleared: [], planChanges: [])
                    night.error = "\(error)"
                }
                nights.append(night)
            }
        }
        return (nights, skipped)
    }

    /// Everything one athlete's night decided, before it is written.
    struct Outcome {
        var athlete: Athlete
        var report: AthleteNight
        var night: Day
        var metrics: [DailyMetrics]
        var activeFlags: [Day: Int]
        var raises: [(FlagSignal, Day, FlagStore.Flag)]
        var clears: [(FlagStore.Flag, Day)]
        var escalations: [(FlagStore.Flag, FlagSignal)]
        var plan: PlanStore.StoredPlan?
        var planDays: [Day: PlanStore.StoredDay]
        var changes: [PlanChange]
        var newCutbackWeeks: Set<Day>
        var seenSeq: Int64
        /// Flags live after the run plus those cleared in it, for the digest.
        var digestFlags: [FlagStore.Flag] = []
        /// Planned days after the night, as adjusted.
        var upcoming: [Day: PlanDay] = [:]
        var previousNight: Day?
        var revisedFrom: Day?
        var digest: Digest?
    }

    static func computeAthlete(_ work: Work, rollups: [Day: DayRollup], stored: [Day: (ewma: EWMAState, activeFlags: Int)],
                               devices: [DeviceSyncState], live: [String: FlagStore.Flag], plan: PlanStore.StoredPlan?,
                               planDays: [Day: PlanStore.StoredDay], weeks: [Day: (phase: Phase, cutback: Bool)], already: Set<String>,
                               seenSeq: Int64) -> Outcome {
        let athlete = work.candidate.athlete
        let rules = work.candidate.rules
        let lastNight = work.evalNights.last!
        let seed = work.seedFromZero ? EWMAState() : (stored[work.metricsFrom.adding(days: -1)]?.ewma ?? EWMAState())
        let computed = MetricsCalculator.compute(days: work.metricsFrom...lastNight, rollups: rollups, seed: seed,
                                                 plannedKm: plan == nil ? nil : planDays.mapValues(\.session.kilometres), rules: rules)
        var metricsByDay: [Day: DailyMetrics] = [:]
        for metric in computed { metricsByDay[metric.date] = metric }
        let evaluator = FlagEvaluator(rollups: rollups, metrics: metricsByDay, rules: rules)

        var live = live
        var outcome = Outcome(athlete: athlete, report: AthleteNight(handle: athlete.handle, nights: work.evalNights, metrics: metricsByDay[lastNight],
                                                                     flagsRaised: [], flagsCleared: [], planChanges: []),
                              night: lastNight, metrics: computed.filter { $0.date >= work.storeFrom }, activeFlags: [:], raises: [], clears: [],
                              escalations: [], plan: plan, planDays: planDays, changes: [], newCutbackWeeks: [], seenSeq: seenSeq)
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
                            if let index = outcome.raises.firstIndex(where: { $0.2.id == flag.id }) {
                                // Raised earlier in this run: it is written once, as it ends up.
                                outcome.raises[index].0 = signal
                                outcome.raises[index].2.severity = signal.severity.rawValue
                            } else {
                                outcome.escalations.append((flag, signal))
                            }
                            live[code.rawValue]?.severity = signal.severity.rawValue
                        }
                    } else {
                        let flag = FlagStore.Flag(id: UUID(), athlete: athlete.handle, code: code.rawValue, severity: signal.severity.rawValue, date: night,
                                                  rule: signal.rule, ruleVersion: signal.ruleVersion, evidence: AnyJSON(signal.evidence),
                                                  dataQuality: signal.dataQuality, status: "open", clearedOn: nil)
                        outcome.raises.append((signal, night, flag))
                        live[code.rawValue] = flag
                        outcome.report.flagsRaised.append(flag)
                    }
                case .clear:
                    if var flag = live[code.rawValue] {
                        if let index = outcome.raises.firstIndex(where: { $0.2.id == flag.id }) {
                            // Raised and cleared within one catch-up: stored as cleared.
                            outcome.raises[index].2.status = "cleared"
                            outcome.raises[index].2.clearedOn = night
                        } else {
                            outcome.clears.append((flag, night))
                        }
                        flag.status = "cleared"
                        flag.clearedOn = night
                        outcome.report.flagsCleared.append(flag)
                        live[code.rawValue] = nil
                    }
                case .unknown:
                    break
                }
            }
            outcome.activeFlags[night] = live.keys.compactMap(FlagCode.init(rawValue:)).filter(\.isFatigue).count
        }

        outcome.digestFlags = Array(live.values) + outcome.report.flagsCleared
        outcome.previousNight = work.previousNight
        outcome.revisedFrom = work.revisedFrom
        guard plan != nil else { return outcome }
        var upcoming: [Day: PlanDay] = [:]
        for offset in 1...28 {
            let day = lastNight.adding(days: offset)
            if let stored = planDays[day] { upcoming[day] = stored.planDay }
        }
        // Live flags whose data went quiet tonight still count, with their stored evidence.
        var signals = Array(holding.values)
        for (code, flag) in live {
            guard let flagCode = FlagCode(rawValue: code), holding[flagCode] == nil, let severity = Severity(rawValue: flag.severity) else { continue }
            signals.append(FlagSignal(code: flagCode, severity: severity, evidence: flag.evidence.value.objectValue?.dictionary ?? [:], dataQuality: flag.dataQuality))
        }
        var fatigue: [Day: Int] = [:]
        for (day, value) in stored { fatigue[day] = value.activeFlags }
        for (day, value) in outcome.activeFlags { fatigue[day] = value }
        var actual: [Day: Double] = [:]
        for (day, rollup) in rollups { actual[day] = rollup.runKilometres }
        let input = AdjustmentInput(night: lastNight, days: upcoming, liveFlags: signals, fatigueFlagsByDay: fatigue, actualKm: actual,
                                    cutbackWeeks: Set(weeks.filter { $0.value.cutback }.keys), weekPhases: weeks.mapValues(\.phase), rules: rules)
        let tonight = already.filter { $0.hasPrefix("\(lastNight) ") }
        let adjusted = PlanAdjuster.adjust(input, skipping: tonight.contains { $0.hasSuffix(" recovery_swap") } ? ["recovery_swap"] : [])
        outcome.changes = adjusted.changes.filter { !tonight.contains("\(lastNight) \($0.sessionDate) \($0.rule)") }
        outcome.newCutbackWeeks = adjusted.newCutbackWeeks
        outcome.upcoming = adjusted.days
        outcome.report.planChanges = outcome.changes.map { AnyJSON($0.json) }
        return outcome
    }

    /// Writes computed outcomes: a few set-based statements for the whole batch.
    static func write(_ outcomes: [Outcome], now: Date, on connection: Connection) throws {
        try NightlyStore.saveMetrics(outcomes.map { ($0.athlete.id, $0.metrics, $0.activeFlags) }, on: connection)
        // Clears first: a flag cleared and raised again in one catch-up must not meet its old self.
        try FlagStore.clear(outcomes.flatMap { $0.clears.map { ($0.0.id, $0.1) } }, on: connection)
        try FlagStore.raise(outcomes.flatMap { outcome in outcome.raises.map { (outcome.athlete.id, $0.0, $0.1, $0.2.id, $0.2.clearedOn) } }, on: connection)
        for outcome in outcomes {
            for (flag, signal) in outcome.escalations { try FlagStore.escalate(flag, to: signal, on: connection) }
        }
        try DigestStore.save(outcomes.map { (athleteID: $0.athlete.id, digest: $0.digest!) }, on: connection)
        var seen: [(Int64, Day, Int64)] = []
        for outcome in outcomes {
            var seenSeq = outcome.seenSeq
            if let plan = outcome.plan, !outcome.changes.isEmpty || !outcome.newCutbackWeeks.isEmpty {
                if let head = try PlanStore.apply(outcome.changes, author: .rule(night: outcome.night), planID: plan.planID, athlete: outcome.athlete,
                                                  days: outcome.planDays, cutbackWeeks: outcome.newCutbackWeeks, now: now, on: connection) {
                    seenSeq = head
                }
            }
            seen.append((outcome.athlete.id, outcome.night, seenSeq))
        }
        try NightlyStore.saveProgress(seen, on: connection)
    }
}

/// A count shared by concurrent workers.
final class Counter: Sendable {
    let value = Mutex(0)
}

/// Time spent per phase of a batch, for `--log-level debug`.
struct PhaseTimer {
    var last = ContinuousClock.now
    var phases: [(String, Duration)] = []

    mutating func mark(_ name: String) {
        let now = ContinuousClock.now
        phases.append((name, now - last))
        last = now
    }

    var summary: String {
        phases.map { "\($0.0) \(($0.1.components.seconds * 1000) + $0.1.components.attoseconds / 1_000_000_000_000_000)" }.joined(separator: ", ")
    }
}
