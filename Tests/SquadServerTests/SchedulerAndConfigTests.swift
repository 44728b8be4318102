import Foundation
import Postgres
import SquadServer
import Testing

@Suite("In-process nightly scheduler and configuration")
struct SchedulerAndConfigTests {
    static func instant(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test("the next run is the next 02:30 on the server's clock, across a DST change")
    func nextRun() {
        let lisbon = TimeZone(identifier: "Europe/Lisbon")!
        #expect(NightlyScheduler.nextRun(after: Self.instant("2026-11-23T10:00:00Z"), at: (2, 30), in: lisbon) == Self.instant("2026-11-24T02:30:00Z"))
        // 2026-03-29: clocks go from 01:00 to 02:00 (UTC+1), so 02:30 local is 01:30 UTC.
        #expect(NightlyScheduler.nextRun(after: Self.instant("2026-03-28T23:00:00Z"), at: (2, 30), in: lisbon) == Self.instant("2026-03-29T01:30:00Z"))
        #expect(NightlyScheduler.nextRun(after: Self.instant("2026-11-24T02:29:00Z"), at: (2, 30), in: lisbon) == Self.instant("2026-11-24T02:30:00Z"))
    }

    @Test("--nightly-at is validated with the setting named")
    func parse() throws {
        #expect(try Configuration.parseTimeOfDay("02:30")! == (2, 30))
        #expect(try Configuration.parseTimeOfDay("off") == nil)
        for bad in ["25:00", "2:3", "02:60", "noon"] {
            #expect(throws: ConfigurationError.self) { try Configuration.parseTimeOfDay(bad) }
        }
        do { _ = try Configuration.parseTimeOfDay("24:00") } catch let error as ConfigurationError {
            #expect(error.description.contains("--nightly-at") && error.description.contains("SQUAD_NIGHTLY_AT"))
        }
    }

    @Test("coach config show prints every setting and never the database password")
    func configShow() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = "postgresql://coach:pa55-w0rd@db.example.org/squadsync"
        environment["SQUAD_PORT"] = "9191"
        let outcome = try Subprocess.run(try CoachCommandTests.coachPath(), ["config", "show", "--json"], environment: environment)
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(!outcome.output.contains("pa55-w0rd"))
        let rows = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == Setting.all.count)
        #expect(rows.first { $0["setting"] as? String == "port" }?["value"] as? String == "9191")
        #expect(rows.first { $0["setting"] as? String == "database-url" }?["secret"] as? Bool == true)
        let bad = try Subprocess.run(try CoachCommandTests.coachPath(), ["config", "show"], environment: environment.merging(["SQUAD_NIGHTLY_AT": "25:99"]) { $1 })
        #expect(bad.status == 2 && bad.output.contains("SQUAD_NIGHTLY_AT"), "\(bad.output)")
    }
}
