import Foundation
import Postgres
import SquadCore
import Yams

/// Making, importing and reading plans for `coach plan ...`.
public enum PlanService {
    /// Generates a periodized plan and stores it as the athlete's active plan.
    public static func generate(handle: String, request: PlanRequest, now: Date, on connection: Connection) throws -> (UUID, [PlanWeek]) {
        let athlete = try RuleStore.athlete(handle, on: connection)
        let rules = try RuleStore.effective(athleteID: athlete.id, on: connection)
        let weeks: [PlanWeek]
        do {
            weeks = try PlanGenerator.generate(request, rules: rules)
        } catch {
            throw AdminError(.invalid, error.description)
        }
        let origin = PlanStore.Origin(source: "generated", raceDate: request.raceDate, distance: request.distance.rawValue,
                                      daysPerWeek: request.daysPerWeek, startKm: request.startKm, cycle: request.cycle, createdBy: "coach")
        let id = try PlanStore.create(weeks, origin: origin, athlete: athlete, now: now, on: connection)
        return (id, weeks)
    }

    /// A plan file as `coach plan import` reads it (JSON or YAML):
    /// `{"race_date": "2027-04-18", "distance": "half", "weeks": [{"start": "2027-01-04",
    /// "phase": "base", "cutback": false, "sessions": [{"date": "2027-01-05", "type": "easy",
    /// "distance_m": 8000, "target": "...", "drills": ["a_skips"]}]}]}`. Days a week does
    /// not list are rest days.
    public struct ImportedPlan: Sendable, Decodable {
        public var raceDate: String?
        public var distance: String?
        public var weeks: [ImportedWeek]

        enum CodingKeys: String, CodingKey { case raceDate = "race_date", distance, weeks }
    }

    public struct ImportedWeek: Sendable, Decodable {
        public var start: String
        public var phase: String
        public var cutback: Bool?
        public var sessions: [ImportedSession]
    }

    public struct ImportedSession: Sendable, Decodable {
        public var date: String
        public var type: String
        public var distanceM: Int?
        public var durationS: Int?
        public var target: String?
        public var drills: [String]?
        public var note: String?

        enum CodingKeys: String, CodingKey { case date, type, distanceM = "distance_m", durationS = "duration_s", target, drills, note }
    }

    /// Parses and validates a plan file; every problem is reported with its path.
    public static func parsePlan(_ data: Data, yaml: Bool) throws -> (weeks: [PlanWeek], raceDate: Day?, distance: String?) {
        let plan: ImportedPlan
        do {
            if yaml {
                plan = try YAMLDecoder().decode(ImportedPlan.self, from: String(decoding: data, as: UTF8.self))
            } else {
                _ = try StrictJSON.parse(Array(data))  // duplicate keys and bad numbers are errors, as in sync
                plan = try JSONDecoder().decode(ImportedPlan.self, from: data)
            }
        } catch let error as DecodingError {
            throw AdminError(.invalid, "plan file: \(describe(error))")
        } catch {
            throw AdminError(.invalid, "plan file: \(error)")
        }
        var problems: [String] = []
        var weeks: [PlanWeek] = []
        var seenDates: Set<Day> = []
        let raceDate = plan.raceDate.flatMap(Day.init)
        if let text = plan.raceDate, raceDate == nil { problems.append("race_date: '\(text)' is not a date (YYYY-MM-DD)") }
        if let distance = plan.distance, RaceDistance(rawValue: distance) == nil {
            problems.append("distance: must be one of \(RaceDistance.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if plan.weeks.isEmpty { problems.append("weeks: the plan has no weeks") }
        for (w, week) in plan.weeks.enumerated() {
            let path = "weeks[\(w)]"
            guard let start = Day(week.start) else { problems.append("\(path).start: '\(week.start)' is not a date"); continue }
            if start.weekday != 1 { problems.append("\(path).start: \(start) is not a Monday") }
            guard let phase = Phase(rawValue: week.phase) else {
                problems.append("\(path).phase: must be one of \(Phase.allCases.map(\.rawValue).joined(separator: ", "))"); continue
            }
            var byDate: [Day: PlannedSession] = [:]
            for (s, item) in week.sessions.enumerated() {
                let spath = "\(path).sessions[\(s)]"
                guard let date = Day(item.date) else { problems.append("\(spath).date: '\(item.date)' is not a date"); continue }
                guard date.weekStart == start.weekStart else { problems.append("\(spath).date: \(date) is not in the week of \(start)"); continue }
                guard let type = SessionType(rawValue: item.type) else {
                    problems.append("\(spath).type: '\(item.type)' is not one of \(SessionType.allCases.map(\.rawValue).joined(separator: ", "))"); continue
                }
                if let metres = item.distanceM, !(0...300_000).contains(metres) { problems.append("\(spath).distance_m: must be 0 to 300000"); continue }
                if let seconds = item.durationS, !(0...86_400).contains(seconds) { problems.append("\(spath).duration_s: must be 0 to 86400"); continue }
                if byDate[date] != nil || seenDates.contains(date) { problems.append("\(spath).date: \(date) is planned twice"); continue }
                var session = PlannedSession.make(type, on: date, metres: item.distanceM ?? 0)
                if let seconds = item.durationS { session.durationSeconds = seconds }
                if let target = item.target { session.target = target }
                if let drills = item.drills { session.drills = drills }
                session.note = item.note
                byDate[date] = session
            }
            seenDates.formUnion(byDate.keys)
            let sessions = (0..<7).map { start.weekStart.adding(days: $0) }.map { byDate[$0] ?? .make(.rest, on: $0, metres: 0) }
            weeks.append(PlanWeek(start: start.weekStart, phase: phase, cutback: week.cutback ?? false, sessions: sessions))
        }
        guard problems.isEmpty else { throw AdminError(.invalid, "plan file has \(problems.count) problem(s):\n  " + problems.joined(separator: "\n  ")) }
        return (weeks.sorted { $0.start < $1.start }, raceDate, plan.distance)
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)).\(key.stringValue): missing".trimmingCharacters(in: CharacterSet(charactersIn: "."))
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    public static func importPlan(handle: String, data: Data, yaml: Bool, now: Date, on connection: Connection) throws -> (UUID, [PlanWeek]) {
        let athlete = try RuleStore.athlete(handle, on: connection)
        let (weeks, raceDate, distance) = try parsePlan(data, yaml: yaml)
        let origin = PlanStore.Origin(source: "imported", raceDate: raceDate, distance: distance, daysPerWeek: nil, startKm: nil, cycle: (3, 1), createdBy: "coach")
        return (try PlanStore.create(weeks, origin: origin, athlete: athlete, now: now, on: connection), weeks)
    }

    /// The active plan's weeks as they stand now (revisions applied).
    public struct PlanView: Sendable, Encodable {
        public var plan: PlanStore.StoredPlan
        public var weeks: [WeekView]
    }

    public struct WeekView: Sendable, Encodable {
        public var start: Day
        public var phase: Phase
        public var cutback: Bool
        public var plannedKm: Double
        public var sessions: [SessionView]
        enum CodingKeys: String, CodingKey { case start, phase, cutback, plannedKm = "planned_km", sessions }
    }

    public struct SessionView: Sendable, Encodable {
        public var session: PlannedSession
        public var revision: Int
        public var coachOverride: Bool

        public func encode(to encoder: any Encoder) throws {
            var body = session.json.objectValue ?? [:]
            body["revision"] = .int(Int64(revision))
            body["coach_override"] = .bool(coachOverride)
            try AnyJSON(.object(body)).encode(to: encoder)
        }
    }

    public static func show(handle: String, week: Day?, on connection: Connection) throws -> PlanView {
        let athlete = try RuleStore.athlete(handle, on: connection)
        guard let plan = try PlanStore.active(athleteID: athlete.id, on: connection) else {
            throw AdminError(.notFound, "\(handle) has no plan; make one with `coach plan generate \(handle) --race DATE --distance half ...`")
        }
        let from = week?.weekStart ?? plan.startDate.weekStart
        let to = week.map { $0.weekStart.adding(days: 6) } ?? plan.endDate
        let days = try PlanStore.days(planID: plan.planID, from: from, to: to, on: connection)
        let weeks = try PlanStore.weeks(planID: plan.planID, on: connection)
        var views: [WeekView] = []
        for start in weeks.keys.sorted() where start >= from.weekStart && start <= to {
            let sessions = (0..<7).compactMap { days[start.adding(days: $0)] }
            guard !sessions.isEmpty, let info = weeks[start] else { continue }
            let km = sessions.reduce(0.0) { $0 + $1.session.kilometres }
            views.append(WeekView(start: start, phase: info.phase, cutback: info.cutback, plannedKm: (km * 10).rounded() / 10,
                                  sessions: sessions.map { SessionView(session: $0.session, revision: $0.revision, coachOverride: $0.coachLocked) }))
        }
        return PlanView(plan: plan, weeks: views)
    }
}

extension PlanService {
    /// A coach's change of one planned day: recorded as a revision by the coach, sent to
    /// devices, and locked so that no nightly rule ever changes that day again.
    public static func override(handle: String, date: Day, type: SessionType, kilometres: Double?, note: String?, coach: String,
                                now: Date, on connection: Connection) throws -> PlanChange {
        let athlete = try RuleStore.athlete(handle, on: connection)
        guard let plan = try PlanStore.active(athleteID: athlete.id, on: connection) else {
            throw AdminError(.notFound, "\(handle) has no plan to override; make one with `coach plan generate`")
        }
        let days = try PlanStore.days(planID: plan.planID, from: date, to: date, on: connection)
        guard let day = days[date] else {
            throw AdminError(.notFound, "\(handle)'s plan has no day \(date) (it runs from \(plan.startDate) to \(plan.endDate))")
        }
        if let kilometres, !(0...300).contains(kilometres) { throw AdminError(.invalid, "--km: must be 0 to 300") }
        let metres = kilometres.map { Int(($0 * 1000).rounded()) } ?? (type == .rest ? 0 : day.session.distanceMetres)
        var after = PlannedSession.make(type, on: date, metres: metres)
        if type == day.session.type { after.target = day.session.target; after.drills = day.session.drills }
        after.note = note
        let change = PlanChange(rule: "coach_override", sessionDate: date, before: day.session, after: after,
                                reason: note.map { "coach override: \($0)" } ?? "coach override",
                                evidence: .object(["coach": .string(coach)]))
        try PlanStore.apply([change], author: .coach(coach), planID: plan.planID, athlete: athlete, days: days, now: now, on: connection)
        try AuditStore.record(athleteID: athlete.id, actor: coach, action: "plan.override", subject: date.description,
                              before: change.before.json, after: change.after.json, note: note, on: connection)
        return change
    }
}
