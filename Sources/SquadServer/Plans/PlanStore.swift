import Foundation
import Postgres
import SquadCore

/// All SQL for plans: weeks, the current state of each planned day, revisions, and the
/// `plan_session` entries that carry the plan to devices through the pull feed.
public enum PlanStore {
    /// A plan's header.
    public struct StoredPlan: Sendable, Codable {
        public var planID: UUID
        public var athleteID: Int64
        public var source: String
        public var raceDate: Day?
        public var distance: String?
        public var startDate: Day
        public var endDate: Day
        public var createdBy: String
        public var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case planID = "plan_id", athleteID = "athlete_id", source, raceDate = "race_date", distance
            case startDate = "start_date", endDate = "end_date", createdBy = "created_by", createdAt = "created_at"
        }
    }

    /// One planned day as stored.
    public struct StoredDay: Sendable, Equatable {
        public var sessionID: UUID
        public var session: PlannedSession
        public var phase: Phase
        public var weekCutback: Bool
        public var coachLocked: Bool
        public var revision: Int

        public var planDay: PlanDay { PlanDay(session: session, phase: phase, weekCutback: weekCutback, coachLocked: coachLocked) }
    }

    /// What a plan is made from, kept on its header.
    public struct Origin: Sendable {
        public var source: String
        public var raceDate: Day?
        public var distance: String?
        public var daysPerWeek: Int?
        public var startKm: Double?
        public var cycle: (build: Int, down: Int)
        public var createdBy: String

        public init(source: String, raceDate: Day?, distance: String?, daysPerWeek: Int?, startKm: Double?, cycle: (build: Int, down: Int), createdBy: String) {
            self.source = source
            self.raceDate = raceDate
            self.distance = distance
            self.daysPerWeek = daysPerWeek
            self.startKm = startKm
            self.cycle = cycle
            self.createdBy = createdBy
        }
    }

    /// Stores a new plan as the athlete's active one (the previous one is kept as
    /// `replaced`; its days from the new start on are withdrawn from devices).
    /// Call inside a transaction.
    @discardableResult
    public static func create(_ weeks: [PlanWeek], origin: Origin, athlete: Athlete, now: Date, on connection: Connection) throws -> UUID {
        let sessions = weeks.flatMap(\.sessions)
        guard let first = sessions.map(\.date).min(), let last = sessions.map(\.date).max() else {
            throw AdminError(.invalid, "the plan has no sessions")
        }
        let planID = UUID()
        let original = JSONValue.array(weeks.map(weekJSON))
        if let previous = try active(athleteID: athlete.id, on: connection) {
            try connection.execute("UPDATE plans SET status = 'replaced' WHERE plan_id = \(previous.planID)")
            let withdrawn = try connection.query("""
                SELECT session_id FROM plan_sessions WHERE plan_id = \(previous.planID) AND session_date >= \(first)
                """).map { try $0.decode(UUID.self, at: 0) }
            try withdraw(withdrawn, athleteID: athlete.id, now: now, on: connection)
        }
        try connection.execute("""
            INSERT INTO plans (plan_id, athlete_id, source, race_date, distance, days_per_week, start_km, cycle_build, cycle_down,
                               start_date, end_date, original, created_by)
            VALUES (\(planID), \(athlete.id), \(origin.source), \(origin.raceDate), \(origin.distance), \(origin.daysPerWeek),
                    \(origin.startKm), \(origin.cycle.build), \(origin.cycle.down), \(first), \(last), \(original.canonicalText)::jsonb,
                    \(origin.createdBy))
            """)
        try connection.execute("""
            INSERT INTO plan_weeks (plan_id, week_start, phase, cutback)
            SELECT \(planID), w.start, w.phase, w.cutback
            FROM unnest(\(weeks.map(\.start)), \(weeks.map(\.phase.rawValue))::text[], \(weeks.map(\.cutback))) AS w(start, phase, cutback)
            """)
        var stored: [StoredDay] = []
        for week in weeks {
            for session in week.sessions {
                stored.append(StoredDay(sessionID: UUID(), session: session, phase: week.phase, weekCutback: week.cutback, coachLocked: false, revision: 0))
            }
        }
        try insertSessions(stored, planID: planID, athleteID: athlete.id, on: connection)
        try connection.execute("""
            INSERT INTO plan_revisions (athlete_id, plan_id, author, actor, reason, evidence, after)
            VALUES (\(athlete.id), \(planID), 'plan', \(origin.createdBy),
                    \("\(origin.source) plan: \(weeks.count) weeks from \(first) to \(last)"),
                    \(JSONValue.object(["weeks": .int(Int64(weeks.count)), "sessions": .int(Int64(sessions.count))]).canonicalText)::jsonb,
                    \(original.canonicalText)::jsonb)
            """)
        try publish(stored, planID: planID, athlete: athlete, now: now, on: connection)
        return planID
    }

    static func weekJSON(_ week: PlanWeek) -> JSONValue {
        .object(["start": .string(week.start.description), "phase": .string(week.phase.rawValue), "cutback": .bool(week.cutback),
                 "planned_km": .double((week.plannedKm * 10).rounded() / 10), "sessions": .array(week.sessions.map(\.json))])
    }

    static func insertSessions(_ days: [StoredDay], planID: UUID, athleteID: Int64, on connection: Connection) throws {
        guard !days.isEmpty else { return }
        try connection.execute("""
            INSERT INTO plan_sessions (athlete_id, session_id, plan_id, session_date, session_type, distance_m, duration_s, target, drills, hard, revision)
            SELECT \(athleteID), s.id, \(planID), s.day, s.type, s.distance, s.duration, s.target,
                   CASE WHEN s.drills = '' THEN '{}'::text[] ELSE string_to_array(s.drills, ',') END, s.hard, 0
            FROM unnest(\(days.map(\.sessionID)), \(days.map(\.session.date)), \(days.map(\.session.type.rawValue))::text[],
                        \(days.map(\.session.distanceMetres)), \(days.map(\.session.durationSeconds)), \(days.map(\.session.target))::text[],
                        \(days.map { $0.session.drills.joined(separator: ",") })::text[], \(days.map(\.session.isHard)))
                 AS s(id, day, type, distance, duration, target, drills, hard)
            """)
    }

    public static func active(athleteID: Int64, on connection: Connection) throws -> StoredPlan? {
        try connection.query("""
            SELECT plan_id, athlete_id, source, race_date, distance, start_date, end_date, created_by, created_at
            FROM plans WHERE athlete_id = \(athleteID) AND status = 'active'
            """).first.map { row in
            let (id, athlete, source, race, distance, start, end, by, at) =
                try row.decode((UUID, Int64, String, Day?, String?, Day, Day, String, Date).self)
            return StoredPlan(planID: id, athleteID: athlete, source: source, raceDate: race, distance: distance, startDate: start, endDate: end, createdBy: by, createdAt: at)
        }
    }

    /// The active plans of these athletes.
    public static func activePlans(_ ids: [Int64], on connection: Connection) throws -> [Int64: StoredPlan] {
        var plans: [Int64: StoredPlan] = [:]
        for row in try connection.query("""
            SELECT plan_id, athlete_id, source, race_date, distance, start_date, end_date, created_by, created_at
            FROM plans WHERE athlete_id = ANY(\(ids)) AND status = 'active'
            """) {
            let (id, athlete, source, race, distance, start, end, by, at) =
                try row.decode((UUID, Int64, String, Day?, String?, Day, Day, String, Date).self)
            plans[athlete] = StoredPlan(planID: id, athleteID: athlete, source: source, raceDate: race, distance: distance, startDate: start, endDate: end, createdBy: by, createdAt: at)
        }
        return plans
    }

    /// The planned days of several plans, each between its two dates.
    public static func days(_ windows: [(planID: UUID, from: Day, to: Day)], on connection: Connection) throws -> [UUID: [Day: StoredDay]] {
        guard !windows.isEmpty else { return [:] }
        var result: [UUID: [Day: StoredDay]] = [:]
        for row in try connection.query("""
            SELECT s.plan_id, s.session_id, s.session_date, s.session_type, s.distance_m, s.duration_s, s.target, s.drills, s.note,
                   w.phase, w.cutback, s.coach_locked, s.revision
            FROM unnest(\(windows.map(\.planID)), \(windows.map(\.from)), \(windows.map(\.to))) AS t(plan_id, from_day, to_day)
            JOIN plan_sessions s ON s.plan_id = t.plan_id AND s.session_date BETWEEN t.from_day AND t.to_day
            JOIN plan_weeks w ON w.plan_id = s.plan_id AND w.week_start = date_trunc('week', s.session_date)::date
            """) {
            let planID = try row.decode(UUID.self, at: 0)
            let day = try storedDay(row, offset: 1)
            result[planID, default: [:]][day.session.date] = day
        }
        return result
    }

    static func storedDay(_ row: Row, offset: Int) throws -> StoredDay {
        let id = try row.decode(UUID.self, at: offset)
        let date = try row.decode(Day.self, at: offset + 1)
        let type = try row.decode(String.self, at: offset + 2)
        let session = PlannedSession(date: date, type: SessionType(rawValue: type) ?? .easy, distanceMetres: try row.decode(Int.self, at: offset + 3),
                                     durationSeconds: try row.decode(Int.self, at: offset + 4), target: try row.decode(String.self, at: offset + 5),
                                     drills: try row.decode([String].self, at: offset + 6), note: try row.decode(String?.self, at: offset + 7))
        return StoredDay(sessionID: id, session: session, phase: Phase(rawValue: try row.decode(String.self, at: offset + 8)) ?? .base,
                         weekCutback: try row.decode(Bool.self, at: offset + 9), coachLocked: try row.decode(Bool.self, at: offset + 10),
                         revision: try row.decode(Int.self, at: offset + 11))
    }

    /// Weeks of several plans.
    public static func weeks(planIDs: [UUID], on connection: Connection) throws -> [UUID: [Day: (phase: Phase, cutback: Bool)]] {
        guard !planIDs.isEmpty else { return [:] }
        var result: [UUID: [Day: (phase: Phase, cutback: Bool)]] = [:]
        for row in try connection.query("SELECT plan_id, week_start, phase, cutback FROM plan_weeks WHERE plan_id = ANY(\(planIDs))") {
            let (id, start, phase, cutback) = try row.decode((UUID, Day, String, Bool).self)
            result[id, default: [:]][start] = (Phase(rawValue: phase) ?? .base, cutback)
        }
        return result
    }

    /// Rule revisions already made on or after a night, as "NIGHT DAY RULE", per plan.
    public static func ruleRevisions(_ nights: [(planID: UUID, night: Day)], on connection: Connection) throws -> [UUID: Set<String>] {
        guard !nights.isEmpty else { return [:] }
        var result: [UUID: Set<String>] = [:]
        for row in try connection.query("""
            SELECT r.plan_id, r.night, r.session_date, r.rule
            FROM unnest(\(nights.map(\.planID)), \(nights.map(\.night))) AS t(plan_id, night)
            JOIN plan_revisions r ON r.plan_id = t.plan_id AND r.author = 'rule' AND r.night >= t.night
            """) {
            let (id, night, day, rule) = try row.decode((UUID, Day, Day, String).self)
            result[id, default: []].insert("\(night) \(day) \(rule)")
        }
        return result
    }

    /// The planned days of a plan between two dates, with their weeks.
    public static func days(planID: UUID, from: Day, to: Day, on connection: Connection) throws -> [Day: StoredDay] {
        var days: [Day: StoredDay] = [:]
        for row in try connection.query("""
            SELECT s.session_id, s.session_date, s.session_type, s.distance_m, s.duration_s, s.target, s.drills, s.note,
                   w.phase, w.cutback, s.coach_locked, s.revision
            FROM plan_sessions s
            JOIN plan_weeks w ON w.plan_id = s.plan_id AND w.week_start = date_trunc('week', s.session_date)::date
            WHERE s.plan_id = \(planID) AND s.session_date BETWEEN \(from) AND \(to)
            """) {
            let (id, date, type, distance, duration, target, drills, note, phase, cutback, locked, revision) =
                try row.decode((UUID, Day, String, Int, Int, String, [String], String?, String, Bool, Bool, Int).self)
            let session = PlannedSession(date: date, type: SessionType(rawValue: type) ?? .easy, distanceMetres: distance, durationSeconds: duration,
                                         target: target, drills: drills, note: note)
            days[date] = StoredDay(sessionID: id, session: session, phase: Phase(rawValue: phase) ?? .base, weekCutback: cutback, coachLocked: locked, revision: revision)
        }
        return days
    }

    /// Every week of a plan: its phase and whether it is a cutback week.
    public static func weeks(planID: UUID, on connection: Connection) throws -> [Day: (phase: Phase, cutback: Bool)] {
        var weeks: [Day: (phase: Phase, cutback: Bool)] = [:]
        for row in try connection.query("SELECT week_start, phase, cutback FROM plan_weeks WHERE plan_id = \(planID)") {
            let (start, phase, cutback) = try row.decode((Day, String, Bool).self)
            weeks[start] = (Phase(rawValue: phase) ?? .base, cutback)
        }
        return weeks
    }

    /// Who changed a plan and why.
    public enum Author: Sendable {
        case rule(night: Day)
        case coach(String)
    }

    /// Writes rule or coach changes: the days' new state, one revision each, and the
    /// updated `plan_session` entries for devices. Returns the athlete's new last seq
    /// when entries were published.
    @discardableResult
    public static func apply(_ changes: [PlanChange], author: Author, planID: UUID, athlete: Athlete, days: [Day: StoredDay],
                             cutbackWeeks: Set<Day> = [], now: Date, on connection: Connection) throws -> Int64? {
        guard !changes.isEmpty || !cutbackWeeks.isEmpty else { return nil }
        if !cutbackWeeks.isEmpty {
            try connection.execute("UPDATE plan_weeks SET cutback = true WHERE plan_id = \(planID) AND week_start = ANY(\(Array(cutbackWeeks)))")
        }
        var latest: [Day: StoredDay] = [:]
        for change in changes {
            guard var day = latest[change.sessionDate] ?? days[change.sessionDate] else { continue }
            day.session = change.after
            day.revision += 1
            if cutbackWeeks.contains(change.sessionDate.weekStart) { day.weekCutback = true }
            if case .coach = author { day.coachLocked = true }
            latest[change.sessionDate] = day
        }
        let updated = Array(latest.values)
        if !updated.isEmpty {
            try connection.execute("""
                UPDATE plan_sessions p SET session_type = s.type, distance_m = s.distance, duration_s = s.duration, target = s.target,
                       drills = CASE WHEN s.drills = '' THEN '{}'::text[] ELSE string_to_array(s.drills, ',') END,
                       hard = s.hard, revision = s.revision, coach_locked = p.coach_locked OR s.locked, note = s.note
                FROM unnest(\(updated.map(\.sessionID)), \(updated.map(\.session.type.rawValue))::text[], \(updated.map(\.session.distanceMetres)),
                            \(updated.map(\.session.durationSeconds)), \(updated.map(\.session.target))::text[],
                            \(updated.map { $0.session.drills.joined(separator: ",") })::text[], \(updated.map(\.session.isHard)),
                            \(updated.map(\.revision)), \(updated.map(\.coachLocked)), \(updated.map(\.session.note))::text[])
                     AS s(id, type, distance, duration, target, drills, hard, revision, locked, note)
                WHERE p.athlete_id = \(athlete.id) AND p.session_id = s.id
                """)
        }
        if !changes.isEmpty {
            let (authorName, actor, night): (String, [String], Day?) = switch author {
            case .rule(let night): ("rule", changes.map(\.rule), night)
            case .coach(let name): ("coach", changes.map { _ in name }, nil)
            }
            try connection.execute("""
                INSERT INTO plan_revisions (athlete_id, plan_id, session_date, author, actor, rule, rule_version, night, reason, evidence, before, after)
                SELECT \(athlete.id), \(planID), c.day, \(authorName), c.actor, c.rule, c.version, \(night), c.reason, c.evidence::jsonb, c.before::jsonb, c.after::jsonb
                FROM unnest(\(changes.map(\.sessionDate)), \(actor)::text[], \(changes.map(\.rule))::text[], \(changes.map(\.ruleVersion)),
                            \(changes.map(\.reason))::text[], \(changes.map(\.evidence.canonicalText))::text[],
                            \(changes.map(\.before.json.canonicalText))::text[], \(changes.map(\.after.json.canonicalText))::text[])
                     AS c(day, actor, rule, version, reason, evidence, before, after)
                """)
        }
        return try publish(updated, planID: planID, athlete: athlete, now: now, on: connection)
    }

    // MARK: - The pull feed

    /// Upserts the `plan_session` entries of these days (entry id = session id), each with
    /// a new seq from the athlete's counter, so devices pull them like any change.
    @discardableResult
    static func publish(_ days: [StoredDay], planID: UUID, athlete: Athlete, now: Date, on connection: Connection) throws -> Int64? {
        guard !days.isEmpty else { return nil }
        let head = try EntryStore.lockHead(athleteID: athlete.id, on: connection)
        let millis = Int64(now.timeIntervalSince1970 * 1000)
        let hlc = HLC.tick(local: head.serverHLC ?? HLC(millis: 0, counter: 0, node: "server"), nowMillis: millis, node: "server")
        let sorted = days.sorted { $0.session.date < $1.session.date }
        let docs = sorted.map { day -> String in
            var body = day.session.json.objectValue ?? [:]
            body["plan_id"] = .string(planID.lowercasedText)
            body["phase"] = .string(day.phase.rawValue)
            body["cutback_week"] = .bool(day.weekCutback)
            body["revision"] = .int(Int64(day.revision))
            body["coach_override"] = .bool(day.coachLocked)
            return JSONValue.object([
                "entry_id": .string(day.sessionID.lowercasedText), "kind": .string("plan_session"), "schema_version": .int(1),
                "time": .object(["local_date": .string(day.session.date.description), "tz": .string(athlete.timeZone)]),
                "source": .object(["device_id": .string("server"), "recording_method": .string("planned")]),
                "body": .object(body), "extra": .object([:]),
            ]).canonicalText
        }
        let seqs = sorted.indices.map { head.lastSeq + Int64($0) + 1 }
        try connection.execute("""
            INSERT INTO entries (athlete_id, entry_id, kind, version, seq, doc, merge_state, created_hlc, updated_hlc, local_date)
            SELECT \(athlete.id), e.id, 'plan_session', e.revision + 1, e.seq, e.doc::jsonb, '{}'::jsonb, \(hlc.description), \(hlc.description), e.day
            FROM unnest(\(sorted.map(\.sessionID)), \(sorted.map(\.revision)), \(seqs), \(docs)::text[], \(sorted.map(\.session.date)))
                 AS e(id, revision, seq, doc, day)
            ON CONFLICT (athlete_id, entry_id) DO UPDATE SET
                version = excluded.version, seq = excluded.seq, doc = excluded.doc, deleted = false, deleted_at = NULL,
                updated_hlc = excluded.updated_hlc, local_date = excluded.local_date, updated_at = now()
            """)
        try EntryStore.saveHead(athleteID: athlete.id, lastSeq: seqs.last ?? head.lastSeq, serverHLC: hlc, on: connection)
        return seqs.last
    }

    /// Tombstones `plan_session` entries (a replaced plan's future days).
    static func withdraw(_ ids: [UUID], athleteID: Int64, now: Date, on connection: Connection) throws {
        guard !ids.isEmpty else { return }
        let head = try EntryStore.lockHead(athleteID: athleteID, on: connection)
        let millis = Int64(now.timeIntervalSince1970 * 1000)
        let hlc = HLC.tick(local: head.serverHLC ?? HLC(millis: 0, counter: 0, node: "server"), nowMillis: millis, node: "server")
        let seqs = ids.indices.map { head.lastSeq + Int64($0) + 1 }
        try connection.execute("""
            UPDATE entries e SET deleted = true, deleted_at = now(), seq = w.seq, version = e.version + 1, updated_hlc = \(hlc.description), updated_at = now()
            FROM unnest(\(ids), \(seqs)) AS w(id, seq)
            WHERE e.athlete_id = \(athleteID) AND e.entry_id = w.id
            """)
        try EntryStore.saveHead(athleteID: athleteID, lastSeq: seqs.last ?? head.lastSeq, serverHLC: hlc, on: connection)
    }

    // MARK: - Reading

    /// One revision of a plan, newest last.
    public struct Revision: Sendable, Encodable {
        public var id: Int64
        public var sessionDate: Day?
        public var author: String
        public var actor: String
        public var rule: String?
        public var ruleVersion: Int?
        public var night: Day?
        public var reason: String
        public var evidence: RawJSON
        public var before: RawJSON?
        public var after: RawJSON?
        public var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, sessionDate = "session_date", author, actor, rule, ruleVersion = "rule_version", night, reason, evidence, before, after
            case createdAt = "created_at"
        }
    }

    public static func history(athleteID: Int64, limit: Int = 500, on connection: Connection) throws -> [Revision] {
        try connection.query("""
            SELECT id, session_date, author, actor, rule, rule_version, night, reason, evidence::text,
                   CASE WHEN author = 'plan' THEN NULL ELSE before::text END, CASE WHEN author = 'plan' THEN NULL ELSE after::text END, created_at
            FROM (SELECT * FROM plan_revisions WHERE athlete_id = \(athleteID) ORDER BY id DESC LIMIT \(limit)) r ORDER BY id
            """).map { row in
            let (id, date, author, actor, rule, version, night, reason, evidence, before, after, at) =
                try row.decode((Int64, Day?, String, String, String?, Int?, Day?, String, String, String?, String?, Date).self)
            return Revision(id: id, sessionDate: date, author: author, actor: actor, rule: rule, ruleVersion: version, night: night, reason: reason,
                            evidence: RawJSON(evidence), before: before.map(RawJSON.init), after: after.map(RawJSON.init), createdAt: at)
        }
    }
}

/// JSON text that encodes as itself inside a `Codable` document.
public struct RawJSON: Sendable, Encodable {
    public var text: String
    public init(_ text: String) { self.text = text }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = try? StrictJSON.parse(text) {
            try container.encode(AnyJSON(value))
        } else {
            try container.encode(text)
        }
    }
}

/// A `JSONValue` in a `Codable` document (JSONValue itself codes as plain JSON).
public struct AnyJSON: Sendable, Codable {
    public var value: JSONValue
    public init(_ value: JSONValue) { self.value = value }

    public init(from decoder: any Decoder) throws {
        value = try JSONValue(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }
}
