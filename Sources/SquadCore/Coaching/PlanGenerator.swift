import Foundation

/// What `coach plan generate` asks for.
public struct PlanRequest: Sendable, Equatable {
    public var from: Day
    public var raceDate: Day
    public var distance: RaceDistance
    public var daysPerWeek: Int
    /// Weekly km the athlete runs now: the first week's volume.
    public var startKm: Double
    /// Build weeks, then cutback weeks (3:1 default, 2:1 for masters or beginners).
    public var cycle: (build: Int, down: Int)

    public init(from: Day, raceDate: Day, distance: RaceDistance, daysPerWeek: Int, startKm: Double, cycle: (build: Int, down: Int) = (3, 1)) {
        self.from = from
        self.raceDate = raceDate
        self.distance = distance
        self.daysPerWeek = daysPerWeek
        self.startKm = startKm
        self.cycle = cycle
    }

    public static func == (lhs: PlanRequest, rhs: PlanRequest) -> Bool {
        lhs.from == rhs.from && lhs.raceDate == rhs.raceDate && lhs.distance == rhs.distance && lhs.daysPerWeek == rhs.daysPerWeek
            && lhs.startKm == rhs.startKm && lhs.cycle == rhs.cycle
    }

    /// Every reason the request cannot make a plan, the option named.
    public func problems() -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        if !(3...7).contains(daysPerWeek) { problems.append(.init(field: "--days-per-week", message: "must be 3 to 7")) }
        if !(startKm >= 5 && startKm <= 250) { problems.append(.init(field: "--start-km", message: "must be 5 to 250 km a week")) }
        if !(1...6).contains(cycle.build) || !(1...2).contains(cycle.down) {
            problems.append(.init(field: "--cycle", message: "must be BUILD:DOWN with 1-6 build weeks and 1-2 down weeks, e.g. 3:1"))
        }
        let weeks = (raceDate.weekStart.ordinal - from.weekStart.ordinal) / 7
        if raceDate <= from {
            problems.append(.init(field: "--race", message: "must be after the plan's first day (\(from))"))
        } else if weeks < 3 {
            problems.append(.init(field: "--race", message: "is \(weeks) weeks away; a plan needs at least 3 weeks before the race week"))
        } else if weeks > 52 {
            problems.append(.init(field: "--race", message: "is \(weeks) weeks away; plans reach at most 52 weeks ahead"))
        }
        return problems
    }
}

/// Makes a periodized plan (DOMAIN.md "The plan"; seed 001 annual cycles, seed 002 caps).
///
/// Base, build, peak, taper, race week, recovery. Build weeks grow by at most the volume
/// cap over the previous build week, towards a ceiling for the distance; cutback weeks
/// come on the cycle at -`cutback.pct`; a week after a cutback resumes at the last build
/// week's volume (the cap is measured against the last non-cutback week). Taper weeks cut
/// `taper.pct` from the peak, linearly (seeds: 20-30%, evidence: Bosquet 2007, 41-60%).
/// Hard sessions (tempo, interval, hills) fall on Tuesday and Thursday, never on
/// consecutive days, at most `hard.max_per_week`; the long run is on Sunday; every
/// quality session starts with a RAMP warm-up.
public enum PlanGenerator {
    public static func generate(_ request: PlanRequest, rules: RuleSet) throws(ValidationProblem) -> [PlanWeek] {
        if let problem = request.problems().first { throw problem }
        let firstWeek = request.from.weekStart
        let raceWeek = request.raceDate.weekStart
        let preRace = (raceWeek.ordinal - firstWeek.ordinal) / 7
        let taperWeeks = min(Int(rules["taper.weeks"]), request.distance == .fiveK || request.distance == .tenK ? 1 : 2, preRace - 2)
        let main = preRace - taperWeeks
        let peakWeeks = main >= 8 ? 2 : (main >= 4 ? 1 : 0)
        let buildWeeks = min(8, (main - peakWeeks) * 2 / 5)
        let baseWeeks = main - peakWeeks - buildWeeks

        let cap = rules["volume_cap.pct"] / 100
        let cutbackCut = rules["cutback.pct"] / 100
        let ceiling = max(request.startKm, request.distance.peakKm * Double(request.daysPerWeek) / 5)
        var weeks: [PlanWeek] = []
        var lastBuildKm = request.startKm
        var cycleIndex = 0
        var peakKm = request.startKm
        for index in 0..<main {
            let start = firstWeek.adding(days: 7 * index)
            let phase: Phase = index < baseWeeks ? .base : (index < baseWeeks + buildWeeks ? .build : .peak)
            let cutback = index > 0 && cycleIndex % (request.cycle.build + request.cycle.down) >= request.cycle.build
            cycleIndex += 1
            let km: Double
            if index == 0 {
                km = request.startKm
            } else if cutback {
                km = lastBuildKm * (1 - cutbackCut)
            } else {
                km = min(lastBuildKm * (1 + cap), ceiling)
            }
            let made = week(start: start, phase: phase, cutback: cutback, km: km, request: request, rules: rules)
            // Growth is measured on what was planned (sessions are rounded down to 100 m).
            if !cutback {
                lastBuildKm = made.plannedKm
                peakKm = max(peakKm, made.plannedKm)
            }
            weeks.append(made)
        }
        for index in 0..<taperWeeks {
            let start = firstWeek.adding(days: 7 * (main + index))
            let km = peakKm * (1 - rules["taper.pct"] / 100 * Double(index + 1) / Double(taperWeeks))
            weeks.append(week(start: start, phase: .taper, cutback: false, km: km, request: request, rules: rules))
        }
        weeks.append(raceWeekPlan(start: raceWeek, peakKm: peakKm, request: request))
        for index in 0..<request.distance.recoveryWeeks {
            let start = raceWeek.adding(days: 7 * (index + 1))
            weeks.append(week(start: start, phase: .recovery, cutback: false, km: peakKm * (index == 0 ? 0.35 : 0.5), request: request, rules: rules))
        }
        // The day before the race is a rest day, even when it falls in the week before.
        for index in weeks.indices {
            for day in weeks[index].sessions.indices where weeks[index].sessions[day].date == request.raceDate.adding(days: -1) {
                weeks[index].sessions[day] = .make(.rest, on: weeks[index].sessions[day].date, metres: 0)
            }
        }
        // Days before the first day are not planned.
        return weeks.map { week in
            var week = week
            week.sessions.removeAll { $0.date < request.from }
            return week
        }
    }

    /// Run days by days per week: (weekday, role). Roles: q = quality slot, e = easy, l = long.
    static func layout(_ days: Int) -> [(Int, Character)] {
        switch days {
        case 3: [(2, "q"), (4, "e"), (7, "l")]
        case 4: [(2, "q"), (4, "q"), (6, "e"), (7, "l")]
        case 5: [(2, "q"), (3, "e"), (4, "q"), (6, "e"), (7, "l")]
        case 6: [(1, "e"), (2, "q"), (3, "e"), (4, "q"), (6, "e"), (7, "l")]
        default: [(1, "e"), (2, "q"), (3, "e"), (4, "q"), (5, "e"), (6, "e"), (7, "l")]
        }
    }

    static func hardTypes(_ phase: Phase, cutback: Bool, maxHard: Int) -> [SessionType] {
        let types: [SessionType] = switch phase {
        case .base: [.hills]
        case .build, .peak: [.interval, .tempo]
        case .taper: [.interval]
        case .race, .recovery: []
        }
        return Array(types.prefix(cutback ? min(1, maxHard) : maxHard))
    }

    static func week(start: Day, phase: Phase, cutback: Bool, km: Double, request: PlanRequest, rules: RuleSet) -> PlanWeek {
        let slots = layout(request.daysPerWeek)
        let qualitySlots = slots.filter { $0.1 == "q" }.count
        var hard = hardTypes(phase, cutback: cutback, maxHard: min(Int(rules["hard.max_per_week"]), qualitySlots))
        if phase == .recovery { hard = [] }
        // Shares of the week: long run 30% (capped), each quality session 17%, easy days the rest.
        let total = km * 1000
        let longMetres = min(total * (request.daysPerWeek == 3 ? 0.35 : 0.3), request.distance.longRunCapKm * 1000)
        let qualityMetres = total * (request.daysPerWeek == 3 ? 0.3 : 0.17)
        let easyCount = slots.count - 1 - hard.count
        let easyMetres = easyCount > 0 ? (total - longMetres - qualityMetres * Double(hard.count)) / Double(easyCount) : 0
        var sessions: [PlannedSession] = []
        var hardQueue = hard
        var easyIndex = 0
        for weekday in 1...7 {
            let date = start.adding(days: weekday - 1)
            guard let slot = slots.first(where: { $0.0 == weekday }) else {
                sessions.append(.make(.rest, on: date, metres: 0))
                continue
            }
            switch slot.1 {
            case "l":
                sessions.append(.make(phase == .recovery ? .easy : .long, on: date, metres: floor100(longMetres)))
            case "q" where !hardQueue.isEmpty:
                sessions.append(.make(hardQueue.removeFirst(), on: date, metres: floor100(qualityMetres)))
            default:
                let type: SessionType = phase == .recovery ? .recovery : .easy
                sessions.append(.make(type, on: date, metres: floor100(easyMetres), strides: phase != .recovery && easyIndex == 0 && phase != .base))
                easyIndex += 1
            }
        }
        return PlanWeek(start: start, phase: phase, cutback: cutback, sessions: sessions)
    }

    static func raceWeekPlan(start: Day, peakKm: Double, request: PlanRequest) -> PlanWeek {
        let slots = Set(layout(request.daysPerWeek).map(\.0))
        var sessions: [PlannedSession] = []
        let easyMetres = min(peakKm * 0.1, 8) * 1000
        var stridesGiven = false
        for weekday in 1...7 {
            let date = start.adding(days: weekday - 1)
            if date == request.raceDate {
                sessions.append(.make(.race, on: date, metres: request.distance.metres))
            } else if date > request.raceDate || date == request.raceDate.adding(days: -1) || !slots.contains(weekday) {
                sessions.append(.make(.rest, on: date, metres: 0))
            } else {
                let strides = !stridesGiven && date >= request.raceDate.adding(days: -3)
                stridesGiven = stridesGiven || strides
                sessions.append(.make(.easy, on: date, metres: floor100(easyMetres), strides: strides))
            }
        }
        return PlanWeek(start: start, phase: .race, cutback: false, sessions: sessions)
    }

    static func floor100(_ metres: Double) -> Int { max(0, Int((metres / 100).rounded(.down)) * 100) }
}
