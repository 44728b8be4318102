import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Squads and athletes in the database")
struct AdminStoreTests {
    func ana(squad: String = "Tuesday Club") -> NewAthlete {
        NewAthlete(
            handle: "ana", name: "Ana Costa", squad: squad, timeZone: "Europe/Lisbon", sex: .female,
            birthYear: 1988, hrMax: 186, hrRest: 48, level: .advanced)
    }

    @Test("squad names are unique ignoring case, and list with athlete counts")
    func squads() async throws {
        let pool = try TestDatabase.make().pool()
        let created = try await pool.withTransaction { try SquadStore.create(name: "  Tuesday Club ", on: $0) }
        #expect(created.name == "Tuesday Club")
        let duplicate = await #expect(throws: AdminError.self) {
            try await pool.withTransaction { try SquadStore.create(name: "TUESDAY CLUB", on: $0) }
        }
        #expect(duplicate?.code == .conflict)
        let empty = await #expect(throws: AdminError.self) {
            try await pool.withTransaction { try SquadStore.create(name: "   ", on: $0) }
        }
        #expect(empty?.code == .invalid)
        try await pool.withTransaction { _ = try SquadStore.create(name: "Masters", on: $0) }
        _ = try await pool.withTransaction { try AthleteStore.add(ana(), currentYear: 2026, on: $0) }
        let squads = try await pool.withConnection { try SquadStore.list(on: $0) }
        #expect(squads.map(\.name) == ["Masters", "Tuesday Club"])
        #expect(squads.map(\.athleteCount) == [0, 1])
        await pool.close()
    }

    @Test("an athlete is added to an existing squad and read back whole")
    func addAndShow() async throws {
        let pool = try TestDatabase.make().pool()
        try await pool.withTransaction { _ = try SquadStore.create(name: "Tuesday Club", on: $0) }
        let added = try await pool.withTransaction { try AthleteStore.add(ana(squad: "tuesday club"), currentYear: 2026, on: $0) }
        #expect(added.squads == ["Tuesday Club"])
        let found = try #require(try await pool.withConnection { try AthleteStore.find(handle: "ana", on: $0) })
        #expect(found == added)
        #expect(found.hrMax == 186)
        #expect(found.hrRest == 48)
        #expect(found.sex == .female)
        #expect(found.level == .advanced)
        #expect(found.timeZone == "Europe/Lisbon")
        #expect(try await pool.withConnection { try AthleteStore.find(handle: "nobody", on: $0) } == nil)
        await pool.close()
    }

    @Test("adding fails cleanly: unknown squad, duplicate handle, invalid fields; nothing half-written")
    func addFailures() async throws {
        let pool = try TestDatabase.make().pool()
        let noSquad = await #expect(throws: AdminError.self) {
            try await pool.withTransaction { try AthleteStore.add(ana(), currentYear: 2026, on: $0) }
        }
        #expect(noSquad?.code == .notFound)
        #expect(noSquad?.message.contains("coach squads create") == true)
        try await pool.withTransaction { _ = try SquadStore.create(name: "Tuesday Club", on: $0) }
        _ = try await pool.withTransaction { try AthleteStore.add(ana(), currentYear: 2026, on: $0) }
        let duplicate = await #expect(throws: AdminError.self) {
            try await pool.withTransaction { try AthleteStore.add(ana(), currentYear: 2026, on: $0) }
        }
        #expect(duplicate?.code == .conflict)
        var edited = ana()
        edited.handle = "bo"
        edited.timeZone = "Nowhere"
        let bad = edited
        let invalid = await #expect(throws: AdminError.self) {
            try await pool.withTransaction { try AthleteStore.add(bad, currentYear: 2026, on: $0) }
        }
        #expect(invalid?.code == .invalid)
        #expect(invalid?.message.contains("tz") == true)
        let athletes = try await pool.withConnection { try AthleteStore.list(on: $0) }
        #expect(athletes.map(\.handle) == ["ana"])
        let memberships = try await pool.withConnection { try $0.query("SELECT count(*) FROM athlete_squads")[0].decode(Int.self, at: 0) }
        #expect(memberships == 1)
        await pool.close()
    }

    @Test("athletes list by squad")
    func listBySquad() async throws {
        let pool = try TestDatabase.make().pool()
        try await pool.withTransaction { connection in
            _ = try SquadStore.create(name: "A", on: connection)
            _ = try SquadStore.create(name: "B", on: connection)
            for (handle, squad) in [("zoe", "A"), ("ana", "A"), ("bob", "B")] {
                _ = try AthleteStore.add(NewAthlete(handle: handle, name: handle.capitalized, squad: squad, timeZone: "UTC"), currentYear: 2026, on: connection)
            }
        }
        #expect(try await pool.withConnection { try AthleteStore.list(squad: "A", on: $0) }.map(\.handle) == ["ana", "zoe"])
        #expect(try await pool.withConnection { try AthleteStore.list(on: $0) }.map(\.handle) == ["ana", "bob", "zoe"])
        await #expect(throws: AdminError.self) { try await pool.withConnection { try AthleteStore.list(squad: "C", on: $0) } }
        await pool.close()
    }
}
