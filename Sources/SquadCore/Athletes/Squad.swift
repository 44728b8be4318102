import Foundation

/// A group of athletes that one or more coaches look after.
public struct Squad: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var athleteCount: Int
    public var createdAt: Date

    public init(id: Int64, name: String, athleteCount: Int, createdAt: Date) {
        self.id = id
        self.name = name
        self.athleteCount = athleteCount
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case athleteCount = "athlete_count"
        case createdAt = "created_at"
    }

    /// Why `name` cannot name a squad, or `nil`.
    public static func nameProblem(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty || trimmed.count > 120 ? "a squad name must be 1 to 120 characters" : nil
    }
}
