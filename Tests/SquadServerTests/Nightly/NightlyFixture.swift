import Foundation
import Logging
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

/// A migrated database with athletes, their devices, and helpers that log training
/// through the real apply engine (as `coach import` does) and run the nightly job.
struct NightlyFixture {
    let database: TestDatabase.Handle
    let pool: ConnectionPool
    /// For applications under test: sessions as squadsync_app, under row-level security.
    let requestPool: ConnectionPool

    static func make(athletes: [(handle: String, timeZone: String)] = [("ana", "Europe/Lisbon")]) async throws -> NightlyFixture {
        let database = try TestDatabase.make()
        let pool = try database.pool(maxConnections: 4)
        try await pool.withTransaction { connection in
            _ = try SquadStore.create(name: "Club", on: connection)
            for (handle, zone) in athletes {
                _ = try AthleteStore.add(NewAthlete(handle: handle, name: handle.capitalized, squad: "Club", timeZone: zone, hrMax: 190), currentYear: 2026, on: connection)
                _ = try DeviceStore.enroll(handle: handle, name: "\(handle)-watch", type: "watch", key: TestTokenKey.key, on: connection)
                _ = try DeviceStore.enroll(handle: handle, name: "\(handle)-phone", type: "phone", key: TestTokenKey.key, on: connection)
            }
        }
        return NightlyFixture(database: database, pool: pool, requestPool: try database.requestPool())
    }

    func close() async {
        await requestPool.close()
        await pool.close()
    }

    // MARK: - Logging training

    /// The UTC instant of a local wall-clock time in a zone, as SYNC.md's text.
    static func instant(_ day: Day, hour: Int, minute: Int = 0, in zone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let (year, month, date) = day.components
        let local = calendar.date(from: DateComponents(year: year, month: month, day: date, hour: hour, minute: minute))!
        return ISOInstant.format(local)
    }

    static func run(_ day: Day, zone: String, hour: Int = 7, minute: Int = 0, km: Double, minutes: Double, rpe: Int? = 3, type: String = "easy",
                    cadence: Int? = 172, splits: [Int]? = nil, recordedBy device: String = "watch") -> JSONValue {
        let start = instant(day, hour: hour, minute: minute, in: zone)
        let end = ISOInstant.formatMillis(ISOInstant.parseMillis(Array(start.utf8))! + Int64(minutes * 60_000))
        var body: [String: JSONValue] = ["sport": .string("run"), "session_type": .string(type), "distance_m": .int(Int64(km * 1000)),
                                         "elapsed_s": .int(Int64(minutes * 60))]
        if let rpe { body["rpe"] = .int(Int64(rpe)) }
        if let cadence { body["cadence"] = .object(["avg_spm": .int(Int64(cadence))]) }
        if let splits {
            body["splits"] = .array(splits.enumerated().map { index, spm in
                .object(["index": .int(Int64(index)), "distance_m": .int(1000), "elapsed_s": .int(Int64(minutes * 60) / Int64(splits.count)), "avg_cadence_spm": .int(Int64(spm))])
            })
        }
        return .object(["kind": .string("run"), "time": .object(["start": .string(start), "end": .string(end), "tz": .string(zone)]),
                        "source": .object(["device_type": .string(device), "recording_method": .string("active")]), "body": .object(body)])
    }

    static func wellness(_ day: Day, zone: String, restingHR: Int = 50, hrv: Int = 62, sleepHours: Double = 8, legs: String = "normal",
                         illness: Bool = false, pain: [(String, Int)] = []) -> JSONValue {
        var body: [String: JSONValue] = [
            "local_date": .string(day.description), "resting_hr_bpm": .int(Int64(restingHR)), "hrv": .object(["rmssd_ms": .int(Int64(hrv))]),
            "sleep": .object(["asleep_s": .int(Int64(sleepHours * 3600))]), "legs": .string(legs), "illness": .bool(illness),
        ]
        if !pain.isEmpty {
            body["pain"] = .array(pain.map { .object(["location": .string($0.0), "severity": .int(Int64($0.1))]) })
        }
        return .object(["kind": .string("wellness"), "time": .object(["start": .string(instant(day, hour: 6, minute: 30, in: zone)), "tz": .string(zone), "local_date": .string(day.description)]),
                        "source": .object(["device_type": .string("phone"), "recording_method": .string("manual")]), "body": .object(body)])
    }

    /// Logs entries for an athlete from one of its devices, through the apply engine.
    func log(_ handle: String, device: String = "watch", _ entries: [JSONValue]) async throws {
        let items = entries.enumerated().map { Importer.Item(location: "entry \($0.offset)", value: .success($0.element)) }
        let report = try await Importer.apply(items, handle: handle, deviceName: "\(handle)-\(device)", pool: pool, nowMillis: 1_790_000_000_000) { _, _ in }
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    /// `weeks` of steady training before and including `until`: five runs a week
    /// (Thursday tempo with drills before it, Sunday long), calm mornings.
    func logSteady(_ handle: String, zone: String, until: Day, weeks: Int) async throws {
        var entries: [JSONValue] = []
        for back in 0..<(weeks * 7) {
            let day = until.adding(days: -back)
            entries.append(Self.wellness(day, zone: zone, restingHR: 49 + back % 3, hrv: 60 + back % 7))
            switch day.weekday {
            case 2, 3, 6: entries.append(Self.run(day, zone: zone, km: 8, minutes: 45))
            case 4:
                entries.append(.object(["kind": .string("drills"),
                                        "time": .object(["start": .string(Self.instant(day, hour: 6, minute: 40, in: zone)), "tz": .string(zone)]),
                                        "body": .object(["drills": .array([.object(["drill_id": .string("a"), "name": .string("A-skips"), "sets": .int(2)])])])]))
                entries.append(Self.run(day, zone: zone, km: 9, minutes: 45, rpe: 6, type: "tempo", cadence: 182))
            case 7: entries.append(Self.run(day, zone: zone, km: 14, minutes: 80, rpe: 4, type: "long", cadence: 170))
            default: break
            }
        }
        try await log(handle, entries)
    }

    // MARK: - Running the nightly job

    func nightly(_ date: Day?, athlete: String? = nil, now: Date = Date(timeIntervalSince1970: 1_790_000_000)) async throws -> NightlyReport {
        try await NightlyRunner.run(NightlyRunner.Options(date: date, handle: athlete, now: now), pool: pool, logger: Logger(label: "test"))
    }

    func count(_ sql: SQL) async throws -> Int {
        try await pool.withConnection { try $0.query(sql)[0].decode(Int.self, at: 0) }
    }

    func generatePlan(_ handle: String, from: Day, race: Day, days: Int = 5, startKm: Double = 45) async throws {
        _ = try await pool.withTransaction { connection in
            try PlanService.generate(handle: handle, request: PlanRequest(from: from, raceDate: race, distance: .half, daysPerWeek: days, startKm: startKm), now: Date(), on: connection)
        }
    }
}
