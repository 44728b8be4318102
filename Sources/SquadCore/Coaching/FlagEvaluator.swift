import Foundation

/// Evaluates every flag rule of DOMAIN.md for one athlete on one night: pure.
///
/// Severities (DOMAIN.md gives triggers, not severities; these are ours): `illness`,
/// act-level `pain` (>= 4/10) and ACWR over 1.5 are `act` (they change the plan); repeated
/// mornings of elevated RHR are `act`, one is `watch`; the other fatigue and compliance
/// flags are `watch`; form and data flags (`low_cadence`, `form_fade`, `no_warmup`,
/// `device_silent`) are `info`.
public struct FlagEvaluator: Sendable {
    public var rollups: [Day: DayRollup]
    public var metrics: [Day: DailyMetrics]
    public var rules: RuleSet

    public init(rollups: [Day: DayRollup], metrics: [Day: DailyMetrics], rules: RuleSet) {
        self.rollups = rollups
        self.metrics = metrics
        self.rules = rules
    }

    /// Every rule's outcome on `day`. `devices` is given only for the current night
    /// (a catch-up of an old night cannot know what the sync state was then).
    public func evaluate(on day: Day, devices: [DeviceSyncState]?) -> [FlagCode: FlagOutcome] {
        [
            .rhrElevated: restingHR(day),
            .hrvSuppressed: hrv(day),
            .shortSleep: shortSleep(day),
            .heavyLegs: heavyLegs(day),
            .pain: pain(day),
            .illness: illness(day),
            .loadSpike: loadSpike(day),
            .perpetualMedium: perpetualMedium(day),
            .lowCadence: lowCadence(day),
            .formFade: formFade(day),
            .noWarmup: noWarmup(day),
            .missedSessions: missedSessions(day),
            .deviceSilent: devices.map { deviceSilent(day, $0) } ?? .unknown,
        ]
    }

    // MARK: - Readiness

    /// seed 001: "up 10% or more? back off". Baseline: the mean of the 28 mornings before.
    func restingHR(_ day: Day) -> FlagOutcome {
        func elevated(_ on: Day) -> (value: Double, baseline: Double, count: Int)? {
            guard let value = rollups[on]?.restingHR else { return nil }
            let baseline = (1...28).compactMap { rollups[on.adding(days: -$0)]?.restingHR }
            guard baseline.count >= Int(rules["rhr_elevated.min_baseline"]) else { return nil }
            let mean = baseline.reduce(0, +) / Double(baseline.count)
            return (value, mean, baseline.count)
        }
        guard let today = elevated(day) else { return .unknown }
        let threshold = today.baseline * (1 + rules["rhr_elevated.pct"] / 100)
        guard today.value >= threshold else { return .clear }
        let earlier = [day.adding(days: -1), day.adding(days: -2)].filter { on in
            guard let other = elevated(on) else { return false }
            return other.value >= other.baseline * (1 + rules["rhr_elevated.pct"] / 100)
        }
        return .holds(FlagSignal(code: .rhrElevated, severity: earlier.isEmpty ? .watch : .act, evidence: [
            "resting_hr_bpm": number(today.value), "baseline_bpm": number(today.baseline),
            "threshold_bpm": number(threshold), "date": .string(day.description),
            "also_elevated": .array(earlier.map { .string($0.description) }),
        ], dataQuality: "resting HR on \(today.count) of the 28 baseline mornings"))
    }

    /// seed 001 (HRV): the 7-day mean of ln(rMSSD) under the baseline by more than the
    /// athlete's normal spread, on 3+ consecutive days (Plews 2014: >= 3 mornings a week).
    func hrv(_ day: Day) -> FlagOutcome {
        let k = rules["hrv_suppressed.sd"]
        let minimum = Int(rules["hrv_suppressed.min_mornings"])
        func window(_ on: Day) -> (mean: Double, count: Int, baseline: Double, sd: Double, baseCount: Int)? {
            let recent = (0..<7).compactMap { rollups[on.adding(days: -$0)]?.hrvRMSSD }.filter { $0 > 0 }.map(log)
            let base = (7..<35).compactMap { rollups[on.adding(days: -$0)]?.hrvRMSSD }.filter { $0 > 0 }.map(log)
            guard recent.count >= minimum, base.count >= 10 else { return nil }
            let mean = recent.reduce(0, +) / Double(recent.count)
            let baseMean = base.reduce(0, +) / Double(base.count)
            let sd = (base.map { ($0 - baseMean) * ($0 - baseMean) }.reduce(0, +) / Double(base.count - 1)).squareRoot()
            return (mean, recent.count, baseMean, sd, base.count)
        }
        let days = Int(rules["hrv_suppressed.days"])
        guard let today = window(day) else { return .unknown }
        let suppressed = (0..<days).allSatisfy { back in
            guard let other = window(day.adding(days: -back)) else { return false }
            return other.mean < other.baseline - k * other.sd
        }
        guard suppressed else { return .clear }
        return .holds(FlagSignal(code: .hrvSuppressed, severity: .watch, evidence: [
            "ln_rmssd_7d": number(today.mean, 3), "ln_rmssd_baseline": number(today.baseline, 3),
            "baseline_sd": number(today.sd, 3), "days_below": .int(Int64(days)),
            "rmssd_7d_ms": number(exp(today.mean)), "rmssd_baseline_ms": number(exp(today.baseline)),
        ], dataQuality: "HRV on \(today.count) of the last 7 mornings, \(today.baseCount) baseline mornings"))
    }

    /// seeds 001, 002: 7-9 h; under 7 h on 3 of the last 4 nights.
    func shortSleep(_ day: Day) -> FlagOutcome {
        let windowDays = Int(rules["short_sleep.window"])
        let nights = (0..<windowDays).compactMap { back -> (Day, Double)? in
            let on = day.adding(days: -back)
            return rollups[on]?.sleepSeconds.map { (on, $0) }
        }
        guard !nights.isEmpty else { return .unknown }
        let limit = rules["short_sleep.hours"] * 3600
        let short = nights.filter { $0.1 < limit }
        guard short.count >= Int(rules["short_sleep.nights"]) else { return .clear }
        return .holds(FlagSignal(code: .shortSleep, severity: .watch, evidence: [
            "short_nights": .array(short.map { .object(["date": .string($0.0.description), "hours": number($0.1 / 3600)]) }),
            "under_hours": number(rules["short_sleep.hours"]),
        ], dataQuality: "sleep logged on \(nights.count) of the last \(windowDays) nights"))
    }

    /// seed 001 (red flags): leg feel heavy or dead on 2+ days.
    func heavyLegs(_ day: Day) -> FlagOutcome {
        let windowDays = Int(rules["heavy_legs.window"])
        let logged = (0..<windowDays).compactMap { back -> (Day, String)? in
            let on = day.adding(days: -back)
            return rollups[on]?.legs.map { (on, $0) }
        }
        guard !logged.isEmpty else { return .unknown }
        let heavy = logged.filter { $0.1 == "heavy" || $0.1 == "dead" }
        guard heavy.count >= Int(rules["heavy_legs.days"]) else { return .clear }
        return .holds(FlagSignal(code: .heavyLegs, severity: .watch, evidence: [
            "days": .array(heavy.map { .object(["date": .string($0.0.description), "legs": .string($0.1)]) }),
        ], dataQuality: "leg feel logged on \(logged.count) of the last \(windowDays) days"))
    }

    /// The latest morning logged today or yesterday.
    private func latestMorning(_ day: Day, _ has: (DayRollup) -> Bool) -> DayRollup? {
        [day, day.adding(days: -1)].lazy.compactMap { self.rollups[$0] }.first(where: has)
    }

    /// seed 002: pain >= 4/10 (act: no hard sessions, see a physio), or the same
    /// location on 2+ days (watch).
    func pain(_ day: Day) -> FlagOutcome {
        let windowDays = Int(rules["pain.window"])
        let hasWellness: (DayRollup) -> Bool = { $0.painMax != nil || $0.restingHR != nil || $0.legs != nil || $0.illness != nil || $0.sleepSeconds != nil }
        guard let latest = latestMorning(day, hasWellness) else { return .unknown }
        var daysByLocation: [String: [Day]] = [:]
        for back in 0..<windowDays {
            let on = day.adding(days: -back)
            for location in rollups[on]?.painLocations ?? [] { daysByLocation[location, default: []].append(on) }
        }
        let repeated = daysByLocation.filter { $0.value.count >= Int(rules["pain.repeat_days"]) }
        let severe = (latest.painMax ?? 0) >= rules["pain.severity"]
        // Repeated pain only counts while it is still reported.
        let current = repeated.filter { latest.painLocations.contains($0.key) }
        guard severe || !current.isEmpty else { return .clear }
        return .holds(FlagSignal(code: .pain, severity: severe ? .act : .watch, evidence: [
            "date": .string(latest.day.description), "max_severity": number(latest.painMax ?? 0),
            "locations": .array(latest.painLocations.sorted().map { .string($0) }),
            "repeated": .object(current.mapValues { .array($0.sorted().map { .string($0.description) }) }),
            "advice": .string("no hard sessions; persistent pain: see a physiotherapist"),
        ], dataQuality: "wellness of \(latest.day)"))
    }

    /// seed 001: illness reported, rest until clear.
    func illness(_ day: Day) -> FlagOutcome {
        guard let latest = latestMorning(day, { $0.illness != nil }), let ill = latest.illness else { return .unknown }
        guard ill else { return .clear }
        return .holds(FlagSignal(code: .illness, severity: .act, evidence: [
            "date": .string(latest.day.description), "advice": .string("rest until clear"),
        ], dataQuality: "illness reported on \(latest.day)"))
    }

    // MARK: - Load

    /// seed 002 ("no more than 5-10% per week"), or ACWR over 1.5 (Gabbett 2016).
    /// The evidence pack measures +30% over two weeks (Nielsen 2014).
    func loadSpike(_ day: Day) -> FlagOutcome {
        guard let today = metrics[day] else { return .unknown }
        let span = Int(rules["load_spike.span_weeks"]) * 7
        let km: (Day) -> Double = { self.rollups[$0]?.runKilometres ?? 0 }
        let recent = (0..<7).reduce(0.0) { $0 + km(day.adding(days: -$1)) }
        let base = (span..<(span + 7)).reduce(0.0) { $0 + km(day.adding(days: -$1)) }
        let growth = rules["load_spike.pct"]
        let volumeSpike = base >= rules["load_spike.min_km"] && recent > base * (1 + growth / 100)
        let acwrSpike = (today.acwr ?? 0) > rules["load_spike.acwr"]
        guard volumeSpike || acwrSpike else { return .clear }
        let daysOfHistory = (0..<28).filter { rollups[day.adding(days: -$0)] != nil }.count
        return .holds(FlagSignal(code: .loadSpike, severity: acwrSpike ? .act : .watch, evidence: [
            "last7_km": number(recent), "base_km": number(base), "span_weeks": .int(Int64(span / 7)),
            "growth_pct": base > 0 ? number((recent / base - 1) * 100) : .null, "limit_pct": number(growth),
            "acwr": today.acwr.map { number($0) } ?? .null, "acwr_limit": number(rules["load_spike.acwr"]),
        ], dataQuality: "training logged on \(daysOfHistory) of the last 28 days"))
    }

    /// seed 001 ("perpetual medium trap"): easy share of run time well under 80%.
    func perpetualMedium(_ day: Day) -> FlagOutcome {
        let windowDays = Int(rules["perpetual_medium.window"])
        let window = (0..<windowDays).compactMap { rollups[day.adding(days: -$0)] }
        let runs = window.reduce(0) { $0 + $1.runs }
        let easy = window.reduce(0.0) { $0 + $1.easySeconds }
        let hard = window.reduce(0.0) { $0 + $1.hardSeconds }
        guard runs >= Int(rules["perpetual_medium.min_runs"]), easy + hard > 0 else { return .unknown }
        let share = easy / (easy + hard)
        guard share < rules["perpetual_medium.easy_share"] else { return .clear }
        return .holds(FlagSignal(code: .perpetualMedium, severity: .watch, evidence: [
            "easy_share": number(share), "target": number(0.8), "limit": number(rules["perpetual_medium.easy_share"]),
            "runs": .int(Int64(runs)), "window_days": .int(Int64(windowDays)),
        ], dataQuality: "effort (RPE or HR) known for \(formatMinutes(easy + hard)) of run time over \(runs) runs"))
    }

    // MARK: - Form

    /// seed 001's table: cadence under the pace band on most runs of the week.
    func lowCadence(_ day: Day) -> FlagOutcome {
        let window = (0..<7).compactMap { rollups[day.adding(days: -$0)] }
        let measured = window.reduce(0) { $0 + $1.cadenceRuns }
        let low = window.reduce(0) { $0 + $1.lowCadenceRuns }
        guard measured >= Int(rules["low_cadence.min_runs"]) else { return .unknown }
        let share = Double(low) / Double(measured)
        guard share > rules["low_cadence.share"] else { return .clear }
        return .holds(FlagSignal(code: .lowCadence, severity: .info, evidence: [
            "low_runs": .int(Int64(low)), "runs_with_cadence": .int(Int64(measured)), "share": number(share),
            "bands_spm": .string("easy 160-170, moderate 170-180, fast 180-190"),
        ], dataQuality: "cadence on \(measured) of \(window.reduce(0) { $0 + $1.runs }) runs in the last 7 days"))
    }

    /// seed 000: form falls apart late; cadence drop > 5% in the last quarter of long runs.
    func formFade(_ day: Day) -> FlagOutcome {
        let windowDays = Int(rules["form_fade.window"])
        let faded = (0..<windowDays).compactMap { back -> (Day, Double)? in
            let on = day.adding(days: -back)
            return rollups[on]?.worstFadePercent.map { (on, $0) }
        }
        guard let worst = faded.max(by: { $0.1 < $1.1 }) else { return .unknown }
        guard worst.1 > rules["form_fade.pct"] else { return .clear }
        return .holds(FlagSignal(code: .formFade, severity: .info, evidence: [
            "date": .string(worst.0.description), "cadence_drop_pct": number(worst.1), "limit_pct": number(rules["form_fade.pct"]),
        ], dataQuality: "\(faded.count) long runs with splits in the last \(windowDays) days"))
    }

    /// seeds 001 (RAMP), 004: a tempo or interval session with no warm-up drills before it.
    func noWarmup(_ day: Day) -> FlagOutcome {
        let windowDays = Int(rules["no_warmup.window"])
        guard let latest = (0..<windowDays).lazy.compactMap({ self.rollups[day.adding(days: -$0)] }).first(where: { $0.qualityRuns > 0 }) else {
            return .unknown
        }
        guard latest.qualityWithoutWarmup > 0 else { return .clear }
        return .holds(FlagSignal(code: .noWarmup, severity: .info, evidence: [
            "date": .string(latest.day.description), "quality_sessions": .int(Int64(latest.qualityRuns)),
            "without_warmup": .int(Int64(latest.qualityWithoutWarmup)),
        ], dataQuality: "the latest quality session, \(latest.day)"))
    }

    // MARK: - Plan and devices

    /// seed 001 (consistency): done under 70% of planned volume last week.
    func missedSessions(_ day: Day) -> FlagOutcome {
        guard let compliance = metrics[day]?.lastWeekCompliance else { return .clear }
        guard compliance < rules["missed_sessions.compliance"] else { return .clear }
        let weekStart = day.weekStart.adding(days: -7)
        return .holds(FlagSignal(code: .missedSessions, severity: .watch, evidence: [
            "week": .string(weekStart.description), "compliance": number(compliance),
            "limit": number(rules["missed_sessions.compliance"]),
        ], dataQuality: "planned volume of the week of \(weekStart)"))
    }

    /// Operations: a device silent for 3+ days.
    func deviceSilent(_ day: Day, _ devices: [DeviceSyncState]) -> FlagOutcome {
        guard !devices.isEmpty else { return .unknown }
        let limit = Int(rules["device_silent.days"])
        let silent = devices.filter { device in
            day.ordinal - (device.lastSync ?? device.enrolled).ordinal >= limit
        }
        guard !silent.isEmpty else { return .clear }
        return .holds(FlagSignal(code: .deviceSilent, severity: .info, evidence: [
            "devices": .array(silent.map { .object(["name": .string($0.name), "last_sync": $0.lastSync.map { .string($0.description) } ?? .null]) }),
            "limit_days": .int(Int64(limit)),
        ], dataQuality: "\(devices.count) active devices"))
    }
}

func number(_ value: Double, _ digits: Int = 2) -> JSONValue {
    let scale = pow(10, Double(digits))
    return .double((value * scale).rounded() / scale)
}

func formatMinutes(_ seconds: Double) -> String { "\(Int((seconds / 60).rounded())) min" }
