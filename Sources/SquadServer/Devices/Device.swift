import Foundation

/// A phone, watch or ring enrolled for one athlete.
public struct Device: Sendable, Equatable, Codable {
    public var id: UUID
    public var athleteID: Int64
    public var athleteHandle: String
    public var name: String
    public var deviceType: String
    public var createdAt: Date
    public var lastSeenAt: Date?
    public var lastSyncAt: Date?
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name
        case athleteID = "athlete_id"
        case athleteHandle = "athlete"
        case deviceType = "type"
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
        case lastSyncAt = "last_sync_at"
        case revokedAt = "revoked_at"
    }

    public static let types = ["watch", "phone", "ring", "other"]
}

/// The device behind a request's bearer token.
public struct AuthenticatedDevice: Sendable, Equatable {
    public var id: UUID
    public var athleteID: Int64
    /// The athlete was erased: the device may still pull (to learn of the deletion), not push.
    public var athleteErased: Bool

    public init(id: UUID, athleteID: Int64, athleteErased: Bool = false) {
        self.id = id
        self.athleteID = athleteID
        self.athleteErased = athleteErased
    }
}
