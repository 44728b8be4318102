import SquadCore
import Testing

@Suite("Strict JSON")
struct StrictJSONTests {
    @Test("parses every JSON type, keeping integers apart from doubles")
    func parsesTypes() throws {
        let value = try StrictJSON.parse(#"{"a": [1, -2.5, 1e3, true, false, null], "s": "é\n\u00e9\ud83c\udfc3", "big": 12345678901234567890}"#)
        #expect(value["a"] == .array([.int(1), .double(-2.5), .int(1000), .bool(true), .bool(false), .null]))
        #expect(value["s"] == .string("é\né🏃"))
        #expect(value["big"] == .double(12_345_678_901_234_567_168))
    }

    @Test("refuses what PostgreSQL and Foundation would read differently", arguments: [
        (#"{"rpe": 5, "rpe": 9}"#, StrictJSON.Failure.Code.duplicateKey),
        (#"{"a": {"x": 1, "x": 1}}"#, .duplicateKey),
        (#"{"d": 1e400}"#, .numberOutOfRange),
        (#"{"d": -1e400}"#, .numberOutOfRange),
        (#"{"s": "a\u0000b"}"#, .invalidJSON),
        (#"{"s": "\ud800"}"#, .invalidUTF8),
        (#"{"a": 1,}"#, .invalidJSON),
        (#"{'a': 1}"#, .invalidJSON),
        (#"[01]"#, .invalidJSON),
        (#"{"a": NaN}"#, .invalidJSON),
        (#"{"a": 1} x"#, .invalidJSON),
        ("", .invalidJSON),
    ])
    func refuses(text: String, code: StrictJSON.Failure.Code) {
        let failure = #expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(text) }
        #expect(failure?.code == code)
    }

    @Test("a repeated key is found wherever it stands, and named with its offset")
    func duplicateKeysAnyOrder() throws {
        // Keys out of canonical order are sorted once: a repeat that is not next to its
        // first use must still be refused, at the byte where it repeats.
        let text = #"{"z": 1, "b": {"q": 1, "a": 2, "q": 3}, "a": 0}"#
        let failure = #expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(text) }
        #expect(failure?.code == .duplicateKey)
        #expect(failure?.offset == Array(text.utf8).firstIndex(of: UInt8(ascii: "3")).map { $0 - 5 })
        #expect(failure?.message.contains("\"q\"") == true)
        let top = #"{"b": 1, "a": 2, "c": 3, "a": 4}"#
        #expect((#expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(top) })?.offset == 25)
    }

    @Test("members in any order give the same object, lookups and canonical text")
    func memberOrder() throws {
        let sorted = try StrictJSON.parse(#"{"a": 1, "b": {"x": true, "y": null}, "é": "e", "z": [1]}"#)
        let shuffled = try StrictJSON.parse(#"{"z": [1], "é": "e", "b": {"y": null, "x": true}, "a": 1}"#)
        #expect(sorted == shuffled)
        #expect(shuffled.canonicalText == #"{"a":1,"b":{"x":true,"y":null},"z":[1],"é":"e"}"#)
        #expect(shuffled["é"] == .string("e"))
        #expect(shuffled.value(at: "b.y") == .null)
        #expect(shuffled.value(at: "b.w") == nil)
        // A big object (binary search) finds every key and misses the others.
        var members: [String: JSONValue] = [:]
        for index in 0..<40 { members["k\(index * 7 % 40)"] = .int(Int64(index)) }
        let big = JSONValue.object(members)
        let reparsed = try StrictJSON.parse(big.canonicalText)
        #expect(reparsed == big)
        for (key, value) in members { #expect(reparsed[key] == value) }
        #expect(reparsed["k40"] == nil)
        var object = reparsed.objectValue ?? [:]
        object["k3"] = nil
        object["a"] = .bool(true)
        #expect(object.count == 40)
        #expect(object.keys.first == "a")
        #expect(object.keys == object.keys.sorted())
    }

    @Test("refuses invalid UTF-8 bytes and raw control characters")
    func refusesBytes() {
        let invalid: [UInt8] = Array(#"{"s": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect((#expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(invalid) })?.code == .invalidUTF8)
        let control: [UInt8] = Array(#"{"s": "a"#.utf8) + [0x01] + Array(#""}"#.utf8)
        #expect((#expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(control) })?.code == .invalidJSON)
    }

    @Test("limits nesting depth")
    func depth() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try StrictJSON.parse(ok)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect((#expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(deep) })?.code == .tooDeep)
        let veryDeep = String(repeating: "{\"a\":", count: 100_000)
        #expect((#expect(throws: StrictJSON.Failure.self) { try StrictJSON.parse(veryDeep) })?.code == .tooDeep)
    }

    @Test("canonical text sorts keys, drops white space and is stable under re-parsing")
    func canonical() throws {
        let value = try StrictJSON.parse(#"{ "b" : [1.50, 2.0, "x\"y"], "a": {"z": null, "é": "\t"}, "A": -0.001 }"#)
        let text = value.canonicalText
        #expect(text == #"{"A":-0.001,"a":{"z":null,"é":"\t"},"b":[1.5,2,"x\"y"]}"#)
        #expect(try StrictJSON.parse(text) == value)
        #expect(try StrictJSON.parse(text).canonicalText == text)
    }

    @Test("dotted paths read and write nested members")
    func paths() throws {
        let value = try StrictJSON.parse(#"{"body": {"hr": {"avg_bpm": 150}}}"#)
        #expect(value.value(at: "body.hr.avg_bpm") == .int(150))
        let updated = value.setting(.int(5), at: "body.rpe").setting(nil, at: "body.hr.avg_bpm")
        #expect(updated.canonicalText == #"{"body":{"hr":{},"rpe":5}}"#)
    }
}

@Suite("Hybrid logical clock")
struct HLCTests {
    @Test("parses and formats the SYNC.md text form")
    func roundTrip() throws {
        let text = "2026-06-01T07:32:11.004Z-000a-dev7f3a"
        let clock = try #require(HLC(text))
        #expect(clock.counter == 10)
        #expect(clock.node == "dev7f3a")
        #expect(clock.description == text)
        #expect(HLC("2026-06-01T07:32:11Z-0000-x") == nil)
        #expect(HLC("not a clock") == nil)
        #expect(HLC("2026-13-01T07:32:11.004Z-0000-dev") == nil)
        // Found by the fuzzer: a signed counter parsed as a negative number and printed back differently.
        #expect(HLC("2027-06-01T06:45:05.000Z--030-watc((((h") == nil)
        #expect(HLC("2027-06-01T06:45:05.000Z-+030-watch") == nil)
        #expect(HLC("2027-06-01T06:45:05.000Z-00aF-watch")?.counter == 0xaf)
    }

    @Test("orders by instant, counter, node, which is also text order")
    func ordering() throws {
        let texts = [
            "2026-06-01T07:32:11.004Z-0000-b", "2026-06-01T07:32:11.004Z-0000-a", "2026-06-01T07:32:11.004Z-0001-a",
            "2025-12-31T23:59:59.999Z-ffff-z", "2026-06-01T07:32:11.005Z-0000-a",
        ]
        let clocks = texts.compactMap(HLC.init)
        #expect(clocks.sorted().map(\.description) == texts.sorted())
    }

    @Test("receive never goes backwards and breaks ties with the counter")
    func receive() throws {
        let local = try #require(HLC("2026-06-01T07:00:00.000Z-0003-server"))
        let remote = try #require(HLC("2026-06-01T07:00:00.000Z-0007-dev"))
        let merged = HLC.receive(local: local, remote: remote, nowMillis: local.millis - 5000, node: "server")
        #expect(merged.millis == local.millis)
        #expect(merged.counter == 8)
        #expect(merged > local && merged > remote)
        let later = HLC.receive(local: local, remote: remote, nowMillis: local.millis + 10, node: "server")
        #expect(later.counter == 0)
        #expect(later.millis == local.millis + 10)
    }
}
