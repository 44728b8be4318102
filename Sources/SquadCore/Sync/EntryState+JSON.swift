import Foundation

/// The merge state as stored in `entries.merge_state`. Writers are listed once and
/// fields point at them, as one op usually writes many fields:
/// `{"w": [register, ...], "r": {path: writer index}, "o": {path: {device: [writer index, value]}}}`.
extension EntryState {
    public var mergeStateJSON: JSONValue {
        var writers: [JSONValue] = []
        var indexOf: [Register: Int] = [:]
        // Most fields share a writer (all of them, after a create): check the last one first.
        var last: (Register, JSONValue)?
        func index(_ register: Register) -> JSONValue {
            if let last, last.0 == register { return last.1 }
            let found: Int
            if let known = indexOf[register] {
                found = known
            } else {
                found = writers.count
                indexOf[register] = found
                writers.append(register.json)
            }
            last = (register, .int(Int64(found)))
            return .int(Int64(found))
        }
        // Built in canonical key order, so the objects need no sorting.
        let fields = registers.keys.sorted(by: JSONObject.precedes).map { path in
            JSONObject.Member(key: path, value: index(registers[path]!))
        }
        let opinionsJSON = opinions.keys.sorted(by: JSONObject.precedes).map { path in
            let byPath = opinions[path]!
            let byDevice = byPath.keys.sorted(by: JSONObject.precedes).map { device in
                let opinion = byPath[device]!
                return JSONObject.Member(key: device, value: .array([index(opinion.register), opinion.value]))
            }
            return JSONObject.Member(key: path, value: .object(JSONObject(sortedUniqueMembers: byDevice)))
        }
        return .object(JSONObject(sortedUniqueMembers: [
            JSONObject.Member(key: "o", value: .object(JSONObject(sortedUniqueMembers: opinionsJSON))),
            JSONObject.Member(key: "r", value: .object(JSONObject(sortedUniqueMembers: fields))),
            JSONObject.Member(key: "w", value: .array(writers)),
        ]))
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
        .array([.string(hlc.description), .string(device), .int(Int64(version)), .string(op.lowercasedText), .int(Int64(base))])
    }

    public init?(json: JSONValue) {
        guard let items = json.arrayValue, items.count == 5,
              let hlc = items[0].stringValue.flatMap(HLC.init), let device = items[1].stringValue,
              let version = items[2].intValue, let op = items[3].stringValue.flatMap(UUID.init(text:)),
              let base = items[4].intValue else { return nil }
        self.init(hlc: hlc, device: device, version: Int(version), op: op, base: Int(base))
    }
}
