import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// Two `coach nightly` processes started together (cron overlap, a second machine)
/// share the athletes through claims in the database and adjust each exactly once.
@Suite("Nightly run, two processes at once")
struct NightlyConcurrencyTests {
    @Test("two coach nightly processes adjust each of 24 athletes exactly once")
    func twoProcesses() async throws {
        let handles = (0..<24).map { String(format: "runner%02d", $0) }
        let fixture = try await NightlyFixture.make(athletes: handles.map { ($0, "Europe/Lisbon") })
        let night = Day("2026-11-22")!
        for handle in handles {
            try await fixture.log(handle, device: "phone", [NightlyFixture.wellness(night, zone: "Europe/Lisbon", illness: true)])
            try await fixture.generatePlan(handle, from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)
        }
        await fixture.close()

        let coach = try CoachCommandTests.coachPath()
        let out = "/tmp/sq-nightly-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: out + ".a"); try? FileManager.default.removeItem(atPath: out + ".b") }
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = fixture.database.url
        environment["COACH"] = coach
        let script = """
            "$COACH" nightly --date 2026-11-22 --batch-size 2 --json > \(out).a & a=$!
            "$COACH" nightly --date 2026-11-22 --batch-size 2 --json > \(out).b & b=$!
            wait $a; ra=$?; wait $b; rb=$?
            echo "exit $ra $rb"
            """
        let outcome = try Subprocess.run("/bin/bash", ["-c", script], environment: environment)
        #expect(outcome.output.contains("exit 0 0"), "\(outcome.output)")

        var processed: [[String]] = []
        for suffix in ["a", "b"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(out).\(suffix)"))
            let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let athletes = report["athletes"] as? [[String: Any]] ?? []
            processed.append(athletes.compactMap { $0["handle"] as? String })
        }
        #expect(Set(processed[0]).isDisjoint(with: processed[1]), "an athlete was processed by both runs")
        #expect(Set(processed[0]).union(processed[1]) == Set(handles), "every athlete was processed by one run")

        let pool = try fixture.database.pool(maxConnections: 1)
        let (swaps, flags, perAthlete) = try await pool.withConnection { connection in
            let swaps = try connection.query("SELECT count(*) FROM plan_revisions WHERE rule = 'recovery_swap'")[0].decode(Int.self, at: 0)
            let flags = try connection.query("SELECT count(*) FROM flags WHERE code = 'illness'")[0].decode(Int.self, at: 0)
            let most = try connection.query("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM plan_revisions WHERE author = 'rule' GROUP BY athlete_id, session_date, rule) c")[0].decode(Int.self, at: 0)
            return (swaps, flags, most)
        }
        await pool.close()
        #expect(swaps == handles.count, "one recovery swap per athlete")
        #expect(flags == handles.count, "one illness flag per athlete")
        #expect(perAthlete == 1, "no day changed twice by the same rule")
    }
}
