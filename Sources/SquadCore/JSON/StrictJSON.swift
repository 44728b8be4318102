/// A strict JSON parser for what devices send.
///
/// Foundation's decoders keep the first of two duplicate keys while PostgreSQL's
/// `jsonb` keeps the last, so a value could be validated as one thing and stored
/// as another. This parser refuses duplicate keys, numbers that do not fit a
/// finite double (`1e400`), invalid UTF-8, NUL characters (PostgreSQL text
/// cannot hold them), control characters in strings, and nesting deeper than
/// `maximumDepth`. It works on bytes in one pass, so it is also several times
/// faster than `JSONSerialization` (PERF.md). Hand-written because no available
/// library rejects duplicate keys.
public enum StrictJSON {
    /// Why a document was refused, with a stable code and the byte offset.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Code: String, Sendable {
            case invalidJSON = "invalid_json"
            case duplicateKey = "duplicate_key"
            case numberOutOfRange = "number_out_of_range"
            case tooDeep = "too_deep"
            case invalidUTF8 = "invalid_utf8"
        }

        public var code: Code
        public var message: String
        public var offset: Int

        public var description: String { "\(message) (at byte \(offset))" }
    }

    public static let maximumDepth = 64

    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
            do throws(Failure) {
                return try parse(buffer, locatingDuplicates: false)
            } catch {
                // The fast pass only knows some object repeats a key: find the first one.
                guard error.code == .duplicateKey, error.offset < 0 else { throw error }
                return try parse(buffer, locatingDuplicates: true)
            }
        }
    }

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, locatingDuplicates: Bool) throws(Failure) -> JSONValue {
        var parser = Parser(bytes: buffer, locatingDuplicates: locatingDuplicates)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == buffer.count else { throw parser.failure(.invalidJSON, "unexpected text after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Set for a second pass over a document with a duplicate key, to report where it is.
        let locatingDuplicates: Bool

        init(bytes: UnsafeBufferPointer<UInt8>, locatingDuplicates: Bool = false) {
            self.bytes = bytes
            self.locatingDuplicates = locatingDuplicates
        }

        func failure(_ code: Failure.Code, _ message: String) -> Failure {
            Failure(code: code, message: message, offset: index)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
            guard index < bytes.count else { throw failure(.invalidJSON, "unexpected end of JSON") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectWord("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw failure(.invalidJSON, "unexpected character '\(Self.printable(bytes[index]))'")
            }
        }

        mutating func expectWord(_ word: StaticString) throws(Failure) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw failure(.invalidJSON, "unexpected end of JSON") }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
                throw failure(.invalidJSON, "invalid literal")
            }
            index += count
        }

        mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
            guard depth <= StrictJSON.maximumDepth else { throw failure(.tooDeep, "JSON nested deeper than \(StrictJSON.maximumDepth) levels") }
            index += 1
            var members: [JSONObject.Member] = []
            // Keys arriving in canonical order (what this server and careful clients write)
            // need no sort and are unique by construction; anything else is sorted once.
            var inOrder = true
            var seen: Set<String> = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject())
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure(.invalidJSON, "expected a quoted key") }
                let keyOffset = index
                let key = try parseString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure(.invalidJSON, "expected ':' after a key") }
                index += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                // The slow pass after a duplicate was found: name the exact key and offset.
                if locatingDuplicates, !seen.insert(key).inserted {
                    throw Failure(code: .duplicateKey, message: "duplicate key \"\(key.prefix(64))\"", offset: keyOffset)
                }
                if inOrder, let last = members.last, !JSONObject.precedes(last.key, key) {
                    inOrder = false
                }
                members.append(JSONObject.Member(key: key, value: value))
                skipWhitespace()
                guard index < bytes.count else { throw failure(.invalidJSON, "unexpected end of JSON in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    if inOrder { return .object(JSONObject(sortedUniqueMembers: members)) }
                    guard let object = JSONObject.sorting(members) else {
                        throw Failure(code: .duplicateKey, message: "duplicate key", offset: -1)
                    }
                    return .object(object)
                }
                throw failure(.invalidJSON, "expected ',' or '}' in an object")
            }
        }

        mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
            guard depth <= StrictJSON.maximumDepth else { throw failure(.tooDeep, "JSON nested deeper than \(StrictJSON.maximumDepth) levels") }
            index += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw failure(.invalidJSON, "unexpected end of JSON in an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw failure(.invalidJSON, "expected ',' or ']' in an array")
            }
        }

        mutating func parseString() throws(Failure) -> String {
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    return try makeString(slice, at: start)
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw failure(.invalidJSON, byte == 0 ? "NUL character in a string" : "unescaped control character in a string") }
                index += 1
            }
            var scratch = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return try scratch.withUnsafeBufferPointer { buffer throws(Failure) in try makeString(buffer, at: start) }
                }
                if byte < 0x20 { throw failure(.invalidJSON, byte == 0 ? "NUL character in a string" : "unescaped control character in a string") }
                if byte != UInt8(ascii: "\\") {
                    scratch.append(byte)
                    index += 1
                    continue
                }
                index += 1
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalarValue = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalarValue) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw failure(.invalidUTF8, "unpaired surrogate in a \\u escape")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure(.invalidUTF8, "unpaired surrogate in a \\u escape") }
                        scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalarValue) {
                        throw failure(.invalidUTF8, "unpaired surrogate in a \\u escape")
                    }
                    guard scalarValue != 0 else { throw failure(.invalidJSON, "\\u0000 (NUL) is not allowed in strings") }
                    guard let scalar = Unicode.Scalar(scalarValue) else { throw failure(.invalidUTF8, "invalid \\u escape") }
                    scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw failure(.invalidJSON, "invalid escape '\\\(Self.printable(escape))'")
                }
            }
            throw failure(.invalidJSON, "unterminated string")
        }

        mutating func parseHex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure(.invalidJSON, "short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - 48)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - 87)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - 55)
                default: throw failure(.invalidJSON, "invalid hex digit in a \\u escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        func makeString(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(Failure) -> String {
            // ASCII (nearly every key and value) is valid as it is, and String(decoding:) is
            // specialized; String(validating:) looked up generic metadata on every call (perf).
            var high: UInt8 = 0
            for byte in bytes { high |= byte }
            if high < 0x80 { return String(decoding: bytes, as: UTF8.self) }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw Failure(code: .invalidUTF8, message: "a string is not valid UTF-8", offset: offset)
            }
            return text
        }

        mutating func parseNumber() throws(Failure) -> JSONValue {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { throw failure(.invalidJSON, "invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            } else {
                throw failure(.invalidJSON, "invalid number")
            }
            var isInteger = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                let digits = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                guard index > digits else { throw failure(.invalidJSON, "invalid number: digits expected after '.'") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                let digits = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                guard index > digits else { throw failure(.invalidJSON, "invalid number: exponent digits expected") }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if isInteger, let integer = Int64(text) { return .int(integer) }
            guard let double = Double(text), double.isFinite else {
                throw Failure(code: .numberOutOfRange, message: "number \(text.prefix(40)) does not fit a 64-bit float", offset: start)
            }
            return JSONValue.number(double)
        }

        static func printable(_ byte: UInt8) -> String {
            (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
        }
    }
}

extension JSONValue {
    /// A number in its normal form: integral doubles within ±2^53 become `.int`.
    public static func number(_ value: Double) -> JSONValue {
        if value.rounded() == value, abs(value) < 9_007_199_254_740_992 { return .int(Int64(value)) }
        return .double(value)
    }
}
