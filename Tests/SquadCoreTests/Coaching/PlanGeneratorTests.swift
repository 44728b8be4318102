import Foundation
import SquadCore
import Testing

@Suite("Plan generator")
struct PlanGeneratorTests {
    static func randomRequest(_ random: inout SeededRandom) -> PlanRequest {
        let from = Day("2026-01-01")!.adding(days: Int(random.next() % 365))
        let weeks = 4 + Int(random.next() % 36)
        return PlanRequest(
            from: from, raceDate: from.weekStart.adding(days: 7 * weeks + Int(random.next() % 7)),
            distance: RaceDistance.allCases[Int(random.next() % 4)], daysPerWeek: 3 + Int(random.next() % 5),
            startKm: 15 + Double(random.next() % 65), cycle: random.next() % 2 == 0 ? (3, 1) : (2, 1))
    }

    @Test("properties over 300 seeded requests: spacing, hard count, cap, cutback cycle, taper, race week")
    func properties() throws {
        var random = SeededRandom(seed: 42)
        let rules = RuleSet()
        for _ in 0..<300 {
            let request = Self.randomRequest(&random)
            let weeks = try PlanGenerator.generate(request, rules: rules)
            let sessions = weeks.flatMap(\.sessions).sorted { $0.date < $1.date }
            let context = "\(request.distance) \(request.daysPerWeek)d \(request.startKm) km from \(request.from) race \(request.raceDate)"
            // Days are unique, start at `from`, and the race is on race day with rest the day before.
            #expect(Set(sessions.map(\.date)).count == sessions.count, "\(context)")
            #expect(sessions.first?.date == request.from, "\(context)")
            let race = sessions.first { $0.type == .race }
            #expect(race?.date == request.raceDate && race?.distanceMetres == request.distance.metres, "\(context)")
            #expect(sessions.first { $0.date == request.raceDate.adding(days: -1) }?.type == .rest, "\(context)")
            // Hard sessions never on consecutive days, at most hard.max_per_week a week.
            for (a, b) in zip(sessions, sessions.dropFirst()) where b.date == a.date.adding(days: 1) {
                #expect(!(a.isHard && b.isHard), "\(context): hard on \(a.date) and \(b.date)")
            }
            for week in weeks {
                #expect(week.hardSessions <= Int(rules["hard.max_per_week"]), "\(context) week \(week.start)")
                #expect(week.sessions.filter { $0.type == .long }.count <= 1)
                #expect(week.sessions.filter { $0.type != .rest }.count <= request.daysPerWeek)
                for session in week.sessions where session.type.isQuality {
                    #expect(session.drills == DrillCatalog.rampWarmup, "quality sessions start with a RAMP warm-up")
                }
            }
            // Growth within the cap over the last build week; a cutback at least every cycle.
            let main = weeks.filter { [.base, .build, .peak].contains($0.phase) && $0.sessions.count == 7 }
            var lastBuild: Double?
            var sinceCutback = 0
            for week in main {
                if week.cutback {
                    sinceCutback = 0
                    #expect(week.plannedKm <= (lastBuild ?? request.startKm) * 0.75 + 0.05, "\(context) cutback \(week.start)")
                } else {
                    sinceCutback += 1
                    #expect(sinceCutback <= request.cycle.build, "\(context): \(sinceCutback) weeks without a cutback by \(week.start)")
                    if let lastBuild { #expect(week.plannedKm <= lastBuild * 1.1 + 0.05, "\(context) week \(week.start)") }
                    lastBuild = week.plannedKm
                }
            }
            // The taper cuts volume from the peak, keeping intensity.
            let peak = main.filter { !$0.cutback }.map(\.plannedKm).max() ?? request.startKm
            for week in weeks where week.phase == .taper {
                #expect(week.plannedKm < peak, "\(context)")
                #expect(week.hardSessions >= 1, "\(context): a taper keeps intensity")
            }
        }
    }

    @Test("a plan a coach would sign: half marathon, 5 days, 30 km now, 21 weeks")
    func halfMarathon() throws {
        let request = PlanRequest(from: Day("2026-11-23")!, raceDate: Day("2027-04-18")!, distance: .half, daysPerWeek: 5, startKm: 30)
        let weeks = try PlanGenerator.generate(request, rules: RuleSet())
        #expect(weeks.map(\.phase.rawValue).joined(separator: ",").hasPrefix("base,base"))
        #expect(weeks.filter { $0.phase == .taper }.count == 2)
        #expect(weeks.filter { $0.phase == .recovery }.count == 2)
        #expect(weeks.first?.plannedKm ?? 0 <= 30)
        let longest = weeks.flatMap(\.sessions).filter { $0.type == .long }.map(\.kilometres).max() ?? 0
        #expect(longest >= 16 && longest <= 22, "longest long run \(longest) km")
    }

    @Test("requests that cannot make a plan name the option")
    func invalid() {
        let today = Day("2026-11-23")!
        let tooSoon = PlanRequest(from: today, raceDate: today.adding(days: 10), distance: .fiveK, daysPerWeek: 4, startKm: 20)
        #expect(tooSoon.problems().map(\.field) == ["--race"])
        let days = PlanRequest(from: today, raceDate: today.adding(days: 100), distance: .fiveK, daysPerWeek: 8, startKm: 2)
        #expect(Set(days.problems().map(\.field)) == ["--days-per-week", "--start-km"])
        #expect(throws: ValidationProblem.self) { try PlanGenerator.generate(tooSoon, rules: RuleSet()) }
    }
}
