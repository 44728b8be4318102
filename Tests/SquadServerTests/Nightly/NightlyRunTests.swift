import Foundation
import HummingbirdTesting
import Logging
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// The nightly run against a real database: flags, plan changes, the pull feed,
/// re-runs, catch-up, late entries, time zones and duplicates.
@Suite("Nightly run")
struct NightlyRunTests {
    static let zone = "Europe/Lisbon"
    static let night = Day("2026-11-22")!  // a Sunday
    /// 2026-11-23T10:00Z: "yesterday" in Lisbon is the night above.
    static let now = Date(timeIntervalSince1970: 1_795_428_000)

    @Test("a steady, healthy athlete: nothing raised or changed, and a re-run is a no-op")
    func steady() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.logSteady("ana", zone: Self.zone, until: Self.night, weeks: 6)
        try await fixture.generatePlan("ana", from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)

        let report = try await fixture.nightly(nil, now: Self.now)
        let ana = try #require(report.athletes.first)
        #expect(report.date == Self.night && ana.nights == [Self.night])
        #expect(ana.error == nil)
        #expect(ana.flagsRaised.isEmpty, "\(ana.flagsRaised.map { "\($0.code): \($0.evidence.value.canonicalText)" })")
        #expect(ana.planChanges.isEmpty, "\(ana.planChanges.map(\.value.canonicalText))")
        let metrics = try #require(ana.metrics)
        #expect(abs(metrics.last7Km - 47) < 0.01, "5 runs: 3 x 8 + 9 + 14 km")
        #expect(metrics.acwr.map { abs($0 - 1) < 0.01 } == true, "steady load: ACWR 1 (\(metrics.acwr ?? -1))")
        #expect(metrics.easyShare.map { $0 > 0.8 } == true)

        let metricRows = try await fixture.count("SELECT count(*) FROM daily_metrics")
        let again = try await fixture.nightly(nil, now: Self.now)
        #expect(again.athletes.isEmpty, "a re-run of the same night has nothing to do")
        #expect(try await fixture.count("SELECT count(*) FROM daily_metrics") == metricRows)
        #expect(try await fixture.count("SELECT count(*) FROM flags") == 0)
        #expect(try await fixture.count("SELECT count(*) FROM plan_revisions WHERE author = 'rule'") == 0)
    }

    @Test("illness: an act flag with evidence, the next hard session swapped to rest and pulled by the device; clears when well")
    func illness() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.logSteady("ana", zone: Self.zone, until: Self.night.adding(days: -1), weeks: 6)
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(Self.night, zone: Self.zone, illness: true)])
        try await fixture.generatePlan("ana", from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)

        let report = try await fixture.nightly(Self.night, now: Self.now)
        let ana = try #require(report.athletes.first)
        let illness = try #require(ana.flagsRaised.first { $0.code == "illness" })
        #expect(illness.severity == "act" && illness.rule == "illness" && illness.ruleVersion == 1)
        #expect(illness.evidence.value["date"]?.stringValue == Self.night.description)
        let swap = try #require(ana.planChanges.first { $0.value["rule"]?.stringValue == "recovery_swap" }?.value)
        let tuesday = Self.night.adding(days: 2)
        #expect(swap["session_date"]?.stringValue == tuesday.description)
        #expect(swap["before"]?["hard"] == .bool(true))
        #expect(swap["after"]?["type"]?.stringValue == "rest")
        #expect(swap["reason"]?.stringValue?.contains("illness") == true)

        // The device sees the change through the pull feed, as a plan_session entry.
        let token = try await fixture.pool.withTransaction { try DeviceStore.enroll(handle: "ana", name: "ana-new-phone", type: "phone", key: TestTokenKey.key, on: $0).1 }
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), now: { Self.now })
        try await app.test(.router) { client in
            let (changes, _) = try await client.pullAll(token: token)
            let planned = changes.filter { $0["kind"]?.stringValue == "plan_session" && $0["entry"]?["body"]?["date"]?.stringValue == tuesday.description }
            #expect(planned.count == 1)
            #expect(planned.first?["entry"]?["body"]?["type"]?.stringValue == "rest")
            #expect(planned.first?["entry"]?["body"]?["revision"]?.intValue == 1)
            #expect(planned.first?["version"]?.intValue == 2)
        }

        // Re-running the night adds nothing.
        let revisions = try await fixture.count("SELECT count(*) FROM plan_revisions")
        _ = try await fixture.pool.withTransaction { try $0.execute("UPDATE nightly_state SET last_night = \(Self.night.adding(days: -1))") }
        let rerun = try await fixture.nightly(Self.night, now: Self.now)
        #expect(rerun.athletes.first?.flagsRaised.isEmpty == true)
        #expect(rerun.athletes.first?.planChanges.isEmpty == true)
        #expect(try await fixture.count("SELECT count(*) FROM plan_revisions") == revisions)
        #expect(try await fixture.count("SELECT count(*) FROM flags") == 1)

        // Well again the next morning: the flag clears.
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(Self.night.adding(days: 1), zone: Self.zone)])
        let next = try await fixture.nightly(Self.night.adding(days: 1), now: Self.now.addingTimeInterval(86_400))
        #expect(next.athletes.first?.flagsCleared.map(\.code) == ["illness"])
        #expect(try await fixture.count("SELECT count(*) FROM flags WHERE status = 'cleared' AND cleared_on = '2026-11-23'") == 1)
    }

    @Test("missed nights are caught up; a late entry recomputes the days it touches")
    func catchUpAndLateEntries() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.logSteady("ana", zone: Self.zone, until: Self.night, weeks: 5)
        let first = try await fixture.nightly(Self.night.adding(days: -3), now: Self.now)
        #expect(first.athletes.first?.nights == [Self.night.adding(days: -3)])

        let caughtUp = try await fixture.nightly(Self.night, now: Self.now)
        #expect(caughtUp.athletes.first?.nights == [Self.night.adding(days: -2), Self.night.adding(days: -1), Self.night])
        let before = try #require(caughtUp.athletes.first?.metrics)

        // A run from Friday arrives on Monday: the same night is recomputed with it.
        try await fixture.log("ana", [NightlyFixture.run(Self.night.adding(days: -2), zone: Self.zone, hour: 18, km: 10, minutes: 55)])
        let late = try await fixture.nightly(Self.night, now: Self.now)
        let after = try #require(late.athletes.first?.metrics)
        #expect(late.athletes.first?.nights == [Self.night])
        #expect(abs(after.last7Km - before.last7Km - 10) < 0.01, "\(before.last7Km) -> \(after.last7Km)")
        #expect(after.load > 0 && after.acuteLoad > before.acuteLoad)
        let stored = try await fixture.pool.withConnection {
            try $0.query("SELECT run_m FROM daily_rollups r JOIN athletes a ON a.id = r.athlete_id WHERE a.handle = 'ana' AND local_date = \(Self.night.adding(days: -2))")[0].decode(Double.self, at: 0)
        }
        #expect(stored == 10_000, "Friday is a rest day in the steady week: only the late run")
    }

    @Test("time zones: UTC-10 and UTC+13 athletes get their days right across a DST change")
    func timeZones() async throws {
        let fixture = try await NightlyFixture.make(athletes: [("kai", "America/Adak"), ("mere", "Pacific/Auckland")])
        defer { Task { await fixture.close() } }
        // Adak: UTC-10, DST from 2026-03-08 02:00 (UTC-9). Runs at 23:30 local land on the next UTC day.
        let adak = [Day("2026-03-07")!, Day("2026-03-08")!]
        try await fixture.log("kai", adak.map { NightlyFixture.run($0, zone: "America/Adak", hour: 23, minute: 30, km: 5, minutes: 30) })
        // Auckland: UTC+13 until 2026-04-05 03:00, then UTC+12. Runs at 00:30 local land on the previous UTC day.
        let auckland = [Day("2026-04-04")!, Day("2026-04-05")!, Day("2026-04-06")!]
        try await fixture.log("mere", auckland.map { NightlyFixture.run($0, zone: "Pacific/Auckland", hour: 0, minute: 30, km: 6, minutes: 33) })
        #expect(NightlyFixture.instant(adak[1], hour: 23, minute: 30, in: "America/Adak") == "2026-03-09T08:30:00.000Z")
        #expect(NightlyFixture.instant(auckland[2], hour: 0, minute: 30, in: "Pacific/Auckland") == "2026-04-05T12:30:00.000Z")

        _ = try await fixture.nightly(Day("2026-04-06")!, now: Self.now)
        let days = try await fixture.pool.withConnection { connection in
            try connection.query("""
                SELECT a.handle, r.local_date::text FROM daily_rollups r JOIN athletes a ON a.id = r.athlete_id
                WHERE r.runs > 0 ORDER BY 1, 2
                """).map { try $0.decode((String, String).self) }
        }
        #expect(days.map { "\($0.0) \($0.1)" } == ["kai 2026-03-07", "kai 2026-03-08", "mere 2026-04-04", "mere 2026-04-05", "mere 2026-04-06"])

        // "Yesterday" is per athlete: at 2026-03-09T08:30Z it is 03-07 in Adak (23:30 on the 8th) and 03-08 in Auckland.
        let candidates = try await fixture.pool.withConnection {
            try NightlyStore.candidates(handle: nil, date: nil, now: Date(timeIntervalSince1970: 1_773_045_000), on: $0)
        }
        #expect(candidates.map { "\($0.athlete.handle) \($0.night)" } == ["kai 2026-03-07", "mere 2026-03-08"])
    }

    @Test("the same run recorded by watch and phone counts once in volume and load")
    func duplicatesCountOnce() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        let day = Self.night
        try await fixture.log("ana", device: "watch", [NightlyFixture.run(day, zone: Self.zone, km: 10, minutes: 50, rpe: 4)])
        try await fixture.log("ana", device: "phone", [NightlyFixture.run(day, zone: Self.zone, minute: 1, km: 10.05, minutes: 50, rpe: 4, recordedBy: "phone")])
        #expect(try await fixture.count("SELECT count(*) FROM entries WHERE kind = 'run'") == 2)
        #expect(try await fixture.count("SELECT count(*) FROM duplicate_groups WHERE status = 'active'") == 1)

        let report = try await fixture.nightly(day, now: Self.now)
        let metrics = try #require(report.athletes.first?.metrics)
        #expect(abs(metrics.km - 10) < 0.1, "one run of ~10 km, not two: \(metrics.km)")
        #expect(abs(metrics.load - 200) < 1, "50 min x RPE 4 once: \(metrics.load)")
    }

    @Test("an athlete whose rules are overridden is judged by them")
    func ruleOverrides() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.logSteady("ana", zone: Self.zone, until: Self.night.adding(days: -1), weeks: 5)
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(Self.night, zone: Self.zone, restingHR: 54)])
        // +8% over a ~50 bpm baseline: under the default 10%, over an override of 7%.
        let quiet = try await fixture.pool.withTransaction { connection -> Bool in
            try RuleStore.set([(key: "rhr_elevated.pct", value: "7")], scope: .athlete("ana"), on: connection)
            return try RuleStore.effective(athleteID: RuleStore.athlete("ana", on: connection).id, on: connection)["rhr_elevated.pct"] == 7
        }
        #expect(quiet)
        let report = try await fixture.nightly(Self.night, now: Self.now)
        #expect(report.athletes.first?.flagsRaised.map(\.code) == ["rhr_elevated"])
        await #expect(throws: AdminError.self) {
            try await fixture.pool.withTransaction { try RuleStore.set([(key: "rhr_elevated.pct", value: "500")], scope: .athlete("ana"), on: $0) }
        }
    }

    @Test("a catch-up that clears a flag and raises it again, and raises and clears one, keeps one row per episode")
    func flagEpisodesInOneCatchUp() async throws {
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        let days = (0..<4).map { Self.night.adding(days: -3 + $0) }
        try await fixture.log("ana", device: "phone", zip(days, [true, false, true, false]).map { NightlyFixture.wellness($0, zone: Self.zone, illness: $1) })
        let first = try await fixture.nightly(days[0], now: Self.now)
        #expect(first.athletes.first?.flagsRaised.map(\.code) == ["illness"])

        let catchUp = try await fixture.nightly(Self.night, now: Self.now)
        let ana = try #require(catchUp.athletes.first)
        #expect(ana.nights == Array(days.dropFirst()))
        #expect(ana.error == nil, "\(ana.error ?? "")")
        #expect(ana.flagsRaised.map(\.date) == [days[2]])
        #expect(ana.flagsCleared.map(\.clearedOn) == [days[1], days[3]])
        let rows = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT raised_on::text, status, cleared_on::text FROM flags ORDER BY raised_on").map { try $0.decode((String, String, String?).self) }
        }
        #expect(rows.map { "\($0.0) \($0.1) \($0.2 ?? "-")" } == [
            "\(days[0]) cleared \(days[1])", "\(days[2]) cleared \(days[3])",
        ])
    }
}
