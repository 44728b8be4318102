import Foundation
@testable import Postgres
import Testing

@Suite("Timestamp text format")
struct TimestampTests {
    @Test("parses PostgreSQL's ISO output with any offset", arguments: [
        ("2026-11-23 14:46:36+00", 1_795_445_196.0),
        ("2026-11-23 15:46:36+01", 1_795_445_196.0),
        ("2026-11-23 09:16:36-05:30", 1_795_445_196.0),
        ("2026-11-23 14:46:36.5+00", 1_795_445_196.5),
        ("2026-11-23T14:46:36.000001Z", 1_795_445_196.000001),
        ("1970-01-01", 0.0),
        ("1969-12-31 23:59:59+00", -1.0),
    ])
    func parses(text: String, expected: Double) throws {
        let date = try #require(PostgresTimestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - expected) < 0.000_000_5)
    }

    @Test("rejects what is not a timestamp", arguments: ["", "2026-13", "yesterday", "2026-11-23 14:46", "2026-11-23 14:46:36+0x"])
    func rejects(text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test("formats what it parses")
    func formatRoundTrip() throws {
        for seconds in [0.0, -86_400.5, 1_795_445_196.123456, 4_102_444_800.0] {
            let date = Date(timeIntervalSince1970: seconds)
            let parsed = try #require(PostgresTimestamp.parse(PostgresTimestamp.format(date)))
            #expect(abs(parsed.timeIntervalSince1970 - seconds) < 0.000_001)
        }
    }
}
