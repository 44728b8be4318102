/// The readiness and risk flags of DOMAIN.md ("Flags, with default triggers").
public enum FlagCode: String, Sendable, CaseIterable, Codable, Comparable {
    case rhrElevated = "rhr_elevated"
    case hrvSuppressed = "hrv_suppressed"
    case shortSleep = "short_sleep"
    case heavyLegs = "heavy_legs"
    case pain
    case illness
    case loadSpike = "load_spike"
    case perpetualMedium = "perpetual_medium"
    case lowCadence = "low_cadence"
    case formFade = "form_fade"
    case noWarmup = "no_warmup"
    case missedSessions = "missed_sessions"
    case deviceSilent = "device_silent"

    /// Flags that speak of fatigue; two or more of them on 3+ days bring a cutback forward.
    public var isFatigue: Bool {
        switch self {
        case .rhrElevated, .hrvSuppressed, .shortSleep, .heavyLegs, .illness, .pain, .loadSpike: true
        default: false
        }
    }

    public static func < (lhs: FlagCode, rhs: FlagCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// How urgently a coach should look: `act` changes the plan (recovery swap).
public enum Severity: String, Sendable, Codable, Comparable, CaseIterable {
    case info, watch, act

    private var rank: Int {
        switch self {
        case .info: 0
        case .watch: 1
        case .act: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// A flag condition that holds on a night, with the numbers that made it hold.
public struct FlagSignal: Sendable, Equatable {
    public var code: FlagCode
    public var severity: Severity
    /// The numbers and dates that triggered it.
    public var evidence: JSONValue
    /// How good the data behind it was, e.g. "HRV on 2 of the last 7 mornings".
    public var dataQuality: String

    public var rule: String { code.rawValue }
    public var ruleVersion: Int { RuleSet.version(of: rule) }

    public init(code: FlagCode, severity: Severity, evidence: [String: JSONValue], dataQuality: String) {
        self.code = code
        self.severity = severity
        self.evidence = .object(evidence)
        self.dataQuality = dataQuality
    }
}

/// What a rule says on one night: raise (or keep) the flag, clear it, or nothing to go
/// on (no data: an open flag stays open; missing data is not recovery).
public enum FlagOutcome: Sendable, Equatable {
    case holds(FlagSignal)
    case clear
    case unknown
}

/// A device's last sync, for `device_silent`.
public struct DeviceSyncState: Sendable, Equatable {
    public var name: String
    public var lastSync: Day?
    public var enrolled: Day

    public init(name: String, lastSync: Day?, enrolled: Day) {
        self.name = name
        self.lastSync = lastSync
        self.enrolled = enrolled
    }
}
