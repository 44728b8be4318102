import Foundation

/// A Swift type a result column can be decoded into from PostgreSQL's text format.
///
/// SQL NULL decodes only into an `Optional`; any other type reports the column by name.
public protocol PostgresDecodable {
    /// Decodes a non-NULL cell. `type` is the column's type OID.
    init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure)
    /// The value for SQL NULL, or `nil` when the type cannot hold NULL.
    static var postgresNull: Self? { get }
}

extension PostgresDecodable {
    public static var postgresNull: Self? { nil }
}

/// Why one cell could not be decoded; `Row` turns it into a `PostgresError` naming the column.
public struct PostgresDecodingFailure: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        self = .some(try Wrapped(postgresText: text, type: type))
    }
    public static var postgresNull: Self? { .some(.none) }
}

extension String: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) { self = text }
}

extension Int: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Int(text) else { throw PostgresDecodingFailure("'\(text.prefix(40))' is not an integer") }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Int64(text) else { throw PostgresDecodingFailure("'\(text.prefix(40))' is not a 64-bit integer") }
        self = value
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Int32(text) else { throw PostgresDecodingFailure("'\(text.prefix(40))' is not a 32-bit integer") }
        self = value
    }
}

extension Double: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = Double(text) else { throw PostgresDecodingFailure("'\(text.prefix(40))' is not a number") }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresDecodingFailure("'\(text.prefix(40))' is not a boolean")
        }
    }
}

extension UUID: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = UUID(uuidString: text) else { throw PostgresDecodingFailure("'\(text.prefix(40))' is not a UUID") }
        self = value
    }
}

extension Date: PostgresDecodable {
    /// From `timestamptz` (any offset), `timestamp` (as UTC) or `date` (midnight UTC), DateStyle ISO.
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        guard let value = PostgresTimestamp.parse(text) else {
            throw PostgresDecodingFailure("'\(text.prefix(40))' is not an ISO timestamp (is DateStyle ISO?)")
        }
        self = value
    }
}

extension Data: PostgresDecodable {
    /// From `bytea` in the hex output format (PostgreSQL's default since 9.0).
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0 else {
            throw PostgresDecodingFailure("bytea is not in hex format (set bytea_output = hex)")
        }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: return byte - 48
            case 97...102: return byte - 87
            case 65...70: return byte - 55
            default: return nil
            }
        }
        var out = Data(capacity: (bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else {
                throw PostgresDecodingFailure("bytea has a non-hex digit")
            }
            out.append(high << 4 | low)
            index += 2
        }
        self = out
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// From a one-dimensional array literal (`{1,2,NULL}`, `{"a b","c\"d"}`).
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        let elementType = type.elementType ?? .unknown
        var result: [Element] = []
        for item in try PostgresArrayLiteral.split(text) {
            if let item {
                result.append(try Element(postgresText: item, type: elementType))
            } else if let null = Element.postgresNull {
                result.append(null)
            } else {
                throw PostgresDecodingFailure("array holds NULL; decode it as an array of optionals")
            }
        }
        self = result
    }
}

extension PostgresJSON: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws(PostgresDecodingFailure) {
        do {
            self.init(try JSONDecoder().decode(Value.self, from: Data(text.utf8)))
        } catch {
            throw PostgresDecodingFailure("JSON does not decode as \(Value.self): \(error)")
        }
    }
}

/// Splits PostgreSQL's text form of a one-dimensional array into its elements.
enum PostgresArrayLiteral {
    static func split(_ text: String) throws(PostgresDecodingFailure) -> [String?] {
        var scalars = Substring(text).unicodeScalars[...]
        // A lower bound decoration such as "[0:2]={...}" is accepted and ignored.
        if scalars.first == "[", let equals = scalars.firstIndex(of: "=") {
            scalars = scalars[scalars.index(after: equals)...]
        }
        guard scalars.first == "{", scalars.last == "}" else { throw PostgresDecodingFailure("not an array literal") }
        scalars = scalars.dropFirst().dropLast()
        if scalars.isEmpty { return [] }
        var items: [String?] = []
        var current = String.UnicodeScalarView()
        var quoted = false
        var wasQuoted = false
        var escaped = false
        for scalar in scalars {
            if escaped {
                current.append(scalar)
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "\"" {
                quoted.toggle()
                wasQuoted = true
            } else if scalar == "{" && !quoted {
                throw PostgresDecodingFailure("multi-dimensional arrays are not supported")
            } else if scalar == "," && !quoted {
                items.append(finish(current, wasQuoted))
                current = String.UnicodeScalarView()
                wasQuoted = false
            } else {
                current.append(scalar)
            }
        }
        items.append(finish(current, wasQuoted))
        return items
    }

    private static func finish(_ scalars: String.UnicodeScalarView, _ wasQuoted: Bool) -> String? {
        let text = String(scalars)
        return !wasQuoted && text == "NULL" ? nil : text
    }
}
