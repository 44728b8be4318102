import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// The coach commands against a running `coach serve` with --server and COACH_TOKEN.
@Suite("Coach commands over the API")
struct RemoteCoachTests {
    @Test("digest, flags and ack work with --server; another squad's athlete is refused; no token is a usage error")
    func remote() async throws {
        let zone = "Europe/Lisbon"
        let night = Day("2026-11-22")!
        let fixture = try await NightlyFixture.make(athletes: [("ana", zone)])
        let token = try await fixture.pool.withTransaction { connection -> String in
            _ = try SquadStore.create(name: "Other", on: connection)
            _ = try AthleteStore.add(NewAthlete(handle: "zed", name: "Zed", squad: "Other", timeZone: zone), currentYear: 2026, on: connection)
            return try CoachStore.add(handle: "maria", name: nil, squad: "Club", key: TestTokenKey.key, on: connection).1
        }
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(night, zone: zone, illness: true)])
        let report = try await fixture.nightly(night, now: Date(timeIntervalSince1970: 1_795_428_000))
        let flag = try #require(report.athletes.first { $0.handle == "ana" }?.flagsRaised.first)
        await fixture.close()

        let port = 21_000 + Int.random(in: 0..<4000)
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = fixture.database.url
        environment["COACH"] = try CoachCommandTests.coachPath()
        environment["COACH_TOKEN"] = token
        environment["NO_COLOR"] = "1"
        let script = """
            "$COACH" serve --port \(port) > /dev/null 2>&1 & pid=$!
            for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done
            S=http://127.0.0.1:\(port)
            echo "== digest"; COLUMNS=80 "$COACH" digest --server $S
            echo "== flags"; "$COACH" flags --server $S --json
            echo "== ack"; "$COACH" ack \(flag.id.uuidString.lowercased()) --server $S --note remote; echo "ack exit $?"
            echo "== zed"; "$COACH" digest zed --server $S; echo "zed exit $?"
            echo "== no token"; COACH_TOKEN= "$COACH" flags --server $S; echo "no token exit $?"
            kill $pid; wait $pid 2>/dev/null
            """
        let outcome = try Subprocess.run("/bin/bash", ["-c", script], environment: environment)
        let output = outcome.output
        #expect(output.contains("ana      ACT illness"), "\(output)")
        #expect(!output.contains("zed      "), "another squad's athlete is not listed")
        #expect(output.contains("\"code\" : \"illness\""), "\(output)")
        #expect(output.contains("acknowledged illness (act) of ana") && output.contains("ack exit 0"), "\(output)")
        #expect(output.contains("zed exit 1") && output.contains("not_found"), "\(output)")
        #expect(output.contains("no token exit 2") && output.contains("COACH_TOKEN"), "\(output)")

        let pool = try fixture.database.pool(maxConnections: 1)
        let audit = try await pool.withConnection { try AuditStore.list(handle: "ana", on: $0) }
        await pool.close()
        #expect(audit.first?.action == "flag.ack" && audit.first?.actor == "maria" && audit.first?.note == "remote")
    }
}
