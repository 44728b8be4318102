import Foundation

/// The answer to one op, stored with its `op_id` forever and echoed on retries.
public struct OpResult: Sendable, Equatable {
    public enum Status: String, Sendable {
        case applied, duplicate, merged, conflict, rejected, skipped
    }

    public var opID: UUID
    public var status: Status
    public var entryID: UUID?
    public var version: Int?
    public var seq: Int64?
    public var code: String?
    public var field: String?
    public var message: String?
    /// Conflict records this op produced: `(conflict_id, field)`.
    public var conflicts: [(UUID, String)]
    public var clockSkew: Bool

    public init(opID: UUID, status: Status, entryID: UUID? = nil, version: Int? = nil, seq: Int64? = nil, code: String? = nil, field: String? = nil, message: String? = nil, conflicts: [(UUID, String)] = [], clockSkew: Bool = false) {
        self.opID = opID
        self.status = status
        self.entryID = entryID
        self.version = version
        self.seq = seq
        self.code = code
        self.field = field
        self.message = message
        self.conflicts = conflicts
        self.clockSkew = clockSkew
    }

    public static func == (lhs: OpResult, rhs: OpResult) -> Bool {
        lhs.json == rhs.json
    }

    /// The JSON object of SYNC.md's `results[]`.
    public var json: JSONValue { json(includingIDs: true) }

    /// The object without `op_id` and `entry_id`, for storage next to columns that hold them
    /// (`withIDs` puts them back).
    public var storedJSON: JSONValue { json(includingIDs: false) }

    /// A stored result with the `op_id` and `entry_id` it was stored without.
    public static func withIDs(_ stored: JSONValue, opID: UUID, entryID: UUID?) -> JSONValue {
        guard var members = stored.objectValue else { return stored }
        members["op_id"] = .string(opID.lowercasedText)
        if let entryID { members["entry_id"] = .string(entryID.lowercasedText) }
        return .object(members)
    }

    func json(includingIDs: Bool) -> JSONValue {
        var members: JSONObject = ["status": .string(status.rawValue)]
        if includingIDs {
            members["op_id"] = .string(opID.lowercasedText)
            if let entryID { members["entry_id"] = .string(entryID.lowercasedText) }
        }
        if let version { members["version"] = .int(Int64(version)) }
        if let seq { members["seq"] = .int(seq) }
        if let code { members["code"] = .string(code) }
        if let field { members["field"] = .string(field) }
        if let message { members["message"] = .string(message) }
        if !conflicts.isEmpty {
            members["conflicts"] = .array(conflicts.map { .object(["conflict_id": .string($0.0.lowercasedText), "field": .string($0.1)] as JSONObject) })
        }
        if clockSkew { members["clock_skew"] = .bool(true) }
        if status == .applied || status == .merged { members["duplicate_of"] = .null }
        return .object(members)
    }

    /// The stored result of an earlier identical op, echoed with status `duplicate`.
    public static func duplicate(of stored: JSONValue) -> JSONValue {
        guard var members = stored.objectValue else { return stored }
        members["original_status"] = members["status"]
        members["status"] = .string(Status.duplicate.rawValue)
        return .object(members)
    }
}
