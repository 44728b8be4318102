/// A JSON value as parsed by `StrictJSON`: integers kept apart from doubles, objects
/// with unique keys.
///
/// Integral numbers that fit in `Int64` are `.int`; every other number is a finite
/// `.double`. Equality is structural, so two values that serialize to the same
/// canonical text are equal.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// An object of a dictionary's members.
    public static func object(_ members: [String: JSONValue]) -> JSONValue {
        .object(JSONObject(members))
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// The value as a number, for ints and doubles alike.
    public var numberValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The value as an integer, when it is one (`3`, not `3.5`).
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// A short name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The value at a dotted path such as `body.hr.avg_bpm`. A segment may select an item
    /// of a keyed list by its id, `body.drills[d1].reps` (the item whose `drill_id` or
    /// `set_id` is `d1`), or by position, `body.exercises[#0]`.
    public func value(at path: String) -> JSONValue? {
        // Most paths are plain dotted names (`time.start`): walk them without building segments.
        if !path.utf8.contains(UInt8(ascii: "[")) {
            var current = self
            var rest = Substring(path)
            while true {
                let name: Substring
                if let dot = rest.utf8.firstIndex(of: UInt8(ascii: ".")) {
                    name = rest[..<dot]
                    guard case .object(let members) = current, let next = members[String(name)] else { return nil }
                    current = next
                    rest = rest[rest.utf8.index(after: dot)...]
                } else {
                    guard case .object(let members) = current, let next = members[String(rest)] else { return nil }
                    return next
                }
            }
        }
        var current: JSONValue? = self
        for segment in PathSegment.parse(path) {
            current = current?[segment.name]
            if let selector = segment.selector {
                guard let items = current?.arrayValue, let index = selector.index(in: items) else { return nil }
                current = items[index]
            }
        }
        return current
    }

    /// A copy with `newValue` at the dotted `path`, creating objects (and keyed-list
    /// items) on the way; `nil` removes the key.
    public func setting(_ newValue: JSONValue?, at path: String) -> JSONValue {
        Self.set(newValue, segments: PathSegment.parse(path)[...], in: self)
    }

    private static func set(_ newValue: JSONValue?, segments: ArraySlice<PathSegment>, in value: JSONValue) -> JSONValue {
        guard let segment = segments.first else { return newValue ?? .null }
        var members = value.objectValue ?? JSONObject()
        guard let selector = segment.selector else {
            if segments.count == 1 {
                members[segment.name] = newValue
            } else {
                members[segment.name] = set(newValue, segments: segments.dropFirst(), in: members[segment.name] ?? .object([:]))
            }
            return .object(members)
        }
        var items = members[segment.name]?.arrayValue ?? []
        var index = selector.index(in: items)
        if index == nil, case .id(let id) = selector {
            items.append(.object([PathSegment.keyField(forList: segment.name): .string(id)]))
            index = items.count - 1
            // Items added by merges are ordered by id, so the order never depends on arrival.
            items.sort { ($0[PathSegment.keyField(forList: segment.name)]?.stringValue ?? "") < ($1[PathSegment.keyField(forList: segment.name)]?.stringValue ?? "") }
            index = selector.index(in: items)
        }
        guard let found = index else { return value }
        items[found] = segments.count == 1 ? (newValue ?? .null) : set(newValue, segments: segments.dropFirst(), in: items[found])
        members[segment.name] = .array(items)
        return .object(members)
    }
}

/// One segment of a field path: a member name, optionally selecting a list item.
public struct PathSegment: Sendable, Equatable {
    public enum Selector: Sendable, Equatable {
        case id(String)
        case position(Int)

        func index(in items: [JSONValue]) -> Int? {
            switch self {
            case .position(let position): return items.indices.contains(position) ? position : nil
            case .id(let id):
                return items.firstIndex { $0["drill_id"]?.stringValue == id || $0["set_id"]?.stringValue == id }
            }
        }
    }

    public var name: String
    public var selector: Selector?

    /// The id member of a keyed list's items.
    public static func keyField(forList name: String) -> String {
        name == "sets" ? "set_id" : "drill_id"
    }

    public static func parse(_ path: String) -> [PathSegment] {
        path.split(separator: ".", omittingEmptySubsequences: false).map { raw in
            guard raw.last == "]", let open = raw.firstIndex(of: "[") else { return PathSegment(name: String(raw), selector: nil) }
            let name = String(raw[..<open])
            let inside = raw[raw.index(after: open)..<raw.index(before: raw.endIndex)]
            if inside.first == "#", let position = Int(inside.dropFirst()) {
                return PathSegment(name: name, selector: .position(position))
            }
            return PathSegment(name: name, selector: .id(String(inside)))
        }
    }
}
