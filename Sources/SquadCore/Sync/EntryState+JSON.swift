import Foundation

/// The merge state as stored in `entries.merge_state`. Writers are listed once and
/// fields point at them, as one op usually writes many fields:
/// `{"w": [register, ...], "r": {path: writer index}, "o": {path: {device: [writer index, value]}}}`.
extension EntryState {
    public var mergeStateJSON: JSONValue {
        var writers: [JSONValue] = []
        var indexOf: [Register: Int] = [:]
        func index(_ register: Register) -> JSONValue {
            if let known = indexOf[register] { return .int(Int64(known)) }
            indexOf[register] = writers.count
            writers.append(register.json)
            return .int(Int64(writers.count - 1))
        }
        var fields: [String: JSONValue] = [:]
        for path in registers.keys.sorted() { fields[path] = index(registers[path]!) }
        var opinionsJSON: [String: JSONValue] = [:]
        for path in opinions.keys.sorted() {
            var byDevice: [String: JSONValue] = [:]
            for device in opinions[path]!.keys.sorted() {
                let opinion = opinions[path]![device]!
                byDevice[device] = .array([index(opinion.register), opinion.value])
            }
            opinionsJSON[path] = .object(byDevice)
        }
        return .object(["w": .array(writers), "r": .object(fields), "o": .object(opinionsJSON)])
    }

    /// Rebuilds the registers and opinions read from `merge_state`.
    public static func decodeMergeState(_ json: JSONValue) -> (registers: [String: Register], opinions: [String: [String: Opinion]])? {
        guard let writersJSON = json["w"]?.arrayValue, let fieldsJSON = json["r"]?.objectValue else { return nil }
        var writers: [Register] = []
        for value in writersJSON {
            guard let register = Register(json: value) else { return nil }
            writers.append(register)
        }
        func writer(_ value: JSONValue?) -> Register? {
            guard let index = value?.intValue, writers.indices.contains(Int(index)) else { return nil }
            return writers[Int(index)]
        }
        var registers: [String: Register] = [:]
        for (path, value) in fieldsJSON {
            guard let register = writer(value) else { return nil }
            registers[path] = register
        }
        var opinions: [String: [String: Opinion]] = [:]
        for (path, byDevice) in json["o"]?.objectValue ?? [:] {
            for (device, value) in byDevice.objectValue ?? [:] {
                guard let pair = value.arrayValue, pair.count == 2, let register = writer(pair[0]) else { return nil }
                opinions[path, default: [:]][device] = Opinion(register: register, value: pair[1])
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
