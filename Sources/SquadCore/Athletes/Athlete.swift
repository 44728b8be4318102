import Foundation

/// An athlete as the coach registers them; the basis for load metrics and rules.
///
/// `hrMax` and `hrRest` are beats per minute; `birthYear` lets rules treat
/// masters athletes (DOMAIN.md: 2 + 1 cutback cycle for masters or beginners).
public struct Athlete: Sendable, Equatable, Codable {
    public var id: Int64
    public var handle: String
    public var name: String
    public var timeZone: String
    public var sex: Sex?
    public var birthYear: Int?
    public var hrMax: Int?
    public var hrRest: Int?
    public var level: Level
    public var squads: [String]
    public var createdAt: Date

    public init(
        id: Int64, handle: String, name: String, timeZone: String, sex: Sex? = nil, birthYear: Int? = nil,
        hrMax: Int? = nil, hrRest: Int? = nil, level: Level = .intermediate, squads: [String] = [], createdAt: Date
    ) {
        self.id = id
        self.handle = handle
        self.name = name
        self.timeZone = timeZone
        self.sex = sex
        self.birthYear = birthYear
        self.hrMax = hrMax
        self.hrRest = hrRest
        self.level = level
        self.squads = squads
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, handle, name, sex, level, squads
        case timeZone = "time_zone"
        case birthYear = "birth_year"
        case hrMax = "hr_max"
        case hrRest = "hr_rest"
        case createdAt = "created_at"
    }

    public enum Sex: String, Sendable, Codable, CaseIterable {
        case female, male, other
    }

    /// Training experience; beginners get the shorter cutback cycle.
    public enum Level: String, Sendable, Codable, CaseIterable {
        case beginner, intermediate, advanced, elite
    }
}
