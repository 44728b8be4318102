import Foundation
import SquadCore

/// Fixed digests for golden tests: one act, one watch, one quiet athlete.
enum DigestFixtures {
    static let night = Day("2026-11-22")!

    static func metrics(acwr: Double, weekKm: Double, planned: Double?) -> DailyMetrics {
        DailyMetrics(date: night, km: 14, minutes: 80, load: 320, acuteLoad: 1400, chronicLoad: 1400 / acwr, acwr: acwr, ewmaAcute: 200, ewmaChronic: 190,
                     acwrEWMA: 1.05, monotony: 1.4, strain: 1960, easyShare: 0.82, last7Km: weekKm, previous7Km: 40, weekKm: weekKm,
                     weekPlannedKm: planned, lastWeekCompliance: planned == nil ? nil : 0.92)
    }

    static func flag(_ code: String, _ severity: Severity, _ evidence: [String: JSONValue], id: Int) -> Digest.Flag {
        Digest.Flag(id: UUID(uuidString: "00000000-0000-4000-8000-00000000000\(id)")!, code: code, severity: severity, date: night, rule: code, ruleVersion: 1,
                    evidence: .object(evidence), dataQuality: "fixture data on 7 of the last 7 mornings", status: "open")
    }

    static func digest(_ handle: String, name: String, flags: [Digest.Flag], changes: [JSONValue] = [], acwr: Double, weekKm: Double, planned: Double?, weekly: [Double]) -> Digest {
        let volume = Digest.Volume(weekStart: night.weekStart, doneKm: weekKm, plannedKm: planned, lastWeekCompliance: planned == nil ? nil : 0.92)
        let weeks = weekly.enumerated().map { Digest.WeekVolume(week: night.weekStart.adding(days: -7 * (7 - $0.offset)), km: $0.element, plannedKm: planned) }
        let m = metrics(acwr: acwr, weekKm: weekKm, planned: planned)
        return Digest(athlete: handle, name: name, date: night, period: "night", summary: Digest.summary(flags: flags, planChanges: changes, metrics: m, volume: volume),
                      metrics: m, volume: volume, weeklyVolume: weeks, flags: flags, planChanges: changes,
                      drills: changes.isEmpty ? [] : [Digest.DrillDay(date: night.adding(days: 4), sessionType: "tempo", drills: DrillCatalog.rampWarmup)],
                      sync: Digest.Sync(devices: [.init(name: "\(name)'s watch", lastSync: night), .init(name: "\(name)'s phone", lastSync: night.adding(days: -1))],
                                        openConflicts: 1, duplicatesMerged: 3, daysSinceSync: 0),
                      sinceLast: Digest.SinceLast(previous: night.adding(days: -1), flagsRaised: flags.map(\.code), flagsCleared: [], planChanges: changes.count, revisedDays: []))
    }

    static var squad: [Digest] {
        let swap = PlanChange(rule: "recovery_swap", sessionDate: night.adding(days: 2), before: .make(.interval, on: night.adding(days: 2), metres: 9000),
                              after: .make(.rest, on: night.adding(days: 2), metres: 0), reason: "act-level illness: rest until clear",
                              evidence: .object(["flags": .array([.string("illness")])])).json
        return [
            digest("cy", name: "Cy Moreau", flags: [], acwr: 0.98, weekKm: 38, planned: 40, weekly: [30, 32, 35, 26, 36, 38, 40, 38]),
            digest("bea", name: "Bea Lund", flags: [flag("short_sleep", .watch, ["under_hours": .int(7), "short_nights": .array([.object(["date": .string("2026-11-21"), "hours": .double(6.2)])])], id: 2)],
                   acwr: 1.21, weekKm: 51.5, planned: 48, weekly: [40, 44, 46, 35, 48, 50, 52, 51.5]),
            digest("ana", name: "Ana Costa", flags: [flag("illness", .act, ["date": .string("2026-11-22"), "advice": .string("rest until clear")], id: 1),
                                                     flag("no_warmup", .info, ["date": .string("2026-11-20"), "without_warmup": .int(1)], id: 3)],
                   changes: [swap], acwr: 1.34, weekKm: 42.3, planned: 45, weekly: [36, 39, 42, 31, 44, 47, 45, 42.3]),
        ]
    }
}
