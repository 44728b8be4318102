import Foundation
import Postgres
import SquadCore

/// All SQL for devices and their tokens.
public enum DeviceStore {
    /// Enrolls a device and returns it with its token, which is not stored: the database
    /// keeps its lookup id and the HMAC of its secret under `key`.
    ///
    /// - Parameter token: a token to use instead of a random one (the simulator's
    ///   deterministic tokens); a device already holding it is returned as it is.
    public static func enroll(
        handle: String, name: String, type: String, token given: String? = nil, key: TokenKey, on connection: Connection
    ) throws -> (Device, String) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 120 else { throw AdminError(.invalid, "a device name must be 1 to 120 characters") }
        guard Device.types.contains(type) else { throw AdminError(.invalid, "device type must be one of \(Device.types.joined(separator: ", "))") }
        let athlete = try connection.query("SELECT id FROM athletes WHERE handle = \(handle)")
        guard let athleteRow = athlete.first else { throw AdminError(.notFound, "no athlete with handle '\(handle)'") }
        let athleteID = try athleteRow.decode(Int64.self, at: 0)
        try key.check(on: connection)
        let token: String
        let parts: DeviceToken.Parts
        if let given {
            guard let given = DeviceToken.parse(given) else { throw AdminError(.invalid, "a given token must look like sq_<16 characters>.<secret>") }
            (token, parts) = (DeviceToken.devicePrefix + given.lookup + "." + given.secret, given)
            if let existing = try connection.query("SELECT id FROM devices WHERE token_lookup = \(parts.lookup)").first {
                guard let device = try find(try existing.decode(UUID.self, at: 0), on: connection) else { throw AdminError(.notFound, "device vanished") }
                return (device, token)
            }
        } else {
            (token, parts) = DeviceToken.generate()
        }
        let rows = try connection.query("""
            INSERT INTO devices (athlete_id, name, device_type, token_lookup, token_hash)
            VALUES (\(athleteID), \(trimmed), \(type), \(parts.lookup), \(key.mac(parts.secret)))
            RETURNING id
            """)
        let id = try rows[0].decode(UUID.self, at: 0)
        guard let device = try find(id, on: connection) else { throw AdminError(.notFound, "device vanished") }
        return (device, token)
    }

    /// A device the server uses itself (imports, the coach's edits): its token is never
    /// shown, so it is stored as a random lookup id and a random hash that no token matches.
    public static func enrollInternal(handle: String, name: String, type: String, on connection: Connection) throws -> Device {
        let athlete = try connection.query("SELECT id FROM athletes WHERE handle = \(handle)")
        guard let athleteRow = athlete.first else { throw AdminError(.notFound, "no athlete with handle '\(handle)'") }
        let (_, parts) = DeviceToken.generate()
        let unusable = DeviceToken.legacyHash(DeviceToken.generate().token)
        let rows = try connection.query("""
            INSERT INTO devices (athlete_id, name, device_type, token_lookup, token_hash)
            VALUES (\(try athleteRow.decode(Int64.self, at: 0)), \(name), \(type), \(parts.lookup), \(unusable))
            RETURNING id
            """)
        guard let device = try find(try rows[0].decode(UUID.self, at: 0), on: connection) else { throw AdminError(.notFound, "device vanished") }
        return device
    }

    public static func list(handle: String?, on connection: Connection) throws -> [Device] {
        var filter: SQL = ""
        if let handle {
            guard try !connection.query("SELECT 1 FROM athletes WHERE handle = \(handle)").isEmpty else {
                throw AdminError(.notFound, "no athlete with handle '\(handle)'")
            }
            filter = "WHERE a.handle = \(handle)"
        }
        return try connection.query("\(selectDevices) \(filter) ORDER BY a.handle, d.created_at").map(decode)
    }

    public static func find(_ id: UUID, on connection: Connection) throws -> Device? {
        try connection.query("\(selectDevices) WHERE d.id = \(id)").first.map(decode)
    }

    /// Revokes a device; its token gets 403 from then on. Revoking twice is harmless.
    public static func revoke(_ id: UUID, on connection: Connection) throws -> Device {
        try connection.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = \(id)")
        guard let device = try find(id, on: connection) else { throw AdminError(.notFound, "no device with id \(id.lowercasedText)") }
        return device
    }

    /// Issues a new token for a device; the old one keeps working for `graceSeconds`
    /// (then 401), so a phone that has not stored the new one yet is not locked out.
    /// The device keeps its lookup id (a legacy device gets one). A revoked device cannot be rotated.
    public static func rotate(_ id: UUID, graceSeconds: Int, key: TokenKey, on connection: Connection) throws -> (Device, String) {
        guard let device = try find(id, on: connection) else { throw AdminError(.notFound, "no device with id \(id.lowercasedText)") }
        guard device.revokedAt == nil else { throw AdminError(.conflict, "device \(id.lowercasedText) is revoked: enroll a new one") }
        try key.check(on: connection)
        let lookup = try connection.query("SELECT token_lookup FROM devices WHERE id = \(id)")[0].decode(String?.self, at: 0)
        let (token, parts) = DeviceToken.generate(lookup: lookup)
        try connection.execute("""
            UPDATE devices SET previous_token_hash = token_hash, token_hash = \(key.mac(parts.secret)), token_lookup = \(parts.lookup),
                   previous_expires_at = now() + make_interval(secs => \(graceSeconds)::int)
            WHERE id = \(id)
            """)
        return (device, token)
    }

    /// The outcome of presenting a token.
    public enum Authentication: Sendable, Equatable {
        case valid(AuthenticatedDevice)
        case revoked
        case unknown
    }

    /// What a token's lookup id finds: the device, and the HMACs its secret must match.
    public struct TokenRecord: Sendable, Equatable {
        public var device: AuthenticatedDevice
        public var revoked: Bool
        public var current: Data
        /// The token before a rotation, while its grace period lasts.
        public var previous: Data?

        /// Checks `secret` against the current HMAC, or the previous one, in constant time.
        public func authenticate(_ secret: String, key: TokenKey) -> Authentication {
            let matchesCurrent = key.verify(secret, against: current)
            let matchesPrevious = previous.map { key.verify(secret, against: $0) } ?? false
            guard matchesCurrent || matchesPrevious else { return .unknown }
            return revoked ? .revoked : .valid(device)
        }
    }

    /// Finds the device by the token's lookup id, then checks its secret against the stored
    /// HMAC (or, inside a rotation's grace period, the previous one) in constant time.
    /// Legacy tokens (no lookup id) are found by their SHA-256. Both lookups are SECURITY
    /// DEFINER functions (migration 0013): they run before any row-level scope is known.
    public static func authenticate(token: String, key: TokenKey, on connection: Connection) throws -> Authentication {
        if let parts = DeviceToken.parse(token) {
            return try decodeRecord(connection.query(recordStatement(lookup: parts.lookup)))?.authenticate(parts.secret, key: key) ?? .unknown
        }
        let hash = DeviceToken.legacyHash(token)
        guard let row = try connection.query("SELECT * FROM squadsync_device_by_legacy_hash(\(hash))").first else { return .unknown }
        let (id, athleteID, revoked, erased) = try (row.decode(UUID.self, at: 0), row.decode(Int64.self, at: 1), row.decode(Bool.self, at: 2), row.decode(Bool.self, at: 3))
        return revoked ? .revoked : .valid(AuthenticatedDevice(id: id, athleteID: athleteID, athleteErased: erased))
    }

    /// The device a lookup id names, as a statement (to send in a pipeline).
    public static func recordStatement(lookup: String) -> SQL {
        "SELECT * FROM squadsync_device_by_lookup(\(lookup))"
    }

    public static func decodeRecord(_ rows: QueryResult) throws -> TokenRecord? {
        guard let row = rows.first else { return nil }
        let (id, athleteID, revoked, erased, current, previous) = try row.decode((UUID, Int64, Bool, Bool, Data, Data?).self)
        return TokenRecord(device: AuthenticatedDevice(id: id, athleteID: athleteID, athleteErased: erased), revoked: revoked, current: current, previous: previous)
    }

    /// Records that the device was seen (and synced, for pushes).
    public static func touch(_ id: UUID, synced: Bool, on connection: Connection) throws {
        if synced {
            try connection.execute("UPDATE devices SET last_seen_at = now(), last_sync_at = now() WHERE id = \(id)")
        } else {
            try connection.execute("UPDATE devices SET last_seen_at = now() WHERE id = \(id)")
        }
    }

    private static let selectDevices: SQL = """
        SELECT d.id, d.athlete_id, a.handle, d.name, d.device_type, d.created_at, d.last_seen_at, d.last_sync_at, d.revoked_at
        FROM devices d JOIN athletes a ON a.id = d.athlete_id
        """

    private static func decode(_ row: Row) throws -> Device {
        let (id, athleteID, handle, name, type, createdAt, lastSeen, lastSync, revoked) =
            try row.decode((UUID, Int64, String, String, String, Date, Date?, Date?, Date?).self)
        return Device(id: id, athleteID: athleteID, athleteHandle: handle, name: name, deviceType: type, createdAt: createdAt, lastSeenAt: lastSeen, lastSyncAt: lastSync, revokedAt: revoked)
    }
}
