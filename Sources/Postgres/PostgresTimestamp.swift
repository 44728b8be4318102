import Foundation

/// Formats and parses PostgreSQL's ISO text form of timestamps and dates.
enum PostgresTimestamp {
    /// `2026-11-23T14:46:36.123456Z`, microseconds, UTC.
    static func format(_ date: Date) -> String {
        let totalMicros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard totalMicros.isFinite, abs(totalMicros) < 9.0e15 else {
            return totalMicros < 0 ? "-infinity" : "infinity"
        }
        let micros = Int64(totalMicros)
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = civilFromDays(days)
        if (0...9999).contains(year) {
            // 27 bytes written in place: a push binds hundreds of these.
            return String(unsafeUninitializedCapacity: 27) { out in
                func put(_ value: Int64, _ width: Int, at offset: Int) {
                    var value = value
                    for position in stride(from: offset + width - 1, through: offset, by: -1) {
                        out[position] = UInt8(48 + value % 10)
                        value /= 10
                    }
                }
                put(year, 4, at: 0); out[4] = 45; put(month, 2, at: 5); out[7] = 45; put(day, 2, at: 8)
                out[10] = UInt8(ascii: "T"); put(secondOfDay / 3600, 2, at: 11); out[13] = 58
                put(secondOfDay / 60 % 60, 2, at: 14); out[16] = 58; put(secondOfDay % 60, 2, at: 17)
                out[19] = UInt8(ascii: "."); put(fraction, 6, at: 20); out[26] = UInt8(ascii: "Z")
                return 27
            }
        }
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
            + ".\(pad(fraction, 6))Z"
    }

    /// Parses `timestamptz` (`2026-11-23 14:46:36.123+00`, any offset),
    /// `timestamp` (taken as UTC) and `date` (midnight UTC) in DateStyle ISO.
    static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<width {
                let byte = bytes[index + offset]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ char: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == char else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2) else { return nil }
        var seconds = daysFromCivil(year, month, day) * 86_400
        var micros: Int64 = 0
        if index < bytes.count {
            guard bytes[index] == 32 || bytes[index] == 84 else { return nil }
            index += 1
            guard let hour = number(2), expect(58), let minute = number(2), expect(58), let second = number(2) else { return nil }
            seconds += hour * 3600 + minute * 60 + second
            if index < bytes.count, bytes[index] == 46 {
                index += 1
                var digits = 0
                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                    if digits < 6 { micros = micros * 10 + Int64(bytes[index] - 48) }
                    digits += 1
                    index += 1
                }
                if digits < 6 { for _ in digits..<6 { micros *= 10 } }
            }
            if index < bytes.count {
                let sign = bytes[index]
                if sign == 90 { index += 1 } else {
                    guard sign == 43 || sign == 45 else { return nil }
                    index += 1
                    guard let offsetHours = number(2) else { return nil }
                    var offset = offsetHours * 3600
                    if expect(58) { guard let minutes = number(2) else { return nil }; offset += minutes * 60 }
                    if expect(58) { guard let secs = number(2) else { return nil }; offset += secs }
                    seconds += sign == 43 ? -offset : offset
                }
            }
        }
        guard index == bytes.count else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
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
