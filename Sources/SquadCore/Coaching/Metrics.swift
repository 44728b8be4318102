import Foundation

/// The load metrics of one athlete-day (DOMAIN.md "Load metrics").
///
/// EWMA convention: x_t = lambda * L_t + (1 - lambda) * x_{t-1} with lambda = 2/(N+1),
/// N = 7 (acute) and 28 (chronic), as Williams et al. 2017 and Runalyze; seeded at 0 on
/// the first day of history. This responds about twice as fast as TrainingPeaks' 1/N.
public struct DailyMetrics: Sendable, Equatable, Codable {
    public var date: Day
    public var km: Double
    public var minutes: Double
    /// Foster session-RPE load: minutes x RPE.
    public var load: Double
    /// Load of the last 7 days.
    public var acuteLoad: Double
    /// Average weekly load of the last 28 days.
    public var chronicLoad: Double
    /// acute / chronic (rolling, coupled); nil without chronic load.
    public var acwr: Double?
    public var ewmaAcute: Double
    public var ewmaChronic: Double
    public var acwrEWMA: Double?
    /// Mean / SD of the last 7 days' daily load (rest days count as 0); nil when SD is 0.
    public var monotony: Double?
    /// Weekly load x monotony.
    public var strain: Double?
    /// Share of the last 7 days' run time that was easy; nil without runs.
    public var easyShare: Double?
    /// Km of the last 7 days and of the 7 before.
    public var last7Km: Double
    public var previous7Km: Double
    /// Km of this training week so far (Monday to this day) and planned for the whole week.
    public var weekKm: Double
    public var weekPlannedKm: Double?
    /// Done / planned km of the last completed week; nil without a plan for it.
    public var lastWeekCompliance: Double?
    public var ewmaConvention: String = DailyMetrics.convention

    public static let convention = "lambda=2/(N+1), N=7 acute, N=28 chronic"

    public init(date: Day, km: Double, minutes: Double, load: Double, acuteLoad: Double, chronicLoad: Double, acwr: Double?, ewmaAcute: Double,
                ewmaChronic: Double, acwrEWMA: Double?, monotony: Double?, strain: Double?, easyShare: Double?, last7Km: Double, previous7Km: Double,
                weekKm: Double, weekPlannedKm: Double?, lastWeekCompliance: Double?) {
        self.date = date
        self.km = km
        self.minutes = minutes
        self.load = load
        self.acuteLoad = acuteLoad
        self.chronicLoad = chronicLoad
        self.acwr = acwr
        self.ewmaAcute = ewmaAcute
        self.ewmaChronic = ewmaChronic
        self.acwrEWMA = acwrEWMA
        self.monotony = monotony
        self.strain = strain
        self.easyShare = easyShare
        self.last7Km = last7Km
        self.previous7Km = previous7Km
        self.weekKm = weekKm
        self.weekPlannedKm = weekPlannedKm
        self.lastWeekCompliance = lastWeekCompliance
    }

    enum CodingKeys: String, CodingKey {
        case date, km, minutes, load, acuteLoad = "acute_load", chronicLoad = "chronic_load", acwr
        case ewmaAcute = "ewma_acute", ewmaChronic = "ewma_chronic", acwrEWMA = "acwr_ewma"
        case monotony, strain, easyShare = "easy_share", last7Km = "last7_km", previous7Km = "previous7_km"
        case weekKm = "week_km", weekPlannedKm = "week_planned_km", lastWeekCompliance = "last_week_compliance"
        case ewmaConvention = "ewma_convention"
    }
}

/// The EWMA values carried from one day to the next.
public struct EWMAState: Sendable, Equatable {
    public var acute: Double
    public var chronic: Double
    public init(acute: Double = 0, chronic: Double = 0) {
        self.acute = acute
        self.chronic = chronic
    }
}

/// Computes `DailyMetrics` from daily rollups: pure, one pass over the days.
public enum MetricsCalculator {
    /// Metrics for every day of `days`. `rollups` must cover at least 27 days before
    /// `days.lowerBound` (missing days count as rest); `seed` is the EWMA state of the day
    /// before. `plannedKm` gives the planned km per day (nil: no plan).
    public static func compute(days: ClosedRange<Day>, rollups: [Day: DayRollup], seed: EWMAState, plannedKm: [Day: Double]?, rules: RuleSet) -> [DailyMetrics] {
        let acuteDays = Int(rules["acwr.acute_days"])
        let chronicDays = Int(rules["acwr.chronic_days"])
        let lambdaAcute = 2.0 / Double(acuteDays + 1)
        let lambdaChronic = 2.0 / Double(chronicDays + 1)
        func load(_ day: Day) -> Double { rollups[day]?.load ?? 0 }
        func km(_ day: Day) -> Double { rollups[day]?.runKilometres ?? 0 }
        func sum(_ from: Day, _ to: Day, _ value: (Day) -> Double) -> Double {
            guard from <= to else { return 0 }
            return (from...to).reduce(0) { $0 + value($1) }
        }
        var ewma = seed
        var result: [DailyMetrics] = []
        for day in days {
            let today = rollups[day]
            ewma.acute = lambdaAcute * load(day) + (1 - lambdaAcute) * ewma.acute
            ewma.chronic = lambdaChronic * load(day) + (1 - lambdaChronic) * ewma.chronic
            let acute = sum(day.adding(days: -(acuteDays - 1)), day, load)
            let chronic = sum(day.adding(days: -(chronicDays - 1)), day, load) / (Double(chronicDays) / 7)
            let week = (0..<7).map { load(day.adding(days: -$0)) }
            let mean = week.reduce(0, +) / 7
            let sd = (week.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 7).squareRoot()
            let monotony = sd > 0 ? min(mean / sd, 10) : nil
            let easy = sum(day.adding(days: -6), day) { rollups[$0]?.easySeconds ?? 0 }
            let hard = sum(day.adding(days: -6), day) { rollups[$0]?.hardSeconds ?? 0 }
            let weekStart = day.weekStart
            var weekPlanned: Double?
            var compliance: Double?
            if let plannedKm {
                let planned = sum(weekStart, weekStart.adding(days: 6)) { plannedKm[$0] ?? 0 }
                weekPlanned = planned
                let lastStart = weekStart.adding(days: -7)
                let lastPlanned = sum(lastStart, lastStart.adding(days: 6)) { plannedKm[$0] ?? 0 }
                if lastPlanned > 0 {
                    compliance = sum(lastStart, lastStart.adding(days: 6), km) / lastPlanned
                }
            }
            result.append(DailyMetrics(
                date: day, km: km(day), minutes: (today?.trainSeconds ?? 0) / 60, load: load(day),
                acuteLoad: acute, chronicLoad: chronic, acwr: chronic > 0 ? acute / chronic : nil,
                ewmaAcute: ewma.acute, ewmaChronic: ewma.chronic,
                acwrEWMA: ewma.chronic > 0.001 ? ewma.acute / ewma.chronic : nil,
                monotony: monotony, strain: monotony.map { mean * 7 * $0 },
                easyShare: easy + hard > 0 ? easy / (easy + hard) : nil,
                last7Km: sum(day.adding(days: -6), day, km), previous7Km: sum(day.adding(days: -13), day.adding(days: -7), km),
                weekKm: sum(weekStart, day, km), weekPlannedKm: weekPlanned, lastWeekCompliance: compliance))
        }
        return result
    }
}
