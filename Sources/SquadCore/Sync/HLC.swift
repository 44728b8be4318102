import Foundation

/// A hybrid logical clock reading: `2026-06-01T07:32:11.004Z-0000-dev7f3a`.
///
/// UTC instant with milliseconds, a 4-hex-digit counter, then the node (device) id.
/// Readings order by instant, then counter, then node, which is also their text
/// order (SYNC.md), so ties between devices are broken by device id.
public struct HLC: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millis: Int64
    public var counter: Int
    public var node: String

    public init(millis: Int64, counter: Int, node: String) {
        self.millis = millis
        self.counter = counter
        self.node = node
    }

    /// Parses the text form; `nil` when it is not one.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        // "YYYY-MM-DDTHH:MM:SS.mmmZ" is 24 bytes, then "-XXXX-", then the node.
        guard bytes.count >= 31, bytes[23] == UInt8(ascii: "Z"), bytes[24] == UInt8(ascii: "-"), bytes[29] == UInt8(ascii: "-") else { return nil }
        guard let millis = ISOInstant.parseMillis(bytes[0..<24]) else { return nil }
        // Four hex digits exactly: Int(_:radix:) alone would take "-030" (a negative counter; found by fuzzing).
        guard bytes[25..<29].allSatisfy({ (48...57).contains($0) || (97...102).contains($0) || (65...70).contains($0) }),
              let counter = Int(String(decoding: bytes[25..<29], as: UTF8.self), radix: 16) else { return nil }
        let node = String(decoding: bytes[30...], as: UTF8.self)
        guard !node.isEmpty, node.utf8.count <= 64 else { return nil }
        self.init(millis: millis, counter: counter, node: node)
    }

    public var description: String {
        var text = ISOInstant.formatMillis(millis)
        guard (0...0xFFFF).contains(counter) else {
            let hex = String(counter, radix: 16)
            return text + "-" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "-" + node
        }
        text.reserveCapacity(30 + node.utf8.count)
        let digits = Array("0123456789abcdef".utf8)
        text.append("-")
        text.append(String(decoding: [digits[counter >> 12], digits[counter >> 8 & 0xF], digits[counter >> 4 & 0xF], digits[counter & 0xF]], as: UTF8.self))
        text.append("-")
        text.append(node)
        return text
    }

    public static func < (lhs: HLC, rhs: HLC) -> Bool {
        if lhs.millis != rhs.millis { return lhs.millis < rhs.millis }
        if lhs.counter != rhs.counter { return lhs.counter < rhs.counter }
        return lhs.node.utf8.lexicographicallyPrecedes(rhs.node.utf8)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = HLC(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an HLC: \(text)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The clock after receiving `remote` at wall-clock time `now` (the HLC receive rule).
    public static func receive(local: HLC, remote: HLC, nowMillis: Int64, node: String) -> HLC {
        let millis = max(local.millis, remote.millis, nowMillis)
        let counter: Int
        if millis == local.millis && millis == remote.millis {
            counter = max(local.counter, remote.counter) + 1
        } else if millis == local.millis {
            counter = local.counter + 1
        } else if millis == remote.millis {
            counter = remote.counter + 1
        } else {
            counter = 0
        }
        return HLC(millis: millis, counter: min(counter, 0xFFFF), node: node)
    }

    /// The clock after a local event at `now`.
    public static func tick(local: HLC, nowMillis: Int64, node: String) -> HLC {
        nowMillis > local.millis
            ? HLC(millis: nowMillis, counter: 0, node: node)
            : HLC(millis: local.millis, counter: min(local.counter + 1, 0xFFFF), node: node)
    }
}

/// UTC instants as devices send them: `2026-06-01T07:32:11.004Z` (milliseconds optional on input).
public enum ISOInstant {
    public static func parseMillis<Bytes: Collection<UInt8>>(_ text: Bytes) -> Int64? where Bytes.Index == Int {
        if let millis = text.withContiguousStorageIfAvailable({ parseMillis(buffer: $0) }) { return millis }
        return Array(text).withUnsafeBufferPointer { parseMillis(buffer: $0) }
    }

    /// The same for a string's UTF-8, without copying it.
    public static func parseMillis(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseMillis(buffer: $0) }
    }

    static func parseMillis(buffer bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ width: Int) -> Int64? {
            var value: Int64 = 0
            for index in from..<(from + width) {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard bytes[4] == 45, bytes[7] == 45, bytes[10] == UInt8(ascii: "T"), bytes[13] == 58, bytes[16] == 58,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var millis: Int64 = 0
        if bytes.count > 20 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count >= 22, bytes.count <= 30 else { return nil }
            let digits = bytes.count - 21
            guard let fraction = number(20, digits) else { return nil }
            var scaled = fraction
            if digits < 3 { for _ in digits..<3 { scaled *= 10 } } else if digits > 3 { for _ in 3..<digits { scaled /= 10 } }
            millis = scaled
        } else {
            guard bytes.count == 20 else { return nil }
        }
        let days = daysFromCivil(year, month, day)
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis
    }

    public static func parse(_ text: String) -> Date? {
        parseMillis(text).map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    public static func formatMillis(_ millis: Int64) -> String {
        var days = millis / 86_400_000
        var rest = millis % 86_400_000
        if rest < 0 { rest += 86_400_000; days -= 1 }
        let (year, month, day) = civilFromDays(days)
        if (0...9999).contains(year) {
            // Written as 24 bytes in place: this runs for every HLC a push stores.
            return String(unsafeUninitializedCapacity: 24) { out in
                func put(_ value: Int64, _ width: Int, at offset: Int) {
                    var value = value
                    for position in stride(from: offset + width - 1, through: offset, by: -1) {
                        out[position] = UInt8(48 + value % 10)
                        value /= 10
                    }
                }
                put(year, 4, at: 0); out[4] = 45; put(month, 2, at: 5); out[7] = 45; put(day, 2, at: 8)
                out[10] = UInt8(ascii: "T"); put(rest / 3_600_000, 2, at: 11); out[13] = 58
                put(rest / 60_000 % 60, 2, at: 14); out[16] = 58; put(rest / 1000 % 60, 2, at: 17)
                out[19] = UInt8(ascii: "."); put(rest % 1000, 3, at: 20); out[23] = UInt8(ascii: "Z")
                return 24
            }
        }
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rest / 3_600_000, 2)):\(pad(rest / 60_000 % 60, 2)):\(pad(rest / 1000 % 60, 2)).\(pad(rest % 1000, 3))Z"
    }

    public static func format(_ date: Date) -> String {
        formatMillis(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
