import Foundation

/// One athlete's digest for a night or a week, as stored and as `--format json` prints it
/// (`Schema/digest.schema.json`). Written by the nightly run; a stored digest never
/// changes afterwards, so yesterday's digest reads the same tomorrow.
public struct Digest: Sendable, Equatable, Codable {
    public var athlete: String
    public var name: String
    public var date: Day
    /// `night` or `week` (then `date` is the week's last processed night).
    public var period: String
    public var summary: String
    public var metrics: DailyMetrics?
    public var volume: Volume
    public var weeklyVolume: [WeekVolume]
    public var flags: [Flag]
    public var planChanges: [JSONValue]
    public var drills: [DrillDay]
    public var sync: Sync
    public var sinceLast: SinceLast

    public init(athlete: String, name: String, date: Day, period: String, summary: String, metrics: DailyMetrics?, volume: Volume,
                weeklyVolume: [WeekVolume], flags: [Flag], planChanges: [JSONValue], drills: [DrillDay], sync: Sync, sinceLast: SinceLast) {
        self.athlete = athlete
        self.name = name
        self.date = date
        self.period = period
        self.summary = summary
        self.metrics = metrics
        self.volume = volume
        self.weeklyVolume = weeklyVolume
        self.flags = flags
        self.planChanges = planChanges
        self.drills = drills
        self.sync = sync
        self.sinceLast = sinceLast
    }

    enum CodingKeys: String, CodingKey {
        case athlete, name, date, period, summary, metrics, volume, weeklyVolume = "weekly_volume", flags
        case planChanges = "plan_changes", drills, sync, sinceLast = "since_last"
    }

    /// This week's volume against the plan.
    public struct Volume: Sendable, Equatable, Codable {
        public var weekStart: Day
        public var doneKm: Double
        public var plannedKm: Double?
        public var lastWeekCompliance: Double?

        public init(weekStart: Day, doneKm: Double, plannedKm: Double?, lastWeekCompliance: Double?) {
            self.weekStart = weekStart
            self.doneKm = doneKm
            self.plannedKm = plannedKm
            self.lastWeekCompliance = lastWeekCompliance
        }

        enum CodingKeys: String, CodingKey {
            case weekStart = "week_start", doneKm = "done_km", plannedKm = "planned_km", lastWeekCompliance = "last_week_compliance"
        }
    }

    public struct WeekVolume: Sendable, Equatable, Codable {
        public var week: Day
        public var km: Double
        public var plannedKm: Double?

        public init(week: Day, km: Double, plannedKm: Double?) {
            self.week = week
            self.km = km
            self.plannedKm = plannedKm
        }

        enum CodingKeys: String, CodingKey { case week, km, plannedKm = "planned_km" }
    }

    /// A flag as the digest shows it.
    public struct Flag: Sendable, Equatable, Codable {
        public var id: UUID
        public var code: String
        public var severity: Severity
        public var date: Day
        public var rule: String
        public var ruleVersion: Int
        public var evidence: JSONValue
        public var dataQuality: String
        public var status: String

        public init(id: UUID, code: String, severity: Severity, date: Day, rule: String, ruleVersion: Int, evidence: JSONValue, dataQuality: String, status: String) {
            self.id = id
            self.code = code
            self.severity = severity
            self.date = date
            self.rule = rule
            self.ruleVersion = ruleVersion
            self.evidence = evidence
            self.dataQuality = dataQuality
            self.status = status
        }

        enum CodingKeys: String, CodingKey {
            case id, code, severity, date, rule, ruleVersion = "rule_version", evidence, dataQuality = "data_quality", status
        }
    }

    public struct DrillDay: Sendable, Equatable, Codable {
        public var date: Day
        public var sessionType: String
        public var drills: [String]

        public init(date: Day, sessionType: String, drills: [String]) {
            self.date = date
            self.sessionType = sessionType
            self.drills = drills
        }

        enum CodingKeys: String, CodingKey { case date, sessionType = "session_type", drills }
    }

    public struct Sync: Sendable, Equatable, Codable {
        public var devices: [Device]
        public var openConflicts: Int
        public var duplicatesMerged: Int
        /// Days since the most recent sync of any device (nil: never synced).
        public var daysSinceSync: Int?

        public init(devices: [Device], openConflicts: Int, duplicatesMerged: Int, daysSinceSync: Int?) {
            self.devices = devices
            self.openConflicts = openConflicts
            self.duplicatesMerged = duplicatesMerged
            self.daysSinceSync = daysSinceSync
        }

        enum CodingKeys: String, CodingKey {
            case devices, openConflicts = "open_conflicts", duplicatesMerged = "duplicates_merged", daysSinceSync = "days_since_sync"
        }

        public struct Device: Sendable, Equatable, Codable {
            public var name: String
            public var lastSync: Day?

            public init(name: String, lastSync: Day?) {
                self.name = name
                self.lastSync = lastSync
            }

            enum CodingKeys: String, CodingKey { case name, lastSync = "last_sync" }
        }
    }

    /// What changed since this athlete's previous digest.
    public struct SinceLast: Sendable, Equatable, Codable {
        public var previous: Day?
        public var flagsRaised: [String]
        public var flagsCleared: [String]
        public var planChanges: Int
        /// Days before the previous digest whose numbers changed (late or edited entries).
        public var revisedDays: [Day]

        public init(previous: Day?, flagsRaised: [String], flagsCleared: [String], planChanges: Int, revisedDays: [Day]) {
            self.previous = previous
            self.flagsRaised = flagsRaised
            self.flagsCleared = flagsCleared
            self.planChanges = planChanges
            self.revisedDays = revisedDays
        }

        enum CodingKeys: String, CodingKey {
            case previous, flagsRaised = "flags_raised", flagsCleared = "flags_cleared", planChanges = "plan_changes", revisedDays = "revised_days"
        }
    }

    /// The most urgent open flag (act, then watch, then info), if any.
    public var worstFlag: Flag? {
        flags.filter { $0.status != "cleared" }.max { ($0.severity, $1.code) < ($1.severity, $0.code) }
    }

    /// The one-line summary: the worst flag and what it changed, load, and the week.
    public static func summary(flags: [Flag], planChanges: [JSONValue], metrics: DailyMetrics?, volume: Volume) -> String {
        var parts: [String] = []
        let open = flags.filter { $0.status != "cleared" }.sorted { ($0.severity, $1.code) > ($1.severity, $0.code) }
        if let worst = open.first {
            let others = open.count > 1 ? " (+\(open.count - 1) more)" : ""
            parts.append("\(worst.severity.rawValue): \(worst.code.replacingOccurrences(of: "_", with: " "))\(others)")
        } else {
            parts.append("no open flags")
        }
        if !planChanges.isEmpty {
            let rules = Set(planChanges.compactMap { $0["rule"]?.stringValue }).sorted().map { $0.replacingOccurrences(of: "_", with: " ") }
            parts.append("\(planChanges.count) plan change\(planChanges.count == 1 ? "" : "s") (\(rules.joined(separator: ", ")))")
        }
        if let acwr = metrics?.acwr { parts.append(String(format: "ACWR %.2f", acwr)) }
        if let planned = volume.plannedKm, planned > 0 {
            parts.append(String(format: "%.0f of %.0f km this week", volume.doneKm, planned))
        } else {
            parts.append(String(format: "%.0f km this week", volume.doneKm))
        }
        return parts.joined(separator: "; ")
    }
}

extension Severity {
    /// Attention order for the squad view: act first.
    public var attentionRank: Int {
        switch self {
        case .act: 0
        case .watch: 1
        case .info: 2
        }
    }
}

extension Array where Element == Digest {
    /// The squad view's order: act, then watch, then info, then the rest; within a
    /// group more open flags first, then by handle.
    public func rankedForAttention() -> [Digest] {
        sorted { lhs, rhs in
            let l = lhs.worstFlag?.severity.attentionRank ?? 3
            let r = rhs.worstFlag?.severity.attentionRank ?? 3
            if l != r { return l < r }
            let lc = lhs.flags.filter { $0.status != "cleared" }.count
            let rc = rhs.flags.filter { $0.status != "cleared" }.count
            if lc != rc { return lc > rc }
            return lhs.athlete < rhs.athlete
        }
    }
}

extension Digest {
    /// The week so far from its stored night digests (oldest first): the latest night's
    /// numbers, with every plan change and flag movement of the week.
    public static func week(_ nights: [Digest]) -> Digest? {
        guard var latest = nights.last else { return nil }
        latest.period = "week"
        latest.planChanges = nights.flatMap(\.planChanges)
        var seen = Set(latest.flags.map(\.id))
        for night in nights.reversed() {
            for flag in night.flags where !seen.contains(flag.id) {
                latest.flags.append(flag)
                seen.insert(flag.id)
            }
        }
        latest.sinceLast = SinceLast(previous: nights.first?.sinceLast.previous, flagsRaised: nights.flatMap(\.sinceLast.flagsRaised).sorted(),
                                     flagsCleared: nights.flatMap(\.sinceLast.flagsCleared).sorted(), planChanges: latest.planChanges.count,
                                     revisedDays: Array(Set(nights.flatMap(\.sinceLast.revisedDays))).sorted())
        latest.summary = summary(flags: latest.flags, planChanges: latest.planChanges, metrics: latest.metrics, volume: latest.volume)
        return latest
    }
}

extension Digest {
    /// The digest as JSON, with the same keys as its `Codable` form, written without
    /// Foundation's encoder (which costs ~0.1 ms a digest; the nightly run writes one per
    /// athlete per night).
    public var json: JSONValue {
        func day(_ value: Day?) -> JSONValue { value.map { .string($0.description) } ?? .null }
        func number(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
        var members: [String: JSONValue] = [
            "athlete": .string(athlete), "name": .string(name), "date": day(date), "period": .string(period), "summary": .string(summary),
            "volume": .object(["week_start": day(volume.weekStart), "done_km": .double(volume.doneKm), "planned_km": number(volume.plannedKm),
                               "last_week_compliance": number(volume.lastWeekCompliance)]),
            "weekly_volume": .array(weeklyVolume.map { .object(["week": day($0.week), "km": .double($0.km), "planned_km": number($0.plannedKm)]) }),
            "flags": .array(flags.map { flag in
                .object(["id": .string(flag.id.uuidString), "code": .string(flag.code), "severity": .string(flag.severity.rawValue), "date": day(flag.date),
                         "rule": .string(flag.rule), "rule_version": .int(Int64(flag.ruleVersion)), "evidence": flag.evidence,
                         "data_quality": .string(flag.dataQuality), "status": .string(flag.status)])
            }),
            "plan_changes": .array(planChanges),
            "drills": .array(drills.map { .object(["date": day($0.date), "session_type": .string($0.sessionType), "drills": .array($0.drills.map { .string($0) })]) }),
            "sync": .object([
                "devices": .array(sync.devices.map { .object(["name": .string($0.name), "last_sync": day($0.lastSync)]) }),
                "open_conflicts": .int(Int64(sync.openConflicts)), "duplicates_merged": .int(Int64(sync.duplicatesMerged)),
                "days_since_sync": sync.daysSinceSync.map { .int(Int64($0)) } ?? .null,
            ]),
            "since_last": .object([
                "previous": day(sinceLast.previous), "flags_raised": .array(sinceLast.flagsRaised.map { .string($0) }),
                "flags_cleared": .array(sinceLast.flagsCleared.map { .string($0) }), "plan_changes": .int(Int64(sinceLast.planChanges)),
                "revised_days": .array(sinceLast.revisedDays.map { .string($0.description) }),
            ]),
        ]
        if let m = metrics {
            members["metrics"] = .object([
                "date": day(m.date), "km": .double(m.km), "minutes": .double(m.minutes), "load": .double(m.load), "acute_load": .double(m.acuteLoad),
                "chronic_load": .double(m.chronicLoad), "acwr": number(m.acwr), "ewma_acute": .double(m.ewmaAcute), "ewma_chronic": .double(m.ewmaChronic),
                "acwr_ewma": number(m.acwrEWMA), "monotony": number(m.monotony), "strain": number(m.strain), "easy_share": number(m.easyShare),
                "last7_km": .double(m.last7Km), "previous7_km": .double(m.previous7Km), "week_km": .double(m.weekKm),
                "week_planned_km": number(m.weekPlannedKm), "last_week_compliance": number(m.lastWeekCompliance),
                "ewma_convention": .string(m.ewmaConvention),
            ])
        } else {
            members["metrics"] = .null
        }
        return .object(members)
    }
}
