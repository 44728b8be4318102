/// The kinds of planned day.
public enum SessionType: String, Sendable, Codable, CaseIterable {
    case rest, easy, long, recovery, strides, tempo, interval, hills, fartlek, race, drills, cross

    /// High-intensity sessions: at most 2-3 a week and never on consecutive days (seed 002).
    public var isHard: Bool {
        switch self {
        case .tempo, .interval, .hills, .race: true
        default: false
        }
    }

    /// Sessions that want a RAMP warm-up before them (seeds 001, 004).
    public var isQuality: Bool { self == .tempo || self == .interval || self == .hills }
}

/// A training week's phase (DOMAIN.md "The plan").
public enum Phase: String, Sendable, Codable, CaseIterable {
    case base, build, peak, taper, race, recovery
}

/// A goal race distance.
public enum RaceDistance: String, Sendable, Codable, CaseIterable {
    case fiveK = "5k", tenK = "10k", half, marathon

    public var metres: Int {
        switch self {
        case .fiveK: 5000
        case .tenK: 10000
        case .half: 21097
        case .marathon: 42195
        }
    }

    /// The weekly volume (km, at 5 days a week) the plan grows towards.
    var peakKm: Double {
        switch self {
        case .fiveK: 45
        case .tenK: 55
        case .half: 65
        case .marathon: 80
        }
    }

    /// The longest long run (km).
    var longRunCapKm: Double {
        switch self {
        case .fiveK: 14
        case .tenK: 18
        case .half: 22
        case .marathon: 32
        }
    }

    /// Easy weeks after the race (DOMAIN.md: recovery 1-4 weeks).
    var recoveryWeeks: Int {
        switch self {
        case .fiveK, .tenK: 1
        case .half: 2
        case .marathon: 3
        }
    }
}

/// One planned day: what to run, how far or long, how hard, and the drills.
public struct PlannedSession: Sendable, Equatable, Codable {
    public var date: Day
    public var type: SessionType
    public var distanceMetres: Int
    public var durationSeconds: Int
    /// Target pace or zone, in words a runner reads.
    public var target: String
    /// Drill ids from `DrillCatalog`.
    public var drills: [String]
    public var note: String?

    public init(date: Day, type: SessionType, distanceMetres: Int = 0, durationSeconds: Int = 0, target: String = "", drills: [String] = [], note: String? = nil) {
        self.date = date
        self.type = type
        self.distanceMetres = distanceMetres
        self.durationSeconds = durationSeconds
        self.target = target
        self.drills = drills
        self.note = note
    }

    public var isHard: Bool { type.isHard }
    public var kilometres: Double { Double(distanceMetres) / 1000 }

    enum CodingKeys: String, CodingKey {
        case date, type, distanceMetres = "distance_m", durationSeconds = "duration_s", target, drills, note
    }

    /// As stored in revisions and sent to devices.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "date": .string(date.description), "type": .string(type.rawValue),
            "distance_m": .int(Int64(distanceMetres)), "duration_s": .int(Int64(durationSeconds)),
            "target": .string(target), "drills": .array(drills.map { .string($0) }), "hard": .bool(isHard),
        ]
        if let note { members["note"] = .string(note) }
        return .object(members)
    }

    /// A session of `type` over `metres`, with the standard target, duration and drills.
    public static func make(_ type: SessionType, on date: Day, metres: Int, strides: Bool = false) -> PlannedSession {
        let pace: Double = switch type {
        case .easy, .strides, .drills, .cross: 360
        case .long: 375
        case .recovery: 400
        case .tempo: 300
        case .interval: 330
        case .hills: 345
        case .fartlek: 330
        case .race: 300
        case .rest: 0
        }
        let target: String = switch type {
        case .rest: "rest or easy mobility"
        case .easy: strides ? "easy, conversational (RPE 3-4), then 4-6 x 20 s strides" : "easy, conversational (RPE 3-4, under 75% HRmax)"
        case .strides: "easy with 4-6 x 20 s strides"
        case .long: "easy and steady (RPE 3-4); hold your form in the last quarter"
        case .recovery: "very easy (RPE 2-3)"
        case .tempo: "comfortably hard (RPE 6-7): 20-30 min continuous inside the run"
        case .interval: "hard (RPE 8-9): e.g. 5-6 x 1000 m with equal jog recovery"
        case .hills: "strong uphill (RPE 7-8): 6-10 x 60-90 s, jog down"
        case .fartlek: "playful surges (RPE 5-7)"
        case .race: "race effort"
        case .drills: "technique drills and easy jogging (RPE 2-3)"
        case .cross: "cross-training, easy"
        }
        let drills = type.isQuality ? DrillCatalog.rampWarmup : []
        return PlannedSession(date: date, type: type, distanceMetres: metres, durationSeconds: Int((Double(metres) / 1000 * pace).rounded()),
                              target: target, drills: drills)
    }
}

/// A week of a plan: its phase, whether it is a cutback week, and its seven days.
public struct PlanWeek: Sendable, Equatable, Codable {
    public var start: Day
    public var phase: Phase
    public var cutback: Bool
    public var sessions: [PlannedSession]

    public init(start: Day, phase: Phase, cutback: Bool, sessions: [PlannedSession]) {
        self.start = start
        self.phase = phase
        self.cutback = cutback
        self.sessions = sessions
    }

    public var plannedKm: Double { sessions.reduce(0) { $0 + $1.kilometres } }
    public var hardSessions: Int { sessions.filter(\.isHard).count }
}

/// Drills and when to prescribe them (DOMAIN.md "Drill prescription", seeds 000-004).
public enum DrillCatalog {
    /// RAMP: raise, mobilize, activate, potentiate (seeds 001, 004).
    public static let rampWarmup = ["easy_jog", "leg_swings", "glute_activation", "a_skips", "strides"]
    /// Low cadence (seed 000).
    public static let quickFeet = ["quick_feet", "high_knees", "jump_rope"]
    /// Overstriding (seed 000).
    public static let overstriding = ["a_skips", "wall_drill", "rock_to_run"]
    /// Posture collapsing late: after long runs (seed 000).
    public static let posture = ["posture_march", "marching"]
    /// Hip drop / instability (seed 000).
    public static let stability = ["single_leg_balance", "single_leg_hops", "lateral_band_walks"]

    public static let names: [String: String] = [
        "easy_jog": "easy jog 5-10 min", "leg_swings": "leg swings", "glute_activation": "glute activation",
        "a_skips": "A-skips 2 x 20-30 m", "strides": "strides 4 x 20 s", "quick_feet": "quick feet 2 x 20 m",
        "high_knees": "high knees 2 x 20 m", "jump_rope": "jump rope 2 x 1 min", "wall_drill": "wall drill",
        "rock_to_run": "rock-to-run", "posture_march": "posture march 2 x 20 m", "marching": "marching A-march 2 x 20 m",
        "single_leg_balance": "single-leg balance 3 x 30 s", "single_leg_hops": "single-leg hops 2 x 10",
        "lateral_band_walks": "lateral band walks 2 x 15",
    ]
}
