import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Digests written by the nightly run")
struct DigestStoreTests {
    static let zone = "Europe/Lisbon"
    static let night = Day("2026-11-22")!
    static let now = Date(timeIntervalSince1970: 1_795_428_000)

    @Test("each processed night stores one digest per athlete; a re-run adds none; the squad view ranks them")
    func stored() async throws {
        let fixture = try await NightlyFixture.make(athletes: [("ana", Self.zone), ("bob", Self.zone)])
        defer { Task { await fixture.close() } }
        try await fixture.logSteady("ana", zone: Self.zone, until: Self.night, weeks: 5)
        try await fixture.logSteady("bob", zone: Self.zone, until: Self.night.adding(days: -1), weeks: 5)
        try await fixture.log("bob", device: "phone", [NightlyFixture.wellness(Self.night, zone: Self.zone, illness: true)])
        try await fixture.generatePlan("bob", from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)

        _ = try await fixture.nightly(Self.night.adding(days: -1), now: Self.now)
        _ = try await fixture.nightly(Self.night, now: Self.now)
        _ = try await fixture.nightly(Self.night, now: Self.now)
        #expect(try await fixture.count("SELECT count(*) FROM digests") == 4)

        let squad = try await fixture.pool.withConnection { try DigestStore.squad("Club", date: nil, on: $0) }
        #expect(squad.rankedForAttention().map(\.athlete) == ["bob", "ana"])
        let bob = try #require(squad.first { $0.athlete == "bob" })
        #expect(bob.date == Self.night && bob.worstFlag?.code == "illness")
        #expect(bob.planChanges.contains { $0["rule"]?.stringValue == "recovery_swap" })
        #expect(bob.summary.hasPrefix("act: illness"))
        #expect(bob.sinceLast.previous == Self.night.adding(days: -1) && bob.sinceLast.flagsRaised.contains("illness"))
        #expect(bob.weeklyVolume.count == 8 && bob.weeklyVolume.last?.km == 33, "the week to Sunday: 8+8+9+8 km (Sunday's long run replaced by illness)")
        #expect(bob.sync.devices.count == 2)

        // A past night's digest reads the same later.
        let earlier = try await fixture.pool.withConnection { try DigestStore.night(handle: "ana", date: Self.night.adding(days: -1), on: $0) }
        #expect(earlier?.date == Self.night.adding(days: -1))

        // The JSON contract: validated against Schema/digest.schema.json.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(squad), as: UTF8.self)
        try SchemaCheck.validate(json, schema: "digest.schema.json", array: true)
        // And the check can fail: a digest without its flags' evidence is refused.
        let broken = json.replacingOccurrences(of: "\"evidence\"", with: "\"evidense\"")
        #expect(throws: SchemaCheck.Invalid.self) { try SchemaCheck.validate(broken, schema: "digest.schema.json", array: true) }
    }
}

/// Validates JSON against a JSON Schema in Schema/ with python3-jsonschema
/// (installed by ./Deploy/dev; the test fails, never skips, without it).
enum SchemaCheck {
    struct Invalid: Error, CustomStringConvertible { var description: String }

    static func validate(_ json: String, schema: String, array: Bool) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let schemaPath = root.appendingPathComponent("Schema").appendingPathComponent(schema).path
        let file = "/tmp/squadsync-schema-\(UUID().uuidString).json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            items = doc if sys.argv[3] == "array" else [doc]
            assert items, "nothing to validate"
            for item in items: jsonschema.validate(item, schema, format_checker=jsonschema.FormatChecker())
            print("valid", len(items))
            """
        let outcome = try Subprocess.run("/usr/bin/env", ["python3", "-c", script, schemaPath, file, array ? "array" : "object"], environment: ProcessInfo.processInfo.environment)
        guard outcome.status == 0 else { throw Invalid(description: "\(schema): \(outcome.output)") }
    }
}
