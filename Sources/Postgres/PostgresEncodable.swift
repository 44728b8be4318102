import Foundation

/// One bound parameter in PostgreSQL's text format (or, for arrays of fixed-size and
/// text elements, its binary format), with its type.
///
/// `text == nil && binary == nil` is SQL NULL. A value that cannot be sent (a NUL byte
/// inside text, which PostgreSQL cannot store) carries `encodingError`, thrown when
/// the statement runs, so building an `SQL` never throws.
public struct PostgresValue: Sendable {
    public var type: PostgresType
    public var text: String?
    /// The binary form, sent instead of `text` when present (statement parameters only).
    public var binary: [UInt8]?
    public var encodingError: String?

    public init(type: PostgresType, text: String?) {
        self.type = type
        self.text = text
        if let text, Self.containsNUL(text) {
            self.encodingError = Self.nulMessage
        }
    }

    /// A `memchr` over the UTF-8: parameters carry whole documents.
    static func containsNUL(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
    }

    /// A value whose text is already known to hold no NUL (or to carry `encodingError`).
    init(type: PostgresType, checkedText text: String?, encodingError: String?) {
        self.type = type
        self.text = text
        self.encodingError = encodingError
    }

    /// A value in binary form.
    init(type: PostgresType, binary: [UInt8], encodingError: String?) {
        self.type = type
        self.binary = binary
        self.encodingError = encodingError
    }

    static let nulMessage = "contains a NUL byte (U+0000), which PostgreSQL cannot store in text"

    public static func null(_ type: PostgresType) -> PostgresValue { PostgresValue(type: type, text: nil) }
}

/// A Swift value that can be sent as a statement parameter or a COPY field.
public protocol PostgresEncodable: Sendable {
    /// The type sent with the parameter (also used for `nil` and arrays).
    static var postgresType: PostgresType { get }
    /// The value in PostgreSQL's text input format.
    var postgresText: String { get }
    /// Type and text together; `Optional` overrides it to send NULL.
    var postgresValue: PostgresValue { get }
    /// Writes the value as an element of an array literal and returns what makes it
    /// unsendable, if anything. The default quotes `postgresValue`'s text; types whose
    /// text never needs quoting (numbers, uuids, booleans) write it straight.
    func appendArrayElement(to out: inout [UInt8]) -> String?
    /// The value as a statement parameter: `postgresValue`, except for arrays whose
    /// elements have a binary form (`PostgresBinaryElement`), which go in binary.
    var postgresParameter: PostgresValue { get }
}

extension PostgresEncodable {
    public var postgresValue: PostgresValue { PostgresValue(type: Self.postgresType, text: postgresText) }
    public var postgresParameter: PostgresValue { postgresValue }

    public func appendArrayElement(to out: inout [UInt8]) -> String? {
        let value = postgresValue
        guard let text = value.text else {
            out.append(contentsOf: [78, 85, 76, 76])  // NULL
            return value.encodingError
        }
        out.append(UInt8(ascii: "\""))
        let utf8 = text.utf8
        if utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.reserveCapacity(out.count + utf8.count + 8)
            for byte in utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
        } else {
            out.append(contentsOf: utf8)
        }
        out.append(UInt8(ascii: "\""))
        return value.encodingError
    }
}

/// Optional values: `nil` is sent as NULL of the wrapped type.
extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresType: PostgresType { Wrapped.postgresType }
    public var postgresText: String { self?.postgresText ?? "" }
    public var postgresValue: PostgresValue {
        switch self {
        case .some(let value): return value.postgresValue
        case .none: return .null(Wrapped.postgresType)
        }
    }

    public var postgresParameter: PostgresValue {
        switch self {
        case .some(let value): return value.postgresParameter
        case .none: return .null(Wrapped.postgresType)
        }
    }

    public func appendArrayElement(to out: inout [UInt8]) -> String? {
        switch self {
        case .some(let value): return value.appendArrayElement(to: &out)
        case .none:
            out.append(contentsOf: [78, 85, 76, 76])  // NULL
            return nil
        }
    }
}

extension String: PostgresEncodable {
    /// Sent untyped so that a string compares with `text`, `uuid`, `date` or an enum column alike.
    public static var postgresType: PostgresType { .unknown }
    public var postgresText: String { self }
}

extension Substring: PostgresEncodable {
    public static var postgresType: PostgresType { .unknown }
    public var postgresText: String { String(self) }
}

extension Int: PostgresEncodable {
    public static var postgresType: PostgresType { .int8 }
    public var postgresText: String { String(self) }
    public func appendArrayElement(to out: inout [UInt8]) -> String? { Int64(self).appendArrayElement(to: &out) }
}

extension Int64: PostgresEncodable {
    public static var postgresType: PostgresType { .int8 }
    public var postgresText: String { String(self) }

    public func appendArrayElement(to out: inout [UInt8]) -> String? {
        out.append(contentsOf: String(self).utf8)  // a small string: no allocation
        return nil
    }
}

extension Int32: PostgresEncodable {
    public static var postgresType: PostgresType { .int4 }
    public var postgresText: String { String(self) }
}

extension Int16: PostgresEncodable {
    public static var postgresType: PostgresType { .int2 }
    public var postgresText: String { String(self) }
}

extension Double: PostgresEncodable {
    public static var postgresType: PostgresType { .float8 }
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return "\(self)"
    }
}

extension Bool: PostgresEncodable {
    public static var postgresType: PostgresType { .bool }
    public var postgresText: String { self ? "t" : "f" }

    public func appendArrayElement(to out: inout [UInt8]) -> String? {
        out.append(self ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        return nil
    }
}

extension UUID: PostgresEncodable {
    public static var postgresType: PostgresType { .uuid }
    /// Lower-case hex with dashes, formatted by hand (`uuidString` goes through sprintf).
    public var postgresText: String {
        String(unsafeUninitializedCapacity: 36) { out in
            writeHex(into: out)
            return 36
        }
    }

    public func appendArrayElement(to out: inout [UInt8]) -> String? {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 36))
        out.withUnsafeMutableBufferPointer { buffer in
            writeHex(into: UnsafeMutableBufferPointer(rebasing: buffer[start..<(start + 36)]))
        }
        return nil
    }

    private func writeHex(into out: UnsafeMutableBufferPointer<UInt8>) {
        let digits: StaticString = "0123456789abcdef"
        var position = 0
        withUnsafeBytes(of: uuid) { bytes in
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    out[position] = UInt8(ascii: "-")
                    position += 1
                }
                out[position] = digits.utf8Start[Int(byte >> 4)]
                out[position + 1] = digits.utf8Start[Int(byte & 0x0F)]
                position += 2
            }
        }
    }
}

extension Date: PostgresEncodable {
    public static var postgresType: PostgresType { .timestamptz }
    /// ISO 8601 in UTC with microseconds, PostgreSQL's own precision.
    public var postgresText: String { PostgresTimestamp.format(self) }
}

extension Data: PostgresEncodable {
    public static var postgresType: PostgresType { .bytea }
    /// The hex form (`\x0a1b`), which carries NUL bytes safely.
    public var postgresText: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        bytes.reserveCapacity(2 + count * 2)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Array: PostgresEncodable where Element: PostgresEncodable {
    public static var postgresType: PostgresType { Element.postgresType.arrayType }

    /// One pass: each element's value is made once, checked for NUL and written into the literal.
    public var postgresValue: PostgresValue {
        let (text, problem) = literal()
        return PostgresValue(type: Self.postgresType, checkedText: text, encodingError: problem.map { "an array element \($0)" })
    }

    /// A one-dimensional array literal: every element quoted, NULL unquoted.
    public var postgresText: String { literal().text }

    /// Arrays of uuids, integers, booleans, timestamps and text go in binary: no literal
    /// to write here and no `array_in` to parse it on the server (a tenth of PostgreSQL's
    /// time in a push, with one uuid, int8 or text array per column).
    public var postgresParameter: PostgresValue {
        guard let element = Element.self as? any PostgresBinaryElement.Type else { return postgresValue }
        return Self.binaryArray(self, of: element)
    }

    private static func binaryArray<Binary: PostgresBinaryElement>(_ array: [Element], of type: Binary.Type) -> PostgresValue {
        // Element is Binary (the cast above found it so): view the array as what it is.
        let items = unsafeBitCast(array, to: [Binary].self)
        var out: [UInt8] = []
        out.reserveCapacity(20 + items.count * 24)
        func int32(_ value: Int32) {
            Swift.withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
        }
        int32(items.isEmpty ? 0 : 1)  // dimensions
        int32(0)  // has-null flag: optional in the send format, PostgreSQL sets it itself
        int32(Int32(bitPattern: Binary.binaryOID))
        if !items.isEmpty {
            int32(Int32(items.count))
            int32(1)  // lower bound
        }
        var problem: String?
        for item in items {
            // A length placeholder, filled in once the element is written (-1 is NULL).
            let start = out.count
            out.append(contentsOf: [0, 0, 0, 0])
            let (written, error) = item.appendBinary(to: &out)
            if problem == nil, let error { problem = error }
            let length = written ? Int32(out.count - start - 4) : -1
            Swift.withUnsafeBytes(of: length.bigEndian) { bytes in
                for index in 0..<4 { out[start + index] = bytes[index] }
            }
        }
        return PostgresValue(type: postgresType, binary: out, encodingError: problem.map { "an array element \($0)" })
    }

    private func literal() -> (text: String, problem: String?) {
        // Built as UTF-8 bytes: arrays are the bulk of a push's parameters.
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(count * 16 + 2)
        var problem: String?
        for (index, element) in enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            let error = element.appendArrayElement(to: &out)
            if problem == nil { problem = error }
        }
        out.append(UInt8(ascii: "}"))
        return (String(decoding: out, as: UTF8.self), problem)
    }
}

/// A `Codable` value stored as `jsonb`, read back from `json` or `jsonb`.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresEncodable, Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }

    public static var postgresType: PostgresType { .jsonb }
    public var postgresText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a Codable value into JSON fails only for non-finite doubles,
        // which jsonb cannot hold either: send an invalid literal so the server names it.
        guard let data = try? encoder.encode(value) else { return "not valid json: non-finite number" }
        return String(decoding: data, as: UTF8.self)
    }
}
