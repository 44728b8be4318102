import Foundation
import SquadCore
import Testing

@Suite("UUID text")
struct UUIDTextTests {
    @Test("formatting, parsing and ordering agree with Foundation's on random ids")
    func agreesWithFoundation() {
        var random = SeededRandom(seed: 7)
        var ids: [UUID] = [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                           UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))]
        for _ in 0..<300 {
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in bytes.indices { bytes[index] = UInt8(random.next() % 256) }
            ids.append(UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                                   bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])))
        }
        for id in ids {
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID(text: id.uuidString) == id)
            #expect(UUID(text: id.lowercasedText) == id)
        }
        for (a, b) in zip(ids, ids.dropFirst()) {
            #expect(a.precedes(b) == (a.uuidString < b.uuidString))
            #expect(b.precedes(a) == (b.uuidString < a.uuidString))
        }
        #expect(!ids[5].precedes(ids[5]))
    }

    @Test("refuses what UUID(uuidString:) refuses", arguments: [
        "", "e621e1f8-c36c-495a-93fc-0c247a3e6e5", "e621e1f8-c36c-495a-93fc-0c247a3e6e5ff", "e621e1f8c36c-495a-93fc-0c247a3e6e5ff",
        "g621e1f8-c36c-495a-93fc-0c247a3e6e5f", "e621e1f8-c36c-495a-93fc_0c247a3e6e5f", "{e621e1f8-c36c-495a-93fc-0c247a3e6e5}",
        "e621e1f8-c36c-495a-93fc-0c247a3e6é5f",
    ])
    func refuses(text: String) {
        #expect(UUID(text: text) == nil)
        #expect(UUID(uuidString: text) == nil)
    }
}
