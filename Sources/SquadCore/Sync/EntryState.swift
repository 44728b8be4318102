import Foundation

/// The last accepted write of one field: who wrote it, when (HLC) and at which entry version.
public struct Register: Sendable, Hashable, Codable {
    public var hlc: HLC
    public var device: String
    /// The entry version this write produced (or found, if it changed nothing).
    public var version: Int
    public var op: UUID
    /// The `base_version` the writing device had seen.
    public var base: Int

    public init(hlc: HLC, device: String, version: Int, op: UUID, base: Int) {
        self.hlc = hlc
        self.device = device
        self.version = version
        self.op = op
        self.base = base
    }

    /// Whether neither of two writes saw the other. Versions are assigned in arrival
    /// order, so only the later one can have seen the earlier.
    public func isConcurrent(with other: Register) -> Bool {
        guard device != other.device else { return false }
        if version < other.version { return other.base < version }
        if version > other.version { return base < other.version }
        return true
    }
}

/// A device's latest write to a conflict-tracked field (free text, `deleted`), kept
/// so that conflicts are a function of every device's final say, not of arrival order.
public struct Opinion: Sendable, Equatable, Codable {
    public var register: Register
    public var value: JSONValue

    public init(register: Register, value: JSONValue) {
        self.register = register
        self.value = value
    }
}

/// JSON values encode as the JSON they are (objects, arrays, numbers...), so documents
/// that embed them (digests, plan changes) stay plain JSON.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !array.isAtEnd { items.append(try array.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyCodingKey.self) {
            var members: [String: JSONValue] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(members)
            return
        }
        let value = try decoder.singleValueContainer()
        if value.decodeNil() { self = .null }
        else if let flag = try? value.decode(Bool.self) { self = .bool(flag) }
        else if let number = try? value.decode(Int64.self) { self = .int(number) }
        else if let number = try? value.decode(Double.self) { self = .double(number) }
        else { self = .string(try value.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .int(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .double(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .object(let members):
            var container = encoder.container(keyedBy: AnyCodingKey.self)
            for (key, item) in members { try container.encode(item, forKey: AnyCodingKey(key)) }
        }
    }
}

/// A coding key for any member name.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// An entry as the server keeps it: the canonical envelope plus the merge state.
public struct EntryState: Sendable, Equatable {
    public var entryID: UUID
    public var kind: EntryKind
    public var version: Int
    public var seq: Int64
    public var deleted: Bool
    /// Milliseconds since 1970 when it was deleted (the body is kept 30 days for undo).
    public var deletedAtMillis: Int64?
    /// The envelope: `entry_id`, `kind`, `schema_version`, `time`, `source`, `body`, `extra`.
    public var doc: JSONValue
    /// Per-field registers keyed by dotted leaf path, plus `deleted`.
    public var registers: [String: Register]
    /// For conflict-tracked fields: each device's latest write, by field then device.
    public var opinions: [String: [String: Opinion]] = [:]
    public var createdHLC: HLC
    public var updatedHLC: HLC

    /// A tombstone past the 30-day undo window: the purge job (`TombstonePurge`) kept only
    /// `entry_id`, `kind` and `schema_version`, so it can no longer be edited or undeleted.
    public var isPurged: Bool { deleted && doc["body"] == nil }

    public init(entryID: UUID, kind: EntryKind, version: Int, seq: Int64, deleted: Bool, deletedAtMillis: Int64?, doc: JSONValue, registers: [String: Register], createdHLC: HLC, updatedHLC: HLC) {
        self.entryID = entryID
        self.kind = kind
        self.version = version
        self.seq = seq
        self.deleted = deleted
        self.deletedAtMillis = deletedAtMillis
        self.doc = doc
        self.registers = registers
        self.createdHLC = createdHLC
        self.updatedHLC = updatedHLC
    }
}

/// A write that lost to a concurrent one and must not vanish (SYNC.md "Nothing silently lost").
public struct ConflictRecord: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Waiting for the athlete or coach.
        case open
        /// The losing device wrote the field again later: its old value no longer stands.
        case superseded
        /// Resolved by a person.
        case resolved
    }

    /// Derived from entry, field and losing op, so the same ops give the same ids in any order.
    public var conflictID: UUID
    public var entryID: UUID
    public var field: String
    public var loserOp: UUID
    public var loserDevice: String
    /// The value that lost.
    public var other: JSONValue
    /// The value that stands, at the time the conflict was recorded.
    public var kept: JSONValue
    public var status: Status
    public var seq: Int64

    public init(conflictID: UUID, entryID: UUID, field: String, loserOp: UUID, loserDevice: String, other: JSONValue, kept: JSONValue, status: Status, seq: Int64) {
        self.conflictID = conflictID
        self.entryID = entryID
        self.field = field
        self.loserOp = loserOp
        self.loserDevice = loserDevice
        self.other = other
        self.kept = kept
        self.status = status
        self.seq = seq
    }

    public static func identifier(entryID: UUID, field: String, loserOp: UUID) -> UUID {
        StableID.make("conflict|\(entryID.lowercasedText)|\(field)|\(loserOp.lowercasedText)")
    }
}

/// Name-based identifiers: the same name always gives the same UUID (two FNV-1a 64-bit hashes).
public enum StableID {
    public static func make(_ name: String) -> UUID {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in name.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x100_0000_01b3
            }
            return hash
        }
        let high = fnv(0xcbf2_9ce4_8422_2325)
        let low = fnv(0x84222325_cbf29ce4)
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
            bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8: custom
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
