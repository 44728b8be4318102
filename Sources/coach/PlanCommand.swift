import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Make, import and read training plans.",
        discussion: """
            A plan is weeks of sessions with a phase per week (base, build, peak, taper, race,
            recovery) and a cutback flag. Every change, by a nightly rule or a coach, is a new
            revision with its reason and evidence; the plan as first made is kept. Devices get
            the plan through the pull feed as plan_session entries.
            """,
        subcommands: [Generate.self, Show.self, History.self, Import.self, Override.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a periodized plan from today (or --from) to a race.",
            discussion: """
                Base, build, peak, taper, race week, recovery. Hard sessions (intervals, tempo,
                hills) never on consecutive days and at most the rules' hard.max_per_week; one long
                run on Sunday; cutback weeks on the cycle; weekly growth within the volume cap;
                a RAMP warm-up before every quality session. Replaces the athlete's active plan.

                Example:
                  coach plan generate ana --race 2027-04-18 --distance half --days-per-week 5 --start-km 30
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Option(help: ArgumentHelp("Race day (YYYY-MM-DD).", valueName: "date")) var race: String
        @Option(help: ArgumentHelp("5k, 10k, half or marathon.", valueName: "distance")) var distance: String
        @Option(name: .customLong("days-per-week"), help: ArgumentHelp("Run days a week, 3 to 7.", valueName: "n")) var daysPerWeek: Int
        @Option(name: .customLong("start-km"), help: ArgumentHelp("Km a week the athlete runs now.", valueName: "km")) var startKm: Double
        @Option(help: ArgumentHelp("Build:cutback weeks, 3:1 (default) or 2:1 for masters and beginners.", valueName: "b:d")) var cycle = "3:1"
        @Option(help: ArgumentHelp("First day of the plan (default: today, UTC).", valueName: "date")) var from: String?
        @Flag(help: "Print the plan as JSON.") var json = false

        func run() async throws {
            guard let raceDay = Day(race) else { throw UsageError(message: "--race: '\(race)' is not a date (YYYY-MM-DD)") }
            guard let raceDistance = RaceDistance(rawValue: distance) else {
                throw UsageError(message: "--distance: must be one of \(RaceDistance.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let parts = cycle.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2 else { throw UsageError(message: "--cycle: '\(cycle)' is not BUILD:DOWN, e.g. 3:1") }
            let start: Day
            if let from {
                guard let day = Day(from) else { throw UsageError(message: "--from: '\(from)' is not a date (YYYY-MM-DD)") }
                start = day
            } else {
                start = Day(ordinal: Int((Date().timeIntervalSince1970 / 86_400).rounded(.down)))
            }
            let request = PlanRequest(from: start, raceDate: raceDay, distance: raceDistance, daysPerWeek: daysPerWeek, startKm: startKm, cycle: (parts[0], parts[1]))
            if let problem = request.problems().first { throw UsageError(message: problem.description) }
            let handle = self.handle
            let (id, weeks) = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try PlanService.generate(handle: handle, request: request, now: Date(), on: $0) }
            }
            if json {
                try Output.json(GeneratedPlan(planID: id, weeks: weeks))
                return
            }
            print("plan \(id.uuidString.lowercased()) for \(handle): \(weeks.count) weeks, \(weeks.first?.start.description ?? "") to \(race)")
            printWeeks(weeks.map { ($0.start, $0.phase, $0.cutback, $0.sessions.map { ($0, false) }) })
        }
    }

    struct GeneratedPlan: Encodable {
        var planID: UUID
        var weeks: [PlanWeek]
        enum CodingKeys: String, CodingKey { case planID = "plan_id", weeks }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an athlete's plan as it stands (with tonight's and coaches' changes).",
            discussion: "Examples:\n  coach plan show ana\n  coach plan show ana --week 2026-12-07 --json")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Option(help: ArgumentHelp("Only the week containing this day.", valueName: "date")) var week: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var weekDay: Day?
            if let week {
                guard let day = Day(week) else { throw UsageError(message: "--week: '\(week)' is not a date (YYYY-MM-DD)") }
                weekDay = day
            }
            let (handle, selected) = (self.handle, weekDay)
            let view = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try PlanService.show(handle: handle, week: selected, on: $0) }
            }
            if json { try Output.json(view); return }
            print("plan \(view.plan.planID.uuidString.lowercased()) (\(view.plan.source)) for \(handle)"
                  + (view.plan.raceDate.map { ", race \($0)" } ?? "") + (view.plan.distance.map { " (\($0))" } ?? ""))
            printWeeks(view.weeks.map { week in (week.start, week.phase, week.cutback, week.sessions.map { ($0.session, $0.coachOverride) }) })
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every revision of an athlete's plan: who, why, and the evidence.",
            discussion: "Example:\n  coach plan history ana --json")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let handle = self.handle
            let revisions = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { connection in
                    try PlanStore.history(athleteID: RuleStore.athlete(handle, on: connection).id, on: connection)
                }
            }
            if json { try Output.json(revisions); return }
            if revisions.isEmpty { print("\(handle) has no plan revisions"); return }
            Output.table(["#", "WHEN", "BY", "DAY", "RULE", "REASON"], revisions.map { revision in
                [String(revision.id), Output.date(revision.createdAt), revision.author == "rule" ? "rule (night \(revision.night?.description ?? "-"))" : "\(revision.author) \(revision.actor)",
                 revision.sessionDate?.description ?? "-", revision.rule.map { "\($0) v\(revision.ruleVersion ?? 1)" } ?? "-", revision.reason]
            })
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a plan from a JSON or YAML file (validated; replaces the active plan).",
            discussion: """
                The file: {"race_date": "2027-04-18", "distance": "half", "weeks": [{"start": "2027-01-04",
                "phase": "base", "cutback": false, "sessions": [{"date": "2027-01-05", "type": "easy",
                "distance_m": 8000, "target": "conversational", "drills": ["a_skips"]}]}]}
                Weeks start on Monday; days not listed are rest days. Every problem is reported
                with its path (weeks[2].sessions[1].type) and nothing is stored.

                Example:
                  coach plan import ana spring.yaml
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Argument(help: "A .json, .yaml or .yml file.") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw UsageError(message: "cannot read '\(file)'") }
            let yaml = file.hasSuffix(".yaml") || file.hasSuffix(".yml")
            let handle = self.handle
            let (id, weeks) = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try PlanService.importPlan(handle: handle, data: data, yaml: yaml, now: Date(), on: $0) }
            }
            print("imported plan \(id.uuidString.lowercased()) for \(handle): \(weeks.count) weeks")
        }
    }
}

extension PlanCommand {
    struct Override: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change one planned day; no nightly rule will change it again.",
            discussion: """
                The change is a plan revision by the coach, reaches the athlete's devices through
                the pull feed, and locks the day against nightly rules.

                Examples:
                  coach plan override ana 2026-12-01 --type rest --note "travel day"
                  coach plan override ana 2026-12-03 --type easy --km 6
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Argument(help: "The day (YYYY-MM-DD).") var date: String
        @Option(help: ArgumentHelp("rest, easy, long, recovery, strides, tempo, interval, hills, fartlek, race, drills or cross.", valueName: "type"))
        var type: String
        @Option(help: ArgumentHelp("Distance in km (default: the day's planned distance; 0 for rest).", valueName: "km")) var km: Double?
        @Option(help: ArgumentHelp("Why, shown to the athlete and in the plan history.", valueName: "text")) var note: String?
        @Option(help: ArgumentHelp("Who is overriding (default: $USER).", valueName: "name")) var coach: String?
        @Flag(help: "Print the change as JSON.") var json = false

        func run() async throws {
            guard let day = Day(date) else { throw UsageError(message: "'\(date)' is not a date (YYYY-MM-DD)") }
            guard let sessionType = SessionType(rawValue: type) else {
                throw UsageError(message: "--type: must be one of \(SessionType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let (handle, km, note) = (self.handle, self.km, self.note)
            let coach = self.coach ?? ProcessInfo.processInfo.environment["USER"] ?? "coach"
            let change: JSONValue
            if let api = try remote.api() {
                var body: [String: JSONValue] = ["date": .string(day.description), "type": .string(sessionType.rawValue)]
                if let km { body["km"] = .double(km) }
                if let note { body["note"] = .string(note) }
                change = try await api.post("/v1/coach/athletes/\(handle)/plan/override", body: .object(body))
            } else {
                change = try await CommandContext.with(global) { context in
                    try await context.pool.withTransaction { connection in
                        try PlanService.override(handle: handle, date: day, type: sessionType, kilometres: km, note: note, coach: coach, now: Date(), on: connection).json
                    }
                }
            }
            if json { try Output.json(change); return }
            print("\(handle) \(day): \(DigestRenderer.changeText(change))")
        }
    }
}

/// Prints weeks as a coach reads them: a header per week, a line per session.
func printWeeks(_ weeks: [(start: Day, phase: Phase, cutback: Bool, sessions: [(PlannedSession, Bool)])]) {
    let names = ["", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    for week in weeks {
        let km = week.sessions.reduce(0.0) { $0 + $1.0.kilometres }
        let hard = week.sessions.filter { $0.0.isHard }.count
        print("\nweek of \(week.start)  \(week.phase.rawValue)\(week.cutback ? " (cutback)" : "")  \(String(format: "%.1f", km)) km, \(hard) hard")
        for (session, override) in week.sessions where session.type != .rest {
            let distance = session.distanceMetres > 0 ? String(format: "%5.1f km", session.kilometres) : "        "
            let drills = session.drills.isEmpty ? "" : "  drills: " + session.drills.joined(separator: ", ")
            print("  \(names[session.date.weekday]) \(session.date)  \(session.type.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(distance)  \(session.target)\(drills)\(override ? "  [coach]" : "")")
        }
    }
}
