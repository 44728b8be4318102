import Foundation
import SquadCore

/// A parsed `POST /v1/sync/push` body.
public struct PushRequest: Sendable {
    public static let maximumOps = 1000
    public static let maximumBytes = 4 * 1024 * 1024

    public var ops: [Result<SyncOp, SyncOp.Invalid>]

    public init(ops: [Result<SyncOp, SyncOp.Invalid>]) {
        self.ops = ops
    }

    /// Parses the body strictly; batch-level problems throw (HTTP 400, or 413 for too many ops).
    public static func parse(_ bytes: [UInt8]) throws(BatchError) -> PushRequest {
        let document: JSONValue
        do {
            document = try StrictJSON.parse(bytes)
        } catch {
            throw BatchError(code: error.code.rawValue, message: error.description)
        }
        guard document.objectValue != nil else { throw BatchError(code: "invalid_body", message: "the body must be a JSON object") }
        guard document["protocol"] == .int(1) else {
            throw BatchError(code: "unsupported_protocol", message: "protocol must be 1")
        }
        if let clock = document["device_clock"], !clock.isNull, clock.stringValue.flatMap({ ISOInstant.parseMillis($0) }) == nil {
            throw BatchError(code: "invalid_body", message: "device_clock must be a UTC instant like 2026-06-01T08:01:02.120Z")
        }
        guard let ops = document["ops"]?.arrayValue else { throw BatchError(code: "invalid_body", message: "ops must be an array") }
        guard ops.count <= maximumOps else {
            throw BatchError(code: "too_many_ops", message: "a push holds at most \(maximumOps) ops; this one has \(ops.count)")
        }
        var decoded: [Result<SyncOp, SyncOp.Invalid>] = []
        decoded.reserveCapacity(ops.count)
        for (index, op) in ops.enumerated() {
            decoded.append(try SyncOp.decode(op, index: index))
        }
        return PushRequest(ops: decoded)
    }
}

extension Result where Success == SyncOp, Failure == SyncOp.Invalid {
    var opID: UUID {
        switch self {
        case .success(let op): op.opID
        case .failure(let invalid): invalid.opID
        }
    }

    var entryID: UUID? {
        switch self {
        case .success(let op): op.entryID
        case .failure(let invalid): invalid.entryID
        }
    }
}
