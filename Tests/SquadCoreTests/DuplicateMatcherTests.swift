import Foundation
import SquadCore
import Testing

@Suite("Duplicate activity rule")
struct DuplicateMatcherTests {
    static let t0: Int64 = 1_780_000_000_000

    func run(_ start: Int64, minutes: Int64, km: Double?, device: String = "watch", method: String = "active", keys: Set<String> = [], sport: String = "run", data: Int = 5, id: UUID = UUID()) -> ActivitySummary {
        ActivitySummary(entryID: id, sportFamily: sport, startMillis: Self.t0 + start * 60_000, endMillis: Self.t0 + (start + minutes) * 60_000,
                        distanceMeters: km.map { $0 * 1000 }, externalKeys: keys, deviceType: device, recordingMethod: method, dataScore: data)
    }

    @Test("watch and phone recording the same run link; thresholds of SYNC.md hold")
    func thresholds() {
        let watch = run(0, minutes: 50, km: 10)
        #expect(DuplicateMatcher.compare(watch, run(2, minutes: 49, km: 10.4, device: "phone")) == .link(reason: "overlap"))
        #expect(DuplicateMatcher.compare(watch, run(6, minutes: 50, km: 10)) == .possible, "start gap over 5 min")
        #expect(DuplicateMatcher.compare(watch, run(1, minutes: 50, km: 12)) == .possible, "distances 17% apart")
        #expect(DuplicateMatcher.compare(watch, run(8, minutes: 30, km: nil)) == .possible)
        #expect(DuplicateMatcher.compare(watch, run(11, minutes: 50, km: 10)) == .distinct, "start gap over 10 min")
        #expect(DuplicateMatcher.compare(watch, run(0, minutes: 50, km: 10, sport: "bike")) == .distinct, "never across sports")
        #expect(DuplicateMatcher.compare(watch, run(50, minutes: 20, km: 4)) == .distinct, "back-to-back sessions")
        let far = run(600, minutes: 50, km: 3, keys: ["strava:42"])
        #expect(DuplicateMatcher.compare(run(0, minutes: 50, km: 10, keys: ["strava:42"]), far) == .link(reason: "external_id"))
    }

    @Test("the primary is chosen by device, method, data, then id, whatever the order")
    func primary() {
        let manualWatch = run(0, minutes: 50, km: 10, device: "watch", method: "manual")
        let activeWatch = run(0, minutes: 50, km: 10, device: "watch", method: "active", data: 2)
        let richPhone = run(0, minutes: 50, km: 10, device: "phone", data: 40)
        let members = [manualWatch, activeWatch, richPhone]
        #expect(DuplicateMatcher.primary(of: members) == activeWatch.entryID)
        #expect(DuplicateMatcher.primary(of: members.reversed()) == activeWatch.entryID)
        #expect(DuplicateMatcher.primary(of: members, devicePriority: ["phone", "watch"]) == richPhone.entryID)
        let a = run(0, minutes: 50, km: 10, id: UUID(uuidString: "00000000-0000-4000-8000-000000000001")!)
        let b = run(0, minutes: 50, km: 10, id: UUID(uuidString: "00000000-0000-4000-8000-000000000002")!)
        #expect(DuplicateMatcher.primary(of: [b, a]) == a.entryID)
    }

    @Test("external ids are read per system")
    func externalKeys() {
        #expect(ActivitySummary.externalKey(.object(["system": .string("strava"), "id": .int(1979758638)])) == "strava:1979758638")
        #expect(ActivitySummary.externalKey(.object(["system": .string("healthkit"), "uuid": .string("5013ECA7")])) == "healthkit:5013ECA7")
        #expect(ActivitySummary.externalKey(.object(["system": .string("fit"), "file_id": .object(["serial_number": .int(7), "time_created": .int(1)])])) == #"fit:{"serial_number":7,"time_created":1}"#)
        #expect(ActivitySummary.externalKey(.object(["id": .int(1)])) == nil)
    }
}
