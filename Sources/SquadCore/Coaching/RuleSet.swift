/// The thresholds of every flag and plan rule: a built-in pack, then squad and athlete
/// overrides (DOMAIN.md: "every number here is a default").
///
/// Keys are `rule.parameter`; values are numbers in the unit the key's help names.
public struct RuleSet: Sendable, Equatable {
    /// A built-in set of defaults, selectable per squad.
    public enum Pack: String, Sendable, CaseIterable, Codable {
        /// DOMAIN.md's defaults (the seed articles).
        case seeds
        /// Research anchors: spike at +30% over two weeks (Nielsen 2014), taper -50% (Bosquet 2007).
        case evidence
    }

    /// One tunable number.
    public struct Parameter: Sendable {
        public var key: String
        public var seeds: Double
        public var evidence: Double?
        public var range: ClosedRange<Double>
        public var help: String
    }

    /// Where an effective value came from.
    public enum Source: String, Sendable, Codable { case pack, squad, athlete }

    public private(set) var pack: Pack
    public private(set) var values: [String: Double]
    public private(set) var sources: [String: Source]

    public subscript(_ key: String) -> Double {
        guard let value = values[key] else { preconditionFailure("unknown rule key \(key)") }
        return value
    }

    /// The defaults of `pack`, then squad overrides, then athlete overrides (unknown keys ignored).
    public init(pack: Pack = .seeds, squad: [String: Double] = [:], athlete: [String: Double] = [:]) {
        self.pack = pack
        var values: [String: Double] = [:]
        var sources: [String: Source] = [:]
        for parameter in Self.parameters {
            values[parameter.key] = pack == .evidence ? (parameter.evidence ?? parameter.seeds) : parameter.seeds
            sources[parameter.key] = .pack
        }
        for (key, value) in squad where values[key] != nil {
            values[key] = value
            sources[key] = .squad
        }
        for (key, value) in athlete where values[key] != nil {
            values[key] = value
            sources[key] = .athlete
        }
        self.values = values
        self.sources = sources
    }

    /// Checks one `KEY=VALUE` override; the error names the key and its allowed range.
    public static func validate(key: String, value: Double) throws(ValidationProblem) {
        guard let parameter = parameter(key) else {
            throw ValidationProblem(field: key, message: "unknown rule key; see `coach rules show` for the keys")
        }
        guard value.isFinite, parameter.range.contains(value) else {
            throw ValidationProblem(field: key, message: "must be between \(format(parameter.range.lowerBound)) and \(format(parameter.range.upperBound))")
        }
    }

    public static func parameter(_ key: String) -> Parameter? { parameters.first { $0.key == key } }

    /// The version of a rule's logic, recorded with every flag and revision it makes.
    public static func version(of rule: String) -> Int { 1 }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    private static func p(_ key: String, _ seeds: Double, evidence: Double? = nil, _ range: ClosedRange<Double>, _ help: String) -> Parameter {
        Parameter(key: key, seeds: seeds, evidence: evidence, range: range, help: help)
    }

    /// Every parameter with its DOMAIN.md default (seeds) and research default (evidence).
    public static let parameters: [Parameter] = [
        p("acwr.acute_days", 7, 3...14, "days of the acute load window"),
        p("acwr.chronic_days", 28, 14...60, "days of the chronic load window"),
        p("easy.max_rpe", 4, 1...10, "a run at or under this RPE counts as easy"),
        p("easy.max_hr_pct", 75, 50...95, "a run under this % of max HR counts as easy"),
        p("rhr_elevated.pct", 10, 1...50, "morning resting HR this % over the 28-day baseline"),
        p("rhr_elevated.min_baseline", 7, 3...28, "mornings needed in the baseline"),
        p("hrv_suppressed.sd", 1, 0.25...3, "7-day mean ln(rMSSD) this many SDs under the baseline"),
        p("hrv_suppressed.days", 3, 1...10, "consecutive days under the band"),
        p("hrv_suppressed.min_mornings", 3, 1...7, "HRV mornings needed in the 7-day window (Plews 2014)"),
        p("short_sleep.hours", 7, 4...10, "a night under this many hours is short"),
        p("short_sleep.nights", 3, 1...7, "short nights needed within the window"),
        p("short_sleep.window", 4, 1...14, "nights looked at"),
        p("heavy_legs.days", 2, 1...7, "days with heavy or dead legs"),
        p("heavy_legs.window", 7, 1...14, "days looked at"),
        p("pain.severity", 4, 1...10, "pain at or over this (0-10) is act-level"),
        p("pain.repeat_days", 2, 2...7, "days the same location hurts"),
        p("pain.window", 7, 2...14, "days looked at for repeated pain"),
        p("load_spike.pct", 10, evidence: 30, 1...100, "volume growth over the span that is a spike"),
        p("load_spike.span_weeks", 1, evidence: 2, 1...4, "weeks the growth is measured over"),
        p("load_spike.acwr", 1.5, 1.1...3, "ACWR over this is act-level"),
        p("load_spike.min_km", 10, 0...100, "no spike is reported from a base under this many km"),
        p("perpetual_medium.easy_share", 0.65, 0.3...0.95, "easy share of run time under this (target 0.8)"),
        p("perpetual_medium.window", 14, 7...28, "days looked at"),
        p("perpetual_medium.min_runs", 4, 1...20, "runs needed in the window"),
        p("low_cadence.share", 0.5, 0.1...1, "share of the week's runs under their pace band"),
        p("low_cadence.min_runs", 2, 1...10, "runs with cadence needed"),
        p("form_fade.pct", 5, 1...20, "cadence drop, last quarter vs first, in long runs"),
        p("form_fade.window", 7, 1...28, "days looked at"),
        p("no_warmup.window", 14, 1...28, "days looked back for the latest quality session"),
        p("missed_sessions.compliance", 0.7, 0.1...1, "weekly done/planned volume under this"),
        p("device_silent.days", 3, 1...30, "days without a sync"),
        p("cutback.pct", 25, 10...50, "volume cut of a cutback week (%)"),
        p("cutback_brought_forward.flags", 2, 1...5, "live fatigue flags per day"),
        p("cutback_brought_forward.days", 3, 1...14, "days with that many flags"),
        p("volume_cap.pct", 10, 0...50, "next week <= last completed week + this %"),
        p("hard.max_per_week", 2, 1...3, "hard sessions per week"),
        p("taper.pct", 25, evidence: 50, 10...70, "volume cut of the taper weeks vs the peak week (%)"),
        p("taper.weeks", 2, 1...3, "taper weeks before the race week"),
        p("recovery_swap.lookahead_days", 3, 1...7, "days ahead an act flag reaches"),
    ]
}
