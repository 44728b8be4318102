import Foundation

/// A planned day as the nightly run sees it: the session, its week, and whether a coach
/// has overridden it (then no rule may touch it: "a coach override always wins").
public struct PlanDay: Sendable, Equatable {
    public var session: PlannedSession
    public var phase: Phase
    public var weekCutback: Bool
    public var coachLocked: Bool

    public init(session: PlannedSession, phase: Phase, weekCutback: Bool, coachLocked: Bool) {
        self.session = session
        self.phase = phase
        self.weekCutback = weekCutback
        self.coachLocked = coachLocked
    }
}

/// One change of one planned day by a rule: `{"rule", "session_date", "before", "after", "reason"}`.
public struct PlanChange: Sendable, Equatable {
    public var rule: String
    public var sessionDate: Day
    public var before: PlannedSession
    public var after: PlannedSession
    public var reason: String
    public var evidence: JSONValue

    public var ruleVersion: Int { RuleSet.version(of: rule) }

    public init(rule: String, sessionDate: Day, before: PlannedSession, after: PlannedSession, reason: String, evidence: JSONValue) {
        self.rule = rule
        self.sessionDate = sessionDate
        self.before = before
        self.after = after
        self.reason = reason
        self.evidence = evidence
    }

    public var json: JSONValue {
        .object(["rule": .string(rule), "session_date": .string(sessionDate.description), "before": before.json,
                 "after": after.json, "reason": .string(reason), "evidence": evidence])
    }
}

/// What the adjuster knows on a night.
public struct AdjustmentInput: Sendable {
    public var night: Day
    /// Planned days from the day after the night on, at least three weeks.
    public var days: [Day: PlanDay]
    /// Flags live after tonight's evaluation.
    public var liveFlags: [FlagSignal]
    /// Live fatigue flags per day over the last week (tonight included).
    public var fatigueFlagsByDay: [Day: Int]
    /// Run km actually done per day (counted entries), at least the last two weeks.
    public var actualKm: [Day: Double]
    /// Whether each recent week was a cutback week in the plan, by Monday.
    public var cutbackWeeks: Set<Day>
    /// The phase of every week of the plan, by Monday.
    public var weekPhases: [Day: Phase]
    public var rules: RuleSet

    public init(night: Day, days: [Day: PlanDay], liveFlags: [FlagSignal], fatigueFlagsByDay: [Day: Int], actualKm: [Day: Double], cutbackWeeks: Set<Day>, weekPhases: [Day: Phase], rules: RuleSet) {
        self.weekPhases = weekPhases
        self.night = night
        self.days = days
        self.liveFlags = liveFlags
        self.fatigueFlagsByDay = fatigueFlagsByDay
        self.actualKm = actualKm
        self.cutbackWeeks = cutbackWeeks
        self.rules = rules
    }
}

/// The plan rules of DOMAIN.md ("What the nightly run may change"), applied in a fixed
/// order to the days after the night. Pure and idempotent: applied to its own output it
/// changes nothing, so a re-run of a night adds no revision.
public struct PlanAdjuster: Sendable {
    public private(set) var days: [Day: PlanDay]
    public private(set) var changes: [PlanChange] = []
    /// Weeks (by Monday) the adjuster turned into cutback weeks.
    public private(set) var newCutbackWeeks: Set<Day> = []
    let input: AdjustmentInput

    public init(_ input: AdjustmentInput) {
        self.input = input
        self.days = input.days
    }

    /// Runs every rule; read `changes` and `days` afterwards.
    /// `skipping` names rules not to run (recovery_swap once per night: a re-run of the
    /// night must not swap the hard session after the one it already swapped).
    public static func adjust(_ input: AdjustmentInput, skipping: Set<String> = []) -> PlanAdjuster {
        var adjuster = PlanAdjuster(input)
        if !skipping.contains("recovery_swap") { adjuster.recoverySwap() }
        adjuster.cutbackBroughtForward()
        adjuster.scheduledCutback()
        adjuster.taper()
        adjuster.volumeCap()
        adjuster.hardDaySpacing()
        adjuster.drillPrescription()
        return adjuster
    }

    var rules: RuleSet { input.rules }
    var night: Day { input.night }
    var nextMonday: Day { night.adding(days: 1).weekStart == night.adding(days: 1) ? night.adding(days: 1) : night.weekStart.adding(days: 7) }

    mutating func change(_ date: Day, rule: String, reason: String, evidence: [String: JSONValue], _ edit: (inout PlannedSession) -> Void) {
        guard var day = days[date], !day.coachLocked else { return }
        let before = day.session
        edit(&day.session)
        guard day.session != before else { return }
        days[date] = day
        changes.append(PlanChange(rule: rule, sessionDate: date, before: before, after: day.session, reason: reason, evidence: .object(evidence)))
    }

    func week(_ monday: Day) -> [Day] { (0..<7).map { monday.adding(days: $0) }.filter { days[$0] != nil } }
    func plannedKm(_ monday: Day) -> Double { week(monday).reduce(0) { $0 + (days[$1]?.session.kilometres ?? 0) } }
    func actualKm(_ monday: Day) -> Double { (0..<7).reduce(0) { $0 + (input.actualKm[monday.adding(days: $1)] ?? 0) } }

    /// Scales a week's unlocked runs so the week totals at most `targetKm` (race days kept).
    mutating func scaleWeek(_ monday: Day, to targetKm: Double, rule: String, reason: String, evidence: [String: JSONValue]) {
        let dates = week(monday)
        let fixed = dates.filter { days[$0]!.coachLocked || days[$0]!.session.type == .race }.reduce(0.0) { $0 + days[$1]!.session.kilometres }
        let movable = dates.filter { !days[$0]!.coachLocked && days[$0]!.session.type != .race }.reduce(0.0) { $0 + days[$1]!.session.kilometres }
        guard movable > 0, fixed + movable > targetKm + 0.05 else { return }
        let factor = max(0, (targetKm - fixed) / movable)
        for date in dates {
            change(date, rule: rule, reason: reason, evidence: evidence) { session in
                guard session.type != .race, session.distanceMetres > 0 else { return }
                let metres = PlanGenerator.floor100(Double(session.distanceMetres) * factor)
                session = rescaled(session, metres: metres)
            }
        }
    }

    // MARK: - Rules

    /// seed 002: an act-level flag turns the next hard session into easy, drills or rest.
    mutating func recoverySwap() {
        let act = input.liveFlags.filter { $0.severity == .act }.sorted { $0.code < $1.code }
        guard let worst = act.first(where: { $0.code == .illness }) ?? act.first(where: { $0.code == .pain }) ?? act.first else { return }
        let lookahead = Int(rules["recovery_swap.lookahead_days"])
        guard let date = (1...lookahead).map({ night.adding(days: $0) }).first(where: { days[$0].map { $0.session.isHard && $0.session.type != .race && !$0.coachLocked } ?? false }) else { return }
        let codes = act.map(\.code.rawValue)
        change(date, rule: "recovery_swap", reason: "act-level \(codes.joined(separator: ", ")): \(worst.code == .illness ? "rest until clear" : worst.code == .pain ? "technique drills instead of intensity" : "easy instead of hard")",
               evidence: ["flags": .array(act.map { .object(["code": .string($0.code.rawValue), "evidence": $0.evidence]) })]) { session in
            switch worst.code {
            case .illness:
                session = .make(.rest, on: session.date, metres: 0)
            case .pain:
                var drills = PlannedSession.make(.drills, on: session.date, metres: 3000)
                drills.drills = DrillCatalog.rampWarmup.filter { $0 != "strides" } + ["single_leg_balance"]
                session = drills
            default:
                session = .make(.easy, on: session.date, metres: PlanGenerator.floor100(Double(session.distanceMetres) * 0.8))
            }
        }
    }

    /// seed 001: "Heavy legs during workouts? Insert a cutback week": two or more fatigue
    /// flags on 3+ days bring next week's cutback forward.
    mutating func cutbackBroughtForward() {
        let needFlags = Int(rules["cutback_brought_forward.flags"])
        let tiredDays = (0..<7).map { night.adding(days: -$0) }.filter { (input.fatigueFlagsByDay[$0] ?? 0) >= needFlags }
        guard tiredDays.count >= Int(rules["cutback_brought_forward.days"]) else { return }
        let monday = nextMonday
        let dates = week(monday)
        guard let first = dates.first.flatMap({ days[$0] }), !first.weekCutback,
              first.phase == .base || first.phase == .build || first.phase == .peak,
              !input.cutbackWeeks.contains(night.weekStart) else { return }
        let before = plannedKm(monday)
        // On the week's eve the cut is also measured on the week just done, as a scheduled
        // cutback is (so the two rules agree and a re-run changes nothing).
        let lastWeek = monday == night.adding(days: 1) ? actualKm(monday.adding(days: -7)) : 0
        let target = (lastWeek > 0 ? min(before, lastWeek) : before) * (1 - rules["cutback.pct"] / 100)
        let evidence: [String: JSONValue] = ["tired_days": .array(tiredDays.sorted().map { .string($0.description) }),
                                             "flags_per_day": .int(Int64(needFlags)), "week": .string(monday.description),
                                             "planned_km": number(before), "target_km": number(target)]
        let reason = "\(tiredDays.count) days with \(needFlags)+ fatigue flags: cutback week brought forward (-\(Int(rules["cutback.pct"]))%)"
        var keptHard = false
        for date in dates {
            change(date, rule: "cutback_brought_forward", reason: reason, evidence: evidence) { session in
                guard session.isHard, session.type != .race else { return }
                if keptHard { session = .make(.easy, on: session.date, metres: session.distanceMetres) }
                keptHard = true
            }
        }
        scaleWeek(monday, to: target, rule: "cutback_brought_forward", reason: reason, evidence: evidence)
        newCutbackWeeks.insert(monday)
        for date in dates { days[date]?.weekCutback = true }
    }

    /// Cutback weeks on the cycle: the night before one starts, its volume must be at most
    /// the last build week's minus `cutback.pct` (imported plans, coach edits of the weeks before).
    mutating func scheduledCutback() {
        let monday = night.adding(days: 1)
        guard monday.weekday == 1, let first = days[monday], first.weekCutback, !newCutbackWeeks.contains(monday) else { return }
        let reference = actualKm(monday.adding(days: -7))
        guard reference > 0 else { return }
        let target = reference * (1 - rules["cutback.pct"] / 100)
        scaleWeek(monday, to: max(target, 0), rule: "cutback_week", reason: "scheduled cutback week: volume -\(Int(rules["cutback.pct"]))% of last week's \(String(format: "%.1f", reference)) km",
                  evidence: ["week": .string(monday.description), "last_week_km": number(reference), "target_km": number(target)])
    }

    /// Taper weeks (seed 001: -20-30%; Bosquet 2007: -41-60%): the k-th of T taper weeks
    /// plans at most the peak (the most run in the 4 weeks before the taper) x (1 - pct x k/T).
    mutating func taper() {
        let monday = night.adding(days: 1)
        guard monday.weekday == 1, input.weekPhases[monday] == .taper, days[monday] != nil else { return }
        var firstTaper = monday
        while input.weekPhases[firstTaper.adding(days: -7)] == .taper { firstTaper = firstTaper.adding(days: -7) }
        var lastTaper = monday
        while input.weekPhases[lastTaper.adding(days: 7)] == .taper { lastTaper = lastTaper.adding(days: 7) }
        let k = Double((monday.ordinal - firstTaper.ordinal) / 7 + 1)
        let total = Double((lastTaper.ordinal - firstTaper.ordinal) / 7 + 1)
        let peak = (1...4).map { actualKm(firstTaper.adding(days: -7 * $0)) }.max() ?? 0
        guard peak > 0 else { return }
        let target = peak * (1 - rules["taper.pct"] / 100 * k / total)
        scaleWeek(monday, to: target, rule: "taper", reason: "taper week \(Int(k)) of \(Int(total)): volume at most \(String(format: "%.1f", target)) km (-\(Int(rules["taper.pct"] * k / total))% of the \(String(format: "%.1f", peak)) km peak), intensity kept",
                  evidence: ["week": .string(monday.description), "peak_km": number(peak), "target_km": number(target), "taper_week": .int(Int64(k)), "taper_weeks": .int(Int64(total))])
    }

    /// seed 002, 10% cap: next week's planned volume is at most the last completed week's
    /// actual + 10%. After a cutback week the reference is the last non-cutback week, so
    /// a planned down week does not ratchet the plan down for good.
    mutating func volumeCap() {
        let monday = night.adding(days: 1)
        guard monday.weekday == 1, days[monday] != nil else { return }
        var reference = monday.adding(days: -7)
        if input.cutbackWeeks.contains(reference) { reference = reference.adding(days: -7) }
        let done = actualKm(reference)
        guard done > 0 else { return }
        let cap = done * (1 + rules["volume_cap.pct"] / 100)
        let planned = plannedKm(monday)
        guard planned > cap + 0.05 else { return }
        scaleWeek(monday, to: cap, rule: "volume_cap", reason: "planned \(String(format: "%.1f", planned)) km > \(String(format: "%.1f", done)) km done in the week of \(reference) + \(Int(rules["volume_cap.pct"]))%",
                  evidence: ["week": .string(monday.description), "planned_km": number(planned), "reference_week": .string(reference.description),
                             "reference_km": number(done), "cap_km": number(cap)])
    }

    /// seed 002: no two hard sessions on consecutive days; at most 2-3 a week.
    mutating func hardDaySpacing() {
        let horizon = (1...21).map { night.adding(days: $0) }
        for date in horizon {
            guard let today = days[date], today.session.isHard, let yesterday = days[date.adding(days: -1)], yesterday.session.isHard else { continue }
            // Keep the race and coach-set days; soften the other one.
            let target = (today.session.type == .race || today.coachLocked) ? date.adding(days: -1) : date
            guard target > night else { continue }
            change(target, rule: "hard_day_spacing", reason: "hard sessions on consecutive days (\(date.adding(days: -1)), \(date))",
                   evidence: ["days": .array([.string(date.adding(days: -1).description), .string(date.description)])]) { session in
                session = .make(.easy, on: session.date, metres: session.distanceMetres)
            }
        }
        let limit = Int(rules["hard.max_per_week"])
        for monday in Set(horizon.map(\.weekStart)).sorted() {
            let hard = week(monday).filter { days[$0]!.session.isHard }
            guard hard.count > limit else { continue }
            for date in hard.reversed() where date > night && days[date]!.session.type != .race && week(monday).filter({ days[$0]!.session.isHard }).count > limit {
                change(date, rule: "hard_day_spacing", reason: "\(hard.count) hard sessions in the week of \(monday); at most \(limit)",
                       evidence: ["week": .string(monday.description), "hard_sessions": .int(Int64(hard.count)), "limit": .int(Int64(limit))]) { session in
                    session = .make(.easy, on: session.date, metres: session.distanceMetres)
                }
            }
        }
    }

    /// seed 000: "the right drills depend on your patterns"; seeds 001, 004: RAMP before intensity.
    mutating func drillPrescription() {
        let codes = Set(input.liveFlags.map(\.code))
        let upcoming = (1...7).map { night.adding(days: $0) }.filter { days[$0] != nil }
        func add(_ drills: [String], to dates: [Day], because reason: String, flag: FlagCode) {
            let evidence = input.liveFlags.first { $0.code == flag }?.evidence ?? .null
            for date in dates {
                change(date, rule: "drill_prescription", reason: reason, evidence: ["flag": .string(flag.rawValue), "evidence": evidence]) { session in
                    for drill in drills where !session.drills.contains(drill) { session.drills.append(drill) }
                }
            }
        }
        if codes.contains(.lowCadence) {
            let easy = upcoming.filter { [.easy, .long, .strides].contains(days[$0]!.session.type) }.prefix(2)
            add(DrillCatalog.quickFeet, to: Array(easy), because: "low cadence for the pace: quick feet, high knees, jump rope", flag: .lowCadence)
        }
        if codes.contains(.formFade) {
            let long = upcoming.filter { days[$0]!.session.type == .long }.prefix(1)
            add(DrillCatalog.posture, to: Array(long), because: "form fades late in long runs: posture and marching drills after the long run", flag: .formFade)
        }
        if codes.contains(.noWarmup) {
            let quality = upcoming.filter { days[$0]!.session.type.isQuality }.prefix(1)
            add(DrillCatalog.rampWarmup, to: Array(quality), because: "a quality session without warm-up: RAMP warm-up before the next one", flag: .noWarmup)
        }
    }
}

/// The same session over a new distance, its duration scaled to match.
func rescaled(_ session: PlannedSession, metres: Int) -> PlannedSession {
    var session = session
    if session.distanceMetres > 0 {
        session.durationSeconds = Int((Double(session.durationSeconds) * Double(metres) / Double(session.distanceMetres)).rounded())
    }
    session.distanceMetres = metres
    return session
}
