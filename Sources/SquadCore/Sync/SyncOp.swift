import Foundation

/// One operation of a push, decoded from its JSON (SYNC.md "Push").
public struct SyncOp: Sendable, Equatable {
    public enum Action: String, Sendable {
        case create, patch, delete
    }

    public var opID: UUID
    public var action: Action
    public var entryID: UUID
    public var kind: EntryKind?
    public var hlc: HLC
    /// The entry version the device based its edit on; 0 when absent (a create).
    public var baseVersion: Int
    /// The whole envelope, for `create`.
    public var entry: JSONValue?
    /// Dotted paths and their new values, for `patch`.
    public var set: JSONObject

    public init(opID: UUID, action: Action, entryID: UUID, kind: EntryKind?, hlc: HLC, baseVersion: Int = 0, entry: JSONValue? = nil, set: JSONObject = [:]) {
        self.opID = opID
        self.action = action
        self.entryID = entryID
        self.kind = kind
        self.hlc = hlc
        self.baseVersion = baseVersion
        self.entry = entry
        self.set = set
    }

    /// An op that could not be decoded, still answerable by its `op_id`.
    public struct Invalid: Error, Sendable, Equatable {
        public var opID: UUID
        public var entryID: UUID?
        public var problem: ValidationProblem
    }

    /// Decodes `ops[index]`. Throws `BatchError` when even its `op_id` is unusable
    /// (the batch is malformed), returns `.failure` for a rejectable op.
    public static func decode(_ value: JSONValue, index: Int) throws(BatchError) -> Result<SyncOp, Invalid> {
        guard let members = value.objectValue else {
            throw BatchError(code: "invalid_op", message: "ops[\(index)] must be an object")
        }
        guard let opText = members["op_id"]?.stringValue, let opID = UUID(text: opText) else {
            throw BatchError(code: "invalid_op_id", message: "ops[\(index)].op_id must be a UUID")
        }
        let entryID = members["entry_id"]?.stringValue.flatMap(UUID.init(text:))
        func reject(_ field: String, _ message: String) -> Result<SyncOp, Invalid> {
            .failure(Invalid(opID: opID, entryID: entryID, problem: ValidationProblem(field: field, message: message)))
        }
        guard let actionText = members["op"]?.stringValue, let action = Action(rawValue: actionText) else {
            return reject("op", "must be create, patch or delete")
        }
        guard let entryID else { return reject("entry_id", "must be a UUID") }
        guard let hlcText = members["hlc"]?.stringValue, let hlc = HLC(hlcText) else {
            return reject("hlc", "must be a hybrid logical clock like 2026-06-01T07:32:11.004Z-0000-dev7f3a")
        }
        var kind: EntryKind?
        if let kindValue = members["kind"], !kindValue.isNull {
            guard let text = kindValue.stringValue, let parsed = EntryKind(rawValue: text) else {
                return reject("kind", "must be one of run, drills, strength, wellness, cross, note")
            }
            kind = parsed
        }
        var baseVersion = 0
        if let base = members["base_version"], !base.isNull {
            guard let number = base.intValue, number >= 0, number <= Int64(Int32.max) else {
                return reject("base_version", "must be an integer >= 0")
            }
            baseVersion = Int(number)
        }
        var op = SyncOp(opID: opID, action: action, entryID: entryID, kind: kind, hlc: hlc, baseVersion: baseVersion)
        switch action {
        case .create:
            guard kind != nil else { return reject("kind", "is required for create") }
            guard let entry = members["entry"], entry.objectValue != nil else { return reject("entry", "must be an object") }
            op.entry = entry
        case .patch:
            guard let set = members["set"]?.objectValue, !set.isEmpty else { return reject("set", "must be a non-empty object of field paths") }
            op.set = set
        case .delete:
            break
        }
        return .success(op)
    }
}

/// A push whose envelope is unusable: answered with HTTP 400 and nothing stored.
public struct BatchError: Error, Sendable, Equatable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
