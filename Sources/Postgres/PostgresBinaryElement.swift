import Foundation

/// A type with a binary form (PostgreSQL's send format) for array parameters.
///
/// `appendBinary` writes the value's bytes and returns `false` for NULL (writing nothing),
/// with the reason the value cannot be sent, if any.
public protocol PostgresBinaryElement: PostgresEncodable {
    /// The element type's OID in the array header.
    static var binaryOID: UInt32 { get }
    func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?)
}

extension PostgresBinaryElement {
    static func appendBigEndian<Value: FixedWidthInteger>(_ value: Value, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }
}

extension Optional: PostgresBinaryElement where Wrapped: PostgresBinaryElement {
    public static var binaryOID: UInt32 { Wrapped.binaryOID }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        switch self {
        case .some(let value): value.appendBinary(to: &out)
        case .none: (false, nil)
        }
    }
}

extension UUID: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.uuid.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        withUnsafeBytes(of: uuid) { out.append(contentsOf: $0) }
        return (true, nil)
    }
}

extension Int64: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.int8.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        Self.appendBigEndian(self, to: &out)
        return (true, nil)
    }
}

extension Int: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.int8.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        Self.appendBigEndian(Int64(self), to: &out)
        return (true, nil)
    }
}

extension Int32: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.int4.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        Self.appendBigEndian(self, to: &out)
        return (true, nil)
    }
}

extension Bool: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.bool.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        out.append(self ? 1 : 0)
        return (true, nil)
    }
}

extension Double: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.float8.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        Self.appendBigEndian(bitPattern, to: &out)
        return (true, nil)
    }
}

extension String: PostgresBinaryElement {
    /// Strings go untyped as scalars; in arrays they are `text`, as in the text form.
    public static var binaryOID: UInt32 { PostgresType.text.rawValue }

    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        var text = self
        let hasNUL = text.withUTF8 { bytes in
            out.append(contentsOf: bytes)
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
        return (true, hasNUL ? PostgresValue.nulMessage : nil)
    }
}

extension Date: PostgresBinaryElement {
    public static var binaryOID: UInt32 { PostgresType.timestamptz.rawValue }

    /// Microseconds since 2000-01-01 UTC, rounded as the text form is; out of range is ±infinity.
    public func appendBinary(to out: inout [UInt8]) -> (written: Bool, problem: String?) {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        let value: Int64
        if !micros.isFinite || abs(micros) >= 9.0e15 {
            value = micros < 0 ? Int64.min : Int64.max
        } else {
            value = Int64(micros) - 946_684_800_000_000
        }
        Self.appendBigEndian(value, to: &out)
        return (true, nil)
    }
}
