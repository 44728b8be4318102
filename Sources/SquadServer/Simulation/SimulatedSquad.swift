import Foundation
import SquadCore

/// One device's offline queue: ops in the order the device made them, and when it syncs.
public struct SimulatedDevice: Sendable {
    public var name: String
    public var type: String
    public var node: String
    /// Clock error of this device in milliseconds (skewed clocks).
    public var skewMillis: Int64
    public var ops: [SimulatedOp] = []
    var lastHLC = HLC(millis: 0, counter: 0, node: "")

    mutating func stamp(_ eventMillis: Int64) -> HLC {
        let millis = eventMillis + skewMillis
        lastHLC = millis > lastHLC.millis
            ? HLC(millis: millis, counter: 0, node: node)
            : HLC(millis: lastHLC.millis, counter: lastHLC.counter + 1, node: node)
        return lastHLC
    }
}

/// An op and the simulated day (0-based) after which the device may send it.
public struct SimulatedOp: Sendable {
    public var day: Int
    public var json: JSONValue
}

/// Realistic offline training logs for one athlete (DOMAIN.md): runs with splits and
/// cadence, drills before quality sessions, strength twice a week, daily wellness,
/// notes; edits from both devices, deletes, the same run recorded by watch and phone,
/// skewed clocks. Deterministic for a seed.
public struct SimulatedAthlete: Sendable {
    public var handle: String
    public var timeZone: String
    public var hrMax: Int
    public var hrRest: Int
    public var level: Athlete.Level
    public var watch: SimulatedDevice
    public var phone: SimulatedDevice

    /// Builds `days` days of logs ending on `endDate` (UTC midnight, milliseconds).
    public init(index: Int, seed: UInt64, days: Int, endDayMillis: Int64) {
        var random = SeededRandom(seed: seed &* 1_000_003 &+ UInt64(index))
        handle = "sim\(seed)-\(index)"
        timeZone = ["Europe/Lisbon", "Europe/Berlin", "America/New_York", "Asia/Makassar"].randomElement(using: &random)!
        hrMax = Int.random(in: 172...198, using: &random)
        hrRest = Int.random(in: 42...62, using: &random)
        level = Athlete.Level.allCases.randomElement(using: &random)!
        watch = SimulatedDevice(name: "sim watch", type: "watch", node: "\(handle)-watch", skewMillis: Int64.random(in: -20_000...20_000, using: &random))
        phone = SimulatedDevice(name: "sim phone", type: "phone", node: "\(handle)-phone", skewMillis: Int64.random(in: -180_000...180_000, using: &random))
        generate(days: days, endDayMillis: endDayMillis, random: &random)
    }

    var easyPaceSecondsPerKm: Double {
        switch level {
        case .beginner: 400
        case .intermediate: 350
        case .advanced: 315
        case .elite: 270
        }
    }

    mutating func generate(days: Int, endDayMillis: Int64, random: inout SeededRandom) {
        let startDay = endDayMillis - Int64(days - 1) * 86_400_000
        var runsForEdits: [(day: Int, entry: UUID, start: Int64)] = []
        let week = ["rest", "interval", "easy", "tempo", "easy", "easy", "long"]
        for day in 0..<days {
            let dayMillis = startDay + Int64(day) * 86_400_000
            let localDate = ISOInstant.formatMillis(dayMillis).prefix(10)
            let morning = dayMillis + Int64.random(in: 5...8, using: &random) * 3_600_000

            // Morning wellness from the phone.
            let illness = Int.random(in: 0..<60, using: &random) == 0
            let sleepHours = Double.random(in: 5.5...8.8, using: &random)
            var wellness: [String: JSONValue] = [
                "local_date": .string(String(localDate)),
                "resting_hr_bpm": .int(Int64(hrRest + Int.random(in: -3...6, using: &random))),
                "hrv": .object(["rmssd_ms": .number((Double.random(in: 35...95, using: &random) * 10).rounded() / 10)]),
                "sleep": .object(["asleep_s": .int(Int64(sleepHours * 3600))]),
                "soreness": .int(Int64.random(in: 0...6, using: &random)),
                "legs": .string(["springy", "springy", "normal", "normal", "normal", "normal", "normal", "normal", "normal", "normal", "normal", "heavy"].randomElement(using: &random)!),
                "mood": .int(Int64.random(in: 2...5, using: &random)),
                "motivation": .int(Int64.random(in: 2...5, using: &random)),
                "illness": .bool(illness),
            ]
            if Int.random(in: 0..<15, using: &random) == 0 {
                wellness["pain"] = .array([.object(["location": .string(["left calf", "right knee", "achilles"].randomElement(using: &random)!), "severity": .int(Int64.random(in: 2...6, using: &random))])])
            }
            create(on: \.phone, day: day, at: morning, kind: "wellness", time: ["local_date": .string(String(localDate)), "tz": .string(timeZone)],
                   body: .object(wellness), method: "manual", random: &random)

            let plan = illness ? "rest" : week[(day + index(of: handle)) % 7]
            guard plan != "rest" else { continue }
            let start = morning + Int64.random(in: 30...90, using: &random) * 60_000

            if plan == "interval" || plan == "tempo" {
                let drills: [JSONValue] = ["a-skips", "high knees", "butt kicks", "strides"].enumerated().map { offset, name in
                    .object(["drill_id": .string("d\(offset)"), "name": .string(name), "sets": .int(2), "distance_m": .int(30)])
                }
                create(on: \.phone, day: day, at: start - 15 * 60_000, kind: "drills", time: ["local_date": .string(String(localDate)), "tz": .string(timeZone)],
                       body: .object(["drills": .array(drills)]), method: "manual", random: &random)
            }
            let (runID, duration) = run(day: day, start: start, plan: plan, localDate: String(localDate), random: &random)
            runsForEdits.append((day, runID, start))

            // About one run in five is also recorded by the phone: a duplicate to link.
            if Int.random(in: 0..<5, using: &random) == 0 {
                let offset = Int64.random(in: 5...90, using: &random) * 1000
                let distance = Double(duration) / easyPaceSecondsPerKm * 1000 * Double.random(in: 0.95...1.05, using: &random)
                create(on: \.phone, day: day, at: start + offset, kind: "run", time: [
                    "start": .string(ISOInstant.formatMillis(start + offset)), "end": .string(ISOInstant.formatMillis(start + offset + duration * 1000 - 20_000)),
                    "tz": .string(timeZone), "local_date": .string(String(localDate)),
                ], body: .object(["sport": .string("run"), "session_type": .string(plan), "distance_m": .int(Int64(distance)), "elapsed_s": .int(duration - 20)]),
                       method: "active", random: &random)
            }
            if day % 7 == 0 || day % 7 == 3 {
                let sets: [JSONValue] = (0..<3).map { .object(["set_id": .string("s\($0)"), "reps": .int(10), "weight_kg": .int(40 + Int64($0) * 5), "rpe": .int(7)]) }
                create(on: \.phone, day: day, at: start + 4 * 3_600_000, kind: "strength", time: ["local_date": .string(String(localDate)), "tz": .string(timeZone)],
                       body: .object(["rpe": .int(6), "exercises": .array([.object(["name": .string("romanian deadlift"), "sets": .array(sets)])])]), method: "manual", random: &random)
            }
            if Int.random(in: 0..<10, using: &random) == 0 {
                let note = create(on: \.phone, day: day, at: start + 7_200_000, kind: "note", time: ["local_date": .string(String(localDate)), "tz": .string(timeZone)],
                                  body: .object(["text": .string("felt \(["flat", "great", "tired", "strong"].randomElement(using: &random)!) today")]), method: "manual", random: &random)
                if Int.random(in: 0..<3, using: &random) == 0 {
                    delete(on: \.phone, day: day, entry: note, at: start + 7_300_000)
                }
            }
        }
        // Edits: the phone adds RPE and notes to runs a day or two later; sometimes the
        // watch edits the same notes concurrently (a conflict to keep).
        for (day, entry, start) in runsForEdits where Int.random(in: 0..<3, using: &random) == 0 {
            let editDay = min(day + Int.random(in: 1...2, using: &random), days - 1)
            patch(on: \.phone, day: editDay, entry: entry, at: start + 86_400_000,
                  set: ["body.rpe": .int(Int64.random(in: 3...5, using: &random)), "body.notes": .string("phone: \(["calf tight", "smooth", "windy", "hot"].randomElement(using: &random)!)")])
            if Int.random(in: 0..<4, using: &random) == 0 {
                patch(on: \.watch, day: editDay, entry: entry, at: start + 86_000_000, set: ["body.notes": .string("watch: lap button pressed late")])
            }
        }
        // A phone whose clock jumped two days past the last simulated day: the server clamps it.
        if Int.random(in: 0..<4, using: &random) == 0, let last = runsForEdits.last {
            let jump = endDayMillis + 2 * 86_400_000 - (last.start + 3_600_000)
            phone.skewMillis += jump
            patch(on: \.phone, day: days - 1, entry: last.entry, at: last.start + 3_600_000, set: ["body.rpe": .int(5)])
            phone.skewMillis -= jump
        }
        watch.ops.sort { $0.day < $1.day }
        phone.ops.sort { $0.day < $1.day }
    }

    func index(of handle: String) -> Int {
        handle.utf8.reduce(0) { $0 &+ Int($1) } % 7
    }

    /// A run recorded by the watch with splits, HR and cadence; returns its id and duration (s).
    mutating func run(day: Int, start: Int64, plan: String, localDate: String, random: inout SeededRandom) -> (UUID, Int64) {
        let kilometres: Int
        var pace = easyPaceSecondsPerKm
        switch plan {
        case "long": kilometres = Int.random(in: 14...24, using: &random)
        case "tempo": kilometres = Int.random(in: 8...12, using: &random); pace *= 0.85
        case "interval": kilometres = Int.random(in: 7...10, using: &random); pace *= 0.9
        default: kilometres = Int.random(in: 5...10, using: &random)
        }
        var splits: [JSONValue] = []
        var elapsed = 0.0
        let baseCadence = pace > 330 ? 164.0 : pace > 280 ? 174.0 : 184.0
        for km in 0..<kilometres {
            let splitPace = pace * Double.random(in: 0.96...1.05, using: &random)
            // Form fades late in long runs: cadence drops in the last quarter.
            let fade = plan == "long" && km >= kilometres * 3 / 4 ? Double.random(in: 4...10, using: &random) : 0
            splits.append(.object([
                "index": .int(Int64(km)), "distance_m": .int(1000), "elapsed_s": .number(splitPace.rounded()),
                "avg_hr_bpm": .int(Int64(Double(hrMax) * (plan == "easy" || plan == "long" ? 0.72 : 0.86) + Double(km))),
                "avg_cadence_spm": .int(Int64(baseCadence + Double.random(in: -3...3, using: &random) - fade)),
            ]))
            elapsed += splitPace.rounded()
        }
        let duration = Int64(elapsed)
        let rpe: Int64 = plan == "easy" ? Int64.random(in: 2...4, using: &random) : plan == "long" ? Int64.random(in: 3...5, using: &random) : Int64.random(in: 6...9, using: &random)
        let entry = create(on: \.watch, day: day, at: start + duration * 1000, kind: "run", time: [
            "start": .string(ISOInstant.formatMillis(start)), "end": .string(ISOInstant.formatMillis(start + duration * 1000)),
            "tz": .string(timeZone), "local_date": .string(localDate),
        ], body: .object([
            "sport": .string("run"), "session_type": .string(plan), "distance_m": .int(Int64(kilometres * 1000)),
            "elapsed_s": .int(duration), "moving_s": .int(duration - Int64.random(in: 0...60, using: &random)),
            "hr": .object(["avg_bpm": .int(Int64(Double(hrMax) * (plan == "easy" || plan == "long" ? 0.73 : 0.85))), "max_bpm": .int(Int64(Double(hrMax) * 0.95))]),
            "cadence": .object(["avg_spm": .int(Int64(baseCadence))]), "rpe": .int(rpe), "splits": .array(splits),
        ]), method: "active", externalIDs: [.object(["system": .string("fit"), "file_id": .object(["serial_number": .int(Int64(index(of: handle)) * 1000 + 7), "time_created": .int(start / 1000)])])],
                           random: &random)
        return (entry, duration)
    }

    @discardableResult
    mutating func create(
        on device: WritableKeyPath<SimulatedAthlete, SimulatedDevice>, day: Int, at millis: Int64, kind: String, time: [String: JSONValue],
        body: JSONValue, method: String, externalIDs: [JSONValue] = [], random: inout SeededRandom
    ) -> UUID {
        let entry = random.uuid()
        let opID = random.uuid()
        let hlc = self[keyPath: device].stamp(millis)
        let type = self[keyPath: device].type
        let op: JSONValue = .object([
            "op_id": .string(opID.lowercasedText), "op": .string("create"), "entry_id": .string(entry.lowercasedText),
            "kind": .string(kind), "hlc": .string(hlc.description),
            "entry": .object([
                "schema_version": .int(1), "time": .object(time), "body": body,
                "source": .object(["device_type": .string(type), "recording_method": .string(method), "external_ids": .array(externalIDs)]),
            ]),
        ])
        self[keyPath: device].ops.append(SimulatedOp(day: day, json: op))
        return entry
    }

    mutating func patch(on device: WritableKeyPath<SimulatedAthlete, SimulatedDevice>, day: Int, entry: UUID, at millis: Int64, set: [String: JSONValue]) {
        let hlc = self[keyPath: device].stamp(millis)
        let opID = StableID.make("sim-op|\(hlc)|\(entry)")
        self[keyPath: device].ops.append(SimulatedOp(day: day, json: .object([
            "op_id": .string(opID.lowercasedText), "op": .string("patch"), "entry_id": .string(entry.lowercasedText),
            "base_version": .int(1), "hlc": .string(hlc.description), "set": .object(set),
        ])))
    }

    mutating func delete(on device: WritableKeyPath<SimulatedAthlete, SimulatedDevice>, day: Int, entry: UUID, at millis: Int64) {
        let hlc = self[keyPath: device].stamp(millis)
        let opID = StableID.make("sim-op|\(hlc)|\(entry)|delete")
        self[keyPath: device].ops.append(SimulatedOp(day: day, json: .object([
            "op_id": .string(opID.lowercasedText), "op": .string("delete"), "entry_id": .string(entry.lowercasedText),
            "base_version": .int(1), "hlc": .string(hlc.description),
        ])))
    }
}
