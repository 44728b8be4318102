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
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
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

    /// The value at a dotted path such as `body.hr.avg_bpm`.
    public func value(at path: String) -> JSONValue? {
        var current: JSONValue? = self
        for key in path.split(separator: ".", omittingEmptySubsequences: false) {
            current = current?[String(key)]
        }
        return current
    }

    /// A copy with `newValue` at the dotted `path`, creating objects on the way;
    /// `nil` removes the key.
    public func setting(_ newValue: JSONValue?, at path: String) -> JSONValue {
        let keys = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return Self.set(newValue, keys: keys[...], in: self)
    }

    private static func set(_ newValue: JSONValue?, keys: ArraySlice<String>, in value: JSONValue) -> JSONValue {
        guard let key = keys.first else { return newValue ?? .null }
        var members = value.objectValue ?? [:]
        if keys.count == 1 {
            members[key] = newValue
        } else {
            members[key] = set(newValue, keys: keys.dropFirst(), in: members[key] ?? .object([:]))
        }
        return .object(members)
    }
}
