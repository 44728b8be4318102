import Foundation

/// Checks an entry envelope and its kind's body (SYNC.md "Validation rejects").
///
/// Every problem names its field with the dotted path a device used. Unknown
/// fields are never rejected: unknown envelope keys are moved into `extra`,
/// unknown body keys are kept as sent.
public enum EntryValidation {
    /// A validated envelope in canonical shape, or the first problem.
    public static func normalize(_ entry: JSONValue, entryID: UUID, kind: EntryKind) -> Result<JSONValue, ValidationProblem> {
        guard var members = entry.objectValue else {
            return .failure(ValidationProblem(field: "entry", message: "must be an object"))
        }
        if let given = members["entry_id"], given != .string(entryID.lowercasedText),
           UUID(text: given.stringValue ?? "") != entryID {
            return .failure(ValidationProblem(field: "entry.entry_id", message: "must equal the op's entry_id"))
        }
        if let given = members["kind"], given != .string(kind.rawValue) {
            return .failure(ValidationProblem(field: "entry.kind", message: "must equal the op's kind"))
        }
        members["entry_id"] = .string(entryID.lowercasedText)
        members["kind"] = .string(kind.rawValue)
        switch members["schema_version"] {
        case nil: members["schema_version"] = .int(1)
        case .int(let version) where version >= 1: break
        default: return .failure(ValidationProblem(field: "schema_version", message: "must be an integer >= 1"))
        }
        var extra = members["extra"]?.objectValue ?? [:]
        if let given = members["extra"], given.objectValue == nil {
            return .failure(ValidationProblem(field: "extra", message: "must be an object"))
        }
        for key in members.keys where !isEnvelopeKey(key) {
            extra[key] = members.removeValue(forKey: key)
        }
        members["extra"] = .object(extra)
        members["body"] = members["body"] ?? .object([:])
        let normalized = JSONValue.object(members)
        if let problem = problems(in: normalized, kind: kind) { return .failure(problem) }
        return .success(normalized)
    }

    static func isEnvelopeKey(_ key: String) -> Bool {
        switch key {
        case "entry_id", "kind", "schema_version", "time", "source", "body", "extra": true
        default: false
        }
    }

    /// The first problem of a whole envelope, or `nil`.
    public static func problems(in entry: JSONValue, kind: EntryKind) -> ValidationProblem? {
        var checker = Checker(root: entry)
        checker.checkTime()
        checker.checkSource()
        guard checker.problem == nil else { return checker.problem }
        guard let body = entry["body"], body.objectValue != nil else {
            return ValidationProblem(field: "body", message: "must be an object")
        }
        switch kind {
        case .run:
            checker.string("body.sport")
            checker.oneOf("body.session_type", ["easy", "long", "tempo", "interval", "hills", "strides", "race", "fartlek", "recovery"])
            checker.number("body.distance_m", min: 0)
            checker.number("body.elapsed_s", min: 0)
            checker.number("body.moving_s", min: 0)
            checker.number("body.hr.avg_bpm", min: 25, max: 250)
            checker.number("body.hr.max_bpm", min: 25, max: 250)
            checker.number("body.cadence.avg_spm", min: 60, max: 260)
            checker.integer("body.rpe", min: 1, max: 10)
            checker.string("body.notes")
            checker.items("body.splits") { item, path, checker in
                checker.integer("\(path).index", in: item, min: 0, max: 100_000)
                checker.number("\(path).distance_m", in: item, min: 0)
                checker.number("\(path).elapsed_s", in: item, min: 0)
                checker.number("\(path).avg_hr_bpm", in: item, min: 25, max: 250)
                checker.number("\(path).avg_cadence_spm", in: item, min: 60, max: 260)
            }
        case .drills:
            checker.items("body.drills") { item, path, checker in
                checker.requiredString("\(path).drill_id", in: item)
                checker.string("\(path).name", in: item)
                checker.integer("\(path).sets", in: item, min: 0, max: 1000)
                checker.integer("\(path).reps", in: item, min: 0, max: 10_000)
                checker.number("\(path).distance_m", in: item, min: 0)
            }
            checker.uuid("body.before_entry_id")
        case .strength:
            checker.integer("body.rpe", min: 1, max: 10)
            checker.items("body.exercises") { exercise, path, checker in
                checker.string("\(path).name", in: exercise)
                checker.items("\(path).sets", in: exercise) { set, setPath, checker in
                    checker.requiredString("\(setPath).set_id", in: set)
                    checker.integer("\(setPath).reps", in: set, min: 0, max: 10_000)
                    checker.number("\(setPath).weight_kg", in: set, min: 0)
                    checker.integer("\(setPath).rpe", in: set, min: 1, max: 10)
                }
            }
        case .wellness:
            checker.localDate("body.local_date")
            checker.number("body.resting_hr_bpm", min: 25, max: 250)
            checker.number("body.hrv.rmssd_ms", min: 0, max: 1000)
            checker.number("body.hrv.sdnn_ms", min: 0, max: 1000)
            checker.number("body.sleep.asleep_s", min: 0, max: 86_400)
            checker.integer("body.soreness", min: 0, max: 10)
            checker.oneOf("body.legs", ["springy", "normal", "heavy", "dead"])
            checker.integer("body.mood", min: 1, max: 5)
            checker.integer("body.motivation", min: 1, max: 5)
            checker.bool("body.illness")
            checker.items("body.pain") { item, path, checker in
                checker.requiredString("\(path).location", in: item)
                checker.integer("\(path).severity", in: item, min: 0, max: 10)
            }
        case .cross:
            checker.string("body.sport")
            checker.number("body.elapsed_s", min: 0)
            checker.integer("body.rpe", min: 1, max: 10)
        case .note:
            checker.string("body.text")
            checker.uuid("body.about_entry_id")
        case .planSession, .notice:
            break
        }
        return checker.problem
    }

    struct Checker {
        let root: JSONValue
        var problem: ValidationProblem?

        init(root: JSONValue) {
            self.root = root
        }

        mutating func fail(_ field: String, _ message: String) {
            if problem == nil { problem = ValidationProblem(field: field, message: message) }
        }

        /// The value at `path`, read from `item` when given (paths inside lists are
        /// reported with their index but read relative to the item).
        func value(_ path: String, in item: JSONValue?) -> JSONValue? {
            guard let item else { return root.value(at: path) }
            guard let dot = path.utf8.lastIndex(of: UInt8(ascii: ".")) else { return item[path] }
            return item[String(path[path.utf8.index(after: dot)...])]
        }

        mutating func checkTime() {
            guard let time = root["time"] else { return }
            guard time.objectValue != nil else { return fail("time", "must be an object") }
            var start: Int64?
            var end: Int64?
            for key in ["start", "end"] {
                guard let value = time[key], !value.isNull else { continue }
                guard let text = value.stringValue, let millis = ISOInstant.parseMillis(text) else {
                    return fail("time.\(key)", "must be a UTC instant like 2026-06-01T07:32:11.004Z")
                }
                if key == "start" { start = millis } else { end = millis }
            }
            if let start, let end, end < start { return fail("time.end", "must not be before time.start") }
            if let zone = time["tz"], !zone.isNull {
                guard let name = zone.stringValue, TimeZoneName.isValid(name) else { return fail("time.tz", "must be an IANA time zone such as Europe/Lisbon") }
            }
            if let date = time["local_date"], !date.isNull, !Self.isLocalDate(date) {
                fail("time.local_date", "must be a date like 2026-06-01")
            }
        }

        mutating func checkSource() {
            guard let source = root["source"] else { return }
            guard source.objectValue != nil else { return fail("source", "must be an object") }
            string("source.device_id")
            oneOf("source.device_type", ["watch", "phone", "ring", "other"])
            oneOf("source.recording_method", ["active", "automatic", "manual"])
            if let ids = source["external_ids"], !ids.isNull {
                guard let list = ids.arrayValue, list.allSatisfy({ $0.objectValue != nil }) else {
                    return fail("source.external_ids", "must be an array of objects")
                }
            }
        }

        static func isLocalDate(_ value: JSONValue) -> Bool {
            guard let text = value.stringValue, text.utf8.count == 10 else { return false }
            return ISOInstant.parseMillis(text + "T00:00:00Z") != nil
        }

        mutating func number(_ path: String, in item: JSONValue? = nil, min: Double? = nil, max: Double? = nil) {
            guard let value = value(path, in: item), !value.isNull else { return }
            guard let number = value.numberValue else { return fail(path, "must be a number") }
            if let min, number < min { return fail(path, max == nil ? "must be a number >= \(Self.text(min))" : "must be between \(Self.text(min)) and \(Self.text(max!))") }
            if let max, number > max { return fail(path, "must be between \(Self.text(min ?? 0)) and \(Self.text(max))") }
        }

        mutating func integer(_ path: String, in item: JSONValue? = nil, min: Int64, max: Int64) {
            guard let value = value(path, in: item), !value.isNull else { return }
            guard let number = value.intValue, number >= min, number <= max else {
                return fail(path, "must be an integer from \(min) to \(max)")
            }
        }

        mutating func string(_ path: String, in item: JSONValue? = nil) {
            guard let value = value(path, in: item), !value.isNull else { return }
            guard let text = value.stringValue else { return fail(path, "must be a string") }
            if text.utf8.count > 20_000 { fail(path, "must be at most 20,000 bytes") }
        }

        mutating func requiredString(_ path: String, in item: JSONValue? = nil) {
            guard let value = value(path, in: item), let text = value.stringValue, !text.isEmpty, text.utf8.count <= 200 else {
                return fail(path, "must be a non-empty string")
            }
        }

        mutating func bool(_ path: String) {
            guard let value = root.value(at: path), !value.isNull else { return }
            if value.boolValue == nil { fail(path, "must be true or false") }
        }

        mutating func uuid(_ path: String) {
            guard let value = root.value(at: path), !value.isNull else { return }
            if UUID(text: value.stringValue ?? "") == nil { fail(path, "must be a UUID") }
        }

        mutating func localDate(_ path: String) {
            guard let value = root.value(at: path), !value.isNull else { return }
            if !Self.isLocalDate(value) { fail(path, "must be a date like 2026-06-01") }
        }

        mutating func oneOf(_ path: String, _ allowed: [String]) {
            guard let value = root.value(at: path), !value.isNull else { return }
            guard let text = value.stringValue, allowed.contains(text) else {
                return fail(path, "must be one of \(allowed.joined(separator: ", "))")
            }
        }

        mutating func items(_ path: String, in item: JSONValue? = nil, _ check: (JSONValue, String, inout Checker) -> Void) {
            guard let value = value(path, in: item), !value.isNull else { return }
            guard let list = value.arrayValue else { return fail(path, "must be an array") }
            var seenIDs: Set<String> = []
            for (index, element) in list.enumerated() {
                guard element.objectValue != nil else { return fail("\(path)[\(index)]", "must be an object") }
                check(element, "\(path)[\(index)]", &self)
                for key in ["drill_id", "set_id"] {
                    if let id = element[key]?.stringValue, !seenIDs.insert(key + id).inserted {
                        fail("\(path)[\(index)].\(key)", "repeats \(id)")
                    }
                }
            }
        }

        static func text(_ value: Double) -> String {
            value.rounded() == value ? String(Int64(value)) : String(value)
        }
    }
}
