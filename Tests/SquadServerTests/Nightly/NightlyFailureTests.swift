import Foundation
import HummingbirdTesting
import Logging
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// One athlete's failure is reported by name and exit code without stopping the others;
/// coach overrides and acknowledgements hold against the nightly run.
@Suite("Nightly run: failures, overrides, acknowledgements")
struct NightlyFailureTests {
    static let zone = "Europe/Lisbon"
    static let night = Day("2026-11-22")!
    static let now = Date(timeIntervalSince1970: 1_795_428_000)

    @Test("a database error for one athlete fails that athlete only; coach nightly names it and exits 1")
    func oneAthleteFails() async throws {
        let fixture = try await NightlyFixture.make(athletes: [("ana", Self.zone), ("bob", Self.zone), ("cy", Self.zone)])
        for handle in ["ana", "bob", "cy"] {
            try await fixture.log(handle, device: "phone", [NightlyFixture.wellness(Self.night, zone: Self.zone, illness: true)])
        }
        // Fault injection: every metrics write for bob fails inside PostgreSQL.
        try await fixture.pool.withConnection { connection in
            try connection.executeScript("""
                CREATE FUNCTION fail_for_bob() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.athlete_id = (SELECT id FROM athletes WHERE handle = 'bob') THEN RAISE EXCEPTION 'injected failure'; END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER fail_for_bob BEFORE INSERT OR UPDATE ON daily_metrics FOR EACH ROW EXECUTE FUNCTION fail_for_bob();
                """)
        }
        let report = try await fixture.nightly(Self.night, now: Self.now)
        #expect(report.failed.map(\.handle) == ["bob"])
        #expect(report.failed.first?.error?.contains("injected failure") == true)
        #expect(Set(report.athletes.filter { $0.error == nil }.map(\.handle)) == ["ana", "cy"])
        #expect(try await fixture.count("SELECT count(*) FROM flags") == 2, "bob's flag rolled back with his failure")
        #expect(try await fixture.count("SELECT count(*) FROM nightly_state WHERE last_night IS NULL") == 1, "bob is retried next time")
        await fixture.close()

        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = fixture.database.url
        let cli = try Subprocess.run(try CoachCommandTests.coachPath(), ["nightly", "--date", "2026-11-22"], environment: environment)
        #expect(cli.status == 1, "\(cli.output)")
        #expect(cli.output.contains("bob") && cli.output.contains("injected failure"), "\(cli.output)")
        #expect(cli.output.contains("1 failed"), "\(cli.output)")
    }

    @Test("a coach override wins: the nightly run never changes that day, and the athlete's device gets it")
    func overrideWins() async throws {
        let fixture = try await NightlyFixture.make()
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(Self.night, zone: Self.zone, illness: true)])
        try await fixture.generatePlan("ana", from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)
        let tuesday = Self.night.adding(days: 2)
        let change = try await fixture.pool.withTransaction { connection in
            try PlanService.override(handle: "ana", date: tuesday, type: .interval, kilometres: 9, note: "race simulation", coach: "maria", now: Self.now, on: connection)
        }
        #expect(change.after.type == .interval && change.after.distanceMetres == 9000)

        let report = try await fixture.nightly(Self.night, now: Self.now)
        let changes = report.athletes.first?.planChanges.map(\.value) ?? []
        #expect(!changes.contains { $0["session_date"]?.stringValue == tuesday.description }, "the coach's day is never changed")
        #expect(report.athletes.first?.flagsRaised.map(\.code).contains("illness") == true, "no runs logged: missed_sessions too")
        let stored = try await fixture.pool.withConnection { connection in
            try connection.query("""
                SELECT s.session_type, s.coach_locked, e.doc #>> '{body,coach_override}', e.doc #>> '{body,note}'
                FROM plan_sessions s JOIN entries e ON e.athlete_id = s.athlete_id AND e.entry_id = s.session_id
                WHERE s.session_date = \(tuesday)
                """)[0].decode((String, Bool, String, String).self)
        }
        #expect(stored.0 == "interval" && stored.1 && stored.2 == "true" && stored.3 == "race simulation")
        // The athlete's device pulls the override like any change.
        let token = try await fixture.pool.withTransaction { try DeviceStore.enroll(handle: "ana", name: "ana-tablet", type: "other", key: TestTokenKey.key, on: $0).1 }
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), now: { Self.now })
        try await app.test(.router) { client in
            let (changes, _) = try await client.pullAll(token: token)
            let day = changes.first { $0["kind"]?.stringValue == "plan_session" && $0["entry"]?["body"]?["date"]?.stringValue == tuesday.description }
            #expect(day?["entry"]?["body"]?["type"]?.stringValue == "interval")
            #expect(day?["entry"]?["body"]?["coach_override"] == .bool(true))
            #expect(day?["entry"]?["body"]?["note"]?.stringValue == "race simulation")
        }
        let history = try await fixture.pool.withConnection { try PlanStore.history(athleteID: RuleStore.athlete("ana", on: $0).id, on: $0) }
        #expect(history.contains { $0.author == "coach" && $0.actor == "maria" && $0.sessionDate == tuesday })
        let audit = try await fixture.pool.withConnection { try AuditStore.list(handle: "ana", on: $0) }
        #expect(audit.count == 1)
        #expect(audit.first?.action == "plan.override" && audit.first?.actor == "maria" && audit.first?.subject == tuesday.description)
        #expect(audit.first?.before?["type"]?.stringValue == change.before.type.rawValue && audit.first?.after?["type"]?.stringValue == "interval")
        #expect(audit.first?.note == "race simulation")
    }

    @Test("an acknowledged flag is not raised again while its condition holds")
    func acknowledged() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.log("ana", device: "phone", [
            NightlyFixture.wellness(Self.night, zone: Self.zone, illness: true),
            NightlyFixture.wellness(Self.night.adding(days: 1), zone: Self.zone, illness: true),
        ])
        let first = try await fixture.nightly(Self.night, now: Self.now)
        let flag = try #require(first.athletes.first?.flagsRaised.first)
        let acknowledged = try await fixture.pool.withTransaction { try FlagStore.acknowledge(flag.id, by: "maria", note: "resting", on: $0) }
        #expect(acknowledged.status == "acknowledged")
        await #expect(throws: AdminError.self) { try await fixture.pool.withTransaction { try FlagStore.acknowledge(flag.id, by: "maria", note: nil, on: $0) } }

        let audit = try await fixture.pool.withConnection { try AuditStore.list(handle: nil, on: $0) }
        #expect(audit.map(\.action) == ["flag.ack"] && audit.first?.actor == "maria" && audit.first?.note == "resting")
        #expect(audit.first?.before?["status"]?.stringValue == "open" && audit.first?.after?["status"]?.stringValue == "acknowledged")
        let next = try await fixture.nightly(Self.night.adding(days: 1), now: Self.now.addingTimeInterval(86_400))
        #expect(next.athletes.first?.flagsRaised.isEmpty == true)
        #expect(try await fixture.count("SELECT count(*) FROM flags") == 1)
    }
}
