import Foundation

/// The merge state as stored in `entries.merge_state`:
/// `{"r": {path: register}, "o": {path: {device: {"r": register, "v": value}}}}`.
extension EntryState {
    public var mergeStateJSON: JSONValue {
        var opinionsJSON: [String: JSONValue] = [:]
        for (path, byDevice) in opinions {
            opinionsJSON[path] = .object(byDevice.mapValues { .object(["r": $0.register.json, "v": $0.value]) })
        }
        return .object(["r": .object(registers.mapValues(\.json)), "o": .object(opinionsJSON)])
    }

    /// Rebuilds the registers and opinions read from `merge_state`.
    public static func decodeMergeState(_ json: JSONValue) -> (registers: [String: Register], opinions: [String: [String: Opinion]])? {
        guard let registersJSON = json["r"]?.objectValue else { return nil }
        var registers: [String: Register] = [:]
        for (path, value) in registersJSON {
            guard let register = Register(json: value) else { return nil }
            registers[path] = register
        }
        var opinions: [String: [String: Opinion]] = [:]
        for (path, byDevice) in json["o"]?.objectValue ?? [:] {
            for (device, value) in byDevice.objectValue ?? [:] {
                guard let register = value["r"].flatMap(Register.init(json:)), let opinionValue = value["v"] else { return nil }
                opinions[path, default: [:]][device] = Opinion(register: register, value: opinionValue)
            }
        }
        return (registers, opinions)
    }
}

extension Register {
    /// `[hlc, device, version, op, base]`: compact, as there is one per field.
    public var json: JSONValue {
        .array([.string(hlc.description), .string(device), .int(Int64(version)), .string(op.uuidString.lowercased()), .int(Int64(base))])
    }

    public init?(json: JSONValue) {
        guard let items = json.arrayValue, items.count == 5,
              let hlc = items[0].stringValue.flatMap(HLC.init), let device = items[1].stringValue,
              let version = items[2].intValue, let op = items[3].stringValue.flatMap(UUID.init(uuidString:)),
              let base = items[4].intValue else { return nil }
        self.init(hlc: hlc, device: device, version: Int(version), op: op, base: Int(base))
    }
}
