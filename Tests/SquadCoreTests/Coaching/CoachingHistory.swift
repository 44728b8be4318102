import Foundation
import SquadCore

/// Builds daily rollups the way the nightly run would read them, for pure rule tests.
struct History {
    static let night = Day("2026-11-22")!  // a Sunday
    var rollups: [Day: DayRollup] = [:]
    var rules = RuleSet()

    /// A steady, healthy athlete: 5 runs a week (easy RPE 3, one tempo RPE 6 on
    /// Thursdays), good cadence, a warm-up before every quality session, and calm mornings
    /// (RHR 50, HRV 60-66 ms, 8 h sleep, normal legs), for `days` days up to the night.
    static func steady(days: Int = 70) -> History {
        var history = History()
        for back in 0..<days {
            let day = night.adding(days: -back)
            var rollup = DayRollup(day: day)
            rollup.restingHR = 50 + Double(back % 3) - 1
            rollup.hrvRMSSD = 60 + Double(back % 7)
            rollup.sleepSeconds = 8 * 3600
            rollup.legs = "normal"
            rollup.illness = false
            if day.weekday != 1 && day.weekday != 5 {
                let tempo = day.weekday == 4
                let long = day.weekday == 7
                let seconds: Double = long ? 75 * 60 : 45 * 60
                rollup.runs = 1
                rollup.runMetres = long ? 13_000 : 8_000
                rollup.runSeconds = seconds
                rollup.trainSeconds = seconds
                rollup.load = seconds / 60 * (tempo ? 6 : 3)
                if tempo { rollup.hardSeconds = seconds } else { rollup.easySeconds = seconds }
                rollup.cadenceRuns = 1
                rollup.qualityRuns = tempo ? 1 : 0
            }
            history.rollups[day] = rollup
        }
        return history
    }

    mutating func edit(_ back: Int, _ change: (inout DayRollup) -> Void) {
        let day = Self.night.adding(days: -back)
        var rollup = rollups[day] ?? DayRollup(day: day)
        change(&rollup)
        rollups[day] = rollup
    }

    func metrics(plannedKm: [Day: Double]? = nil) -> [Day: DailyMetrics] {
        let first = rollups.keys.min() ?? Self.night
        let computed = MetricsCalculator.compute(days: first...Self.night, rollups: rollups, seed: EWMAState(), plannedKm: plannedKm, rules: rules)
        return Dictionary(uniqueKeysWithValues: computed.map { ($0.date, $0) })
    }

    func outcomes(devices: [DeviceSyncState]? = nil, plannedKm: [Day: Double]? = nil) -> [FlagCode: FlagOutcome] {
        FlagEvaluator(rollups: rollups, metrics: metrics(plannedKm: plannedKm), rules: rules).evaluate(on: Self.night, devices: devices)
    }

    func raised(devices: [DeviceSyncState]? = nil, plannedKm: [Day: Double]? = nil) -> [FlagCode: FlagSignal] {
        var raised: [FlagCode: FlagSignal] = [:]
        for (code, outcome) in outcomes(devices: devices, plannedKm: plannedKm) {
            if case .holds(let signal) = outcome { raised[code] = signal }
        }
        return raised
    }
}
