// libFuzzer targets for the parsers that face the network, built by `Deploy/fuzz` with
// `swiftc -sanitize=fuzzer,address` together with Sources/SquadCore (one module, no
// SwiftPM). FUZZ_TARGET picks one: json, entry, op, hlc, cursor, token. Each checks a
// property as well as "no crash": what parses must print and parse back to itself.
import Foundation

enum FuzzTarget: String {
    case json, entry, op, hlc, cursor, token
}

let fuzzTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        fatalError("set FUZZ_TARGET to one of json, entry, op, hlc, cursor, token")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    switch fuzzTarget {
    case .json:
        // Strict JSON: what parses prints canonically and parses back to the same value.
        guard let value = try? StrictJSON.parse(bytes) else { return 0 }
        let printed = value.canonicalText
        guard let again = try? StrictJSON.parse(printed) else { fatalError("canonical text does not parse: \(printed)") }
        precondition(again == value, "round trip changed the value: \(printed)")
    case .entry:
        // Entry validation never crashes, and a normalized entry is valid and stable.
        guard let value = try? StrictJSON.parse(bytes) else { return 0 }
        let id = UUID(uuidString: "6f1c1f0e-3d5b-4f55-9a8e-2f6b8b1e0c11")!
        for kind in EntryKind.allCases {
            if case .success(let normalized) = EntryValidation.normalize(value, entryID: id, kind: kind) {
                guard case .success(let twice) = EntryValidation.normalize(normalized, entryID: id, kind: kind) else {
                    fatalError("a normalized \(kind) entry is refused: \(normalized.canonicalText)")
                }
                precondition(twice == normalized, "normalizing twice changed a \(kind) entry")
            }
        }
    case .op:
        // An op of a push batch decodes or is refused with a reason, never crashes.
        guard let value = try? StrictJSON.parse(bytes) else { return 0 }
        _ = try? SyncOp.decode(value, index: 0)
    case .hlc:
        // An HLC that parses prints back to text that parses to the same clock.
        guard let hlc = HLC(text) else { return 0 }
        precondition(HLC(hlc.description) == hlc, "HLC round trip failed for \(text)")
    case .cursor:
        // A cursor decodes only for its athlete, and encoding its seq gives a cursor that decodes to it.
        guard let seq = SyncCursor.decode(text, athleteID: 42) else { return 0 }
        precondition(seq >= 0)
        precondition(SyncCursor.decode(SyncCursor.encode(athleteID: 42, seq: seq), athleteID: 42) == seq)
        if seq > 0 { precondition(SyncCursor.decode(text, athleteID: 43) == nil, "a cursor decoded for another athlete") }
    case .token:
        if case .success(let token) = BearerToken.parse(text) {
            precondition(!token.isEmpty && token.utf8.count <= 200)
            precondition(BearerToken.parse("Bearer " + token) == .success(token))
        }
    }
    return 0
}
