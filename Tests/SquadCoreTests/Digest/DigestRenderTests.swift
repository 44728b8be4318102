import Foundation
import SquadCore
import Testing

/// Golden tests of every text format for fixed digests. To accept a deliberate change of
/// the output, run with SQUAD_UPDATE_GOLDEN=1 and review the diff of Golden/.
@Suite("Digest rendering")
struct DigestRenderTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func check(_ output: String, _ name: String) throws {
        let file = golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SQUAD_UPDATE_GOLDEN"] == "1" {
            try (output + "\n").write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(output + "\n" == expected, "\(name) differs from its golden file:\n\(output)")
    }

    @Test("squad view at 80 and 120 columns", arguments: [80, 120])
    func squad(width: Int) throws {
        let text = DigestRenderer(width: width).squad(DigestFixtures.squad, title: "Tuesday Club", date: DigestFixtures.night)
        for line in text.split(separator: "\n") { #expect(line.count <= width, "'\(line)' is wider than \(width)") }
        try Self.check(text, "squad-\(width).txt")
    }

    @Test("one athlete at 80 and 120 columns", arguments: [80, 120])
    func athlete(width: Int) throws {
        let ana = DigestFixtures.squad.first { $0.athlete == "ana" }!
        let text = DigestRenderer(width: width).athlete(ana)
        for line in text.split(separator: "\n") { #expect(line.count <= width, "'\(line)' is wider than \(width)") }
        try Self.check(text, "athlete-ana-\(width).txt")
    }

    @Test("markdown, for one athlete and the squad")
    func markdown() throws {
        let renderer = DigestRenderer()
        try Self.check(renderer.markdown(DigestFixtures.squad.first { $0.athlete == "ana" }!), "athlete-ana.md")
        try Self.check(renderer.markdownSquad(DigestFixtures.squad, title: "Tuesday Club", date: DigestFixtures.night), "squad.md")
    }

    @Test("ranking: act, then watch, then info, then the rest")
    func ranking() {
        var digests = DigestFixtures.squad
        digests.append(DigestFixtures.digest("dee", name: "Dee", flags: [DigestFixtures.flag("form_fade", .info, [:], id: 4)], acwr: 1, weekKm: 30, planned: nil, weekly: []))
        digests.append(DigestFixtures.digest("abe", name: "Abe", flags: [], acwr: 1, weekKm: 30, planned: nil, weekly: []))
        #expect(digests.rankedForAttention().map(\.athlete) == ["ana", "bea", "dee", "abe", "cy"])
    }

    @Test("colour only when asked, and never carries meaning alone")
    func colour() {
        let plain = DigestRenderer(width: 100, colour: false).squad(DigestFixtures.squad, title: "T", date: DigestFixtures.night)
        let coloured = DigestRenderer(width: 100, colour: true).squad(DigestFixtures.squad, title: "T", date: DigestFixtures.night)
        #expect(!plain.contains("\u{1B}["))
        #expect(coloured.contains("\u{1B}[1;31m"))
        #expect(coloured.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression) == plain)
        #expect(plain.contains("ACT illness") && plain.contains("WATCH short_sleep"))
    }

    @Test("NO_COLOR and a non-terminal turn colour off")
    func noColor() {
        #expect(DigestRenderer.wantsColour(environment: ["NO_COLOR": "1"], isTerminal: true) == false)
        #expect(DigestRenderer.wantsColour(environment: [:], isTerminal: false) == false)
        #expect(DigestRenderer.wantsColour(environment: ["TERM": "dumb"], isTerminal: true) == false)
        #expect(DigestRenderer.wantsColour(environment: ["NO_COLOR": ""], isTerminal: true) == true)
        #expect(DigestRenderer.wantsColour(environment: [:], isTerminal: true) == true)
    }

    @Test("sparklines scale to the biggest week")
    func sparkline() {
        #expect(DigestRenderer.sparkline([0, 10, 20, 40]) == "▁▃▅█")
        #expect(DigestRenderer.sparkline([0, 0]) == "▁▁")
    }

    @Test("the week so far gathers every night's changes and flags")
    func week() throws {
        let ana = DigestFixtures.squad.first { $0.athlete == "ana" }!
        var monday = DigestFixtures.digest("ana", name: "Ana Costa", flags: [DigestFixtures.flag("heavy_legs", .watch, [:], id: 5)], acwr: 1, weekKm: 8, planned: 45, weekly: [])
        monday.date = DigestFixtures.night.weekStart
        let week = try #require(Digest.week([monday, ana]))
        #expect(week.period == "week" && week.date == ana.date)
        #expect(week.flags.map(\.code).sorted() == ["heavy_legs", "illness", "no_warmup"])
        #expect(week.planChanges.count == 1)
    }

    @Test("the fast JSON form decodes back to the same digest as the Codable form")
    func jsonForms() throws {
        for digest in DigestFixtures.squad {
            let fast = try JSONDecoder().decode(Digest.self, from: Data(digest.json.canonicalText.utf8))
            #expect(fast == digest)
            let encoded = try JSONEncoder().encode(digest)
            #expect(try StrictJSON.parse(Array(encoded)).canonicalText == digest.json.canonicalText)
        }
    }
}
