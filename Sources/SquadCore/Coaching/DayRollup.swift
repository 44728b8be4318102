/// What one athlete's counted entries of one local day add up to (one row of `daily_rollups`).
///
/// Distances in metres, durations in seconds, load in Foster session-RPE units
/// (minutes x RPE). Wellness fields are nil when no morning was logged.
public struct DayRollup: Sendable, Equatable {
    public var day: Day
    public var runMetres: Double = 0
    public var runSeconds: Double = 0
    /// Runs plus cross-training.
    public var trainSeconds: Double = 0
    public var load: Double = 0
    public var runs: Int = 0
    public var easySeconds: Double = 0
    public var hardSeconds: Double = 0
    public var cadenceRuns: Int = 0
    /// Runs whose average cadence is under their pace band (seed 001's table).
    public var lowCadenceRuns: Int = 0
    public var longRuns: Int = 0
    /// The biggest cadence drop (%) from the first to the last quarter of a long run's splits.
    public var worstFadePercent: Double?
    /// Tempo, interval and hills sessions.
    public var qualityRuns: Int = 0
    public var qualityWithoutWarmup: Int = 0
    public var restingHR: Double?
    public var hrvRMSSD: Double?
    public var sleepSeconds: Double?
    public var legs: String?
    public var soreness: Double?
    public var illness: Bool?
    public var painMax: Double?
    public var painLocations: [String] = []

    public init(day: Day) {
        self.day = day
    }

    public var runKilometres: Double { runMetres / 1000 }
}

/// Cadence bands by pace (seed 001): easy 160-170 spm, moderate 170-180, fast 180-190.
/// Paces between the table's rows take the band of the nearer slower row.
public enum CadenceBand {
    /// The lowest cadence (steps/min) expected at a pace in seconds per km.
    public static func minimum(secondsPerKm pace: Double) -> Double {
        // 9 min/mile = 335.5 s/km; 7 min/mile = 261 s/km.
        if pace > 335.5 { return 160 }
        if pace > 261 { return 170 }
        return 180
    }
}
