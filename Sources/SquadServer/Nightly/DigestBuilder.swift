import Foundation
import SquadCore

/// Turns one athlete's nightly outcome into the digest a coach reads.
enum DigestBuilder {
    static func build(_ outcome: NightlyRunner.Outcome, devices: [DeviceSyncState], context: DigestStore.Context) -> Digest {
        let night = outcome.night
        let metrics = outcome.report.metrics
        let volume = Digest.Volume(weekStart: night.weekStart, doneKm: round1(metrics?.weekKm ?? 0), plannedKm: metrics?.weekPlannedKm.map(round1),
                                   lastWeekCompliance: metrics?.lastWeekCompliance.map { ($0 * 100).rounded() / 100 })
        let weeks = (0..<8).map { night.weekStart.adding(days: -7 * (7 - $0)) }
        let weekly = weeks.map { week in
            Digest.WeekVolume(week: week, km: round1(context.weeklyKm[week] ?? 0), plannedKm: context.weeklyPlannedKm[week].map(round1))
        }
        let flags = outcome.digestFlags.compactMap { flag -> Digest.Flag? in
            guard let severity = Severity(rawValue: flag.severity) else { return nil }
            return Digest.Flag(id: flag.id, code: flag.code, severity: severity, date: flag.date, rule: flag.rule, ruleVersion: flag.ruleVersion,
                               evidence: flag.evidence.value, dataQuality: flag.dataQuality, status: flag.status)
        }.sorted { ($0.severity.attentionRank, $0.code) < ($1.severity.attentionRank, $1.code) }
        let changes = outcome.changes.map(\.json)
        let drills = outcome.upcoming.keys.sorted().prefix(while: { $0 <= night.adding(days: 7) }).compactMap { day -> Digest.DrillDay? in
            guard let session = outcome.upcoming[day]?.session, !session.drills.isEmpty else { return nil }
            return Digest.DrillDay(date: day, sessionType: session.type.rawValue, drills: session.drills)
        }
        let lastSync = devices.compactMap(\.lastSync).max()
        let sync = Digest.Sync(devices: devices.map { .init(name: $0.name, lastSync: $0.lastSync) }.sorted { $0.name < $1.name },
                               openConflicts: context.openConflicts, duplicatesMerged: context.duplicatesMerged,
                               daysSinceSync: lastSync.map { max(0, night.ordinal - $0.ordinal) })
        let since = Digest.SinceLast(previous: outcome.previousNight, flagsRaised: outcome.report.flagsRaised.map(\.code).sorted(),
                                     flagsCleared: outcome.report.flagsCleared.map(\.code).sorted(), planChanges: changes.count,
                                     revisedDays: outcome.revisedFrom.map { [$0] } ?? [])
        return Digest(athlete: outcome.athlete.handle, name: outcome.athlete.name, date: night, period: "night",
                      summary: Digest.summary(flags: flags, planChanges: changes, metrics: metrics, volume: volume),
                      metrics: metrics, volume: volume, weeklyVolume: weekly, flags: flags, planChanges: changes, drills: Array(drills),
                      sync: sync, sinceLast: since)
    }

    static func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
