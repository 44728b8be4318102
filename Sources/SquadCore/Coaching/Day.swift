/// A calendar day with no time zone (an athlete's local date), as days since 1970-01-01.
///
/// Training weeks start on Monday. Text form is ISO `YYYY-MM-DD`, as PostgreSQL's `date`.
public struct Day: Sendable, Hashable, Comparable, Strideable, CustomStringConvertible, Codable {
    public var ordinal: Int

    public init(ordinal: Int) {
        self.ordinal = ordinal
    }

    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let ordinal = Int(ISOInstant.daysFromCivil(Int64(year), Int64(month), Int64(day)))
        let back = ISOInstant.civilFromDays(Int64(ordinal))
        guard back.1 == Int64(month), back.2 == Int64(day) else { return nil }
        self.ordinal = ordinal
    }

    /// Parses `YYYY-MM-DD`; nil for anything else or an impossible date.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public var components: (year: Int, month: Int, day: Int) {
        let (year, month, day) = ISOInstant.civilFromDays(Int64(ordinal))
        return (Int(year), Int(month), Int(day))
    }

    public var description: String {
        let (year, month, day) = components
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
    public var weekday: Int {
        let shifted = (ordinal + 3) % 7
        return (shifted < 0 ? shifted + 7 : shifted) + 1
    }

    /// The Monday of this day's training week.
    public var weekStart: Day { Day(ordinal: ordinal - (weekday - 1)) }

    public func adding(days: Int) -> Day { Day(ordinal: ordinal + days) }

    public static func < (lhs: Day, rhs: Day) -> Bool { lhs.ordinal < rhs.ordinal }
    public func distance(to other: Day) -> Int { other.ordinal - ordinal }
    public func advanced(by n: Int) -> Day { Day(ordinal: ordinal + n) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = Day(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a date (YYYY-MM-DD)"))
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
