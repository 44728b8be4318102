import Foundation
import SquadCore
import Testing

@Suite("Load metrics")
struct MetricsTests {
    @Test("ACWR, EWMA (lambda = 2/(N+1)), monotony and strain by hand")
    func byHand() throws {
        let start = Day("2026-01-05")!
        var rollups: [Day: DayRollup] = [:]
        // 28 days of 300 load every day, then a week of 600.
        for offset in 0..<35 {
            var rollup = DayRollup(day: start.adding(days: offset))
            rollup.load = offset < 28 ? 300 : 600
            rollup.runMetres = offset < 28 ? 5000 : 10_000
            rollups[rollup.day] = rollup
        }
        let last = start.adding(days: 34)
        let metrics = MetricsCalculator.compute(days: start...last, rollups: rollups, seed: EWMAState(), plannedKm: nil, rules: RuleSet())
        let final = try #require(metrics.last)
        #expect(final.acuteLoad == 4200)
        #expect(abs(final.chronicLoad - (21 * 300 + 7 * 600) / 4) < 1e-9)
        #expect(abs(final.acwr! - 4200 / 2625) < 1e-9)
        // EWMA by hand with lambda 2/8 and 2/29 from a zero seed.
        var acute = 0.0, chronic = 0.0
        for offset in 0..<35 {
            let load = offset < 28 ? 300.0 : 600.0
            acute = 0.25 * load + 0.75 * acute
            chronic = 2.0 / 29 * load + (1 - 2.0 / 29) * chronic
        }
        #expect(abs(final.ewmaAcute - acute) < 1e-9)
        #expect(abs(final.ewmaChronic - chronic) < 1e-9)
        #expect(final.ewmaConvention.contains("2/(N+1)"))
        // A constant week has no SD: monotony undefined (not infinite).
        #expect(final.monotony == nil)
        #expect(final.last7Km == 70 && final.previous7Km == 35)
    }

    @Test("monotony counts rest days as zero load (Foster; Runalyze #1165)")
    func monotony() throws {
        let start = Day("2026-01-05")!
        var rollups: [Day: DayRollup] = [:]
        for (offset, load) in [100.0, 0, 100, 0, 100, 0, 100].enumerated() {
            var rollup = DayRollup(day: start.adding(days: offset))
            rollup.load = load
            rollups[rollup.day] = rollup
        }
        let metrics = MetricsCalculator.compute(days: start.adding(days: 6)...start.adding(days: 6), rollups: rollups, seed: EWMAState(), plannedKm: nil, rules: RuleSet())
        let mean = 400.0 / 7
        let sd = ((4 * (100 - mean) * (100 - mean) + 3 * mean * mean) / 7).squareRoot()
        #expect(abs(metrics[0].monotony! - mean / sd) < 1e-9)
        #expect(abs(metrics[0].strain! - 400 * mean / sd) < 1e-9)
    }

    @Test("a day's week runs Monday to Sunday")
    func weeks() {
        let sunday = Day("2026-11-22")!
        #expect(sunday.weekday == 7)
        #expect(sunday.weekStart == Day("2026-11-16")!)
        #expect(Day("2026-11-16")!.weekday == 1)
        #expect(Day("2026-02-30") == nil)
        #expect(Day("2024-02-29")!.description == "2024-02-29")
    }
}
