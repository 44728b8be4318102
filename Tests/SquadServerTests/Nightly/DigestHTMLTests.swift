import Foundation
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Digest as an HTML page")
struct DigestHTMLTests {
    @Test("one self-contained page: parses as HTML, holds the four SVG charts with data, no scripts or external fetches")
    func page() async throws {
        let zone = "Europe/Lisbon"
        let night = Day("2026-11-22")!
        let fixture = try await NightlyFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.logSteady("ana", zone: zone, until: night, weeks: 6)
        try await fixture.generatePlan("ana", from: Day("2026-10-26")!, race: Day("2027-04-18")!, startKm: 36)
        for offset in stride(from: -20, through: 0, by: 1) {
            _ = try await fixture.nightly(night.adding(days: offset), now: Date(timeIntervalSince1970: 1_795_428_000))
        }
        let (digest, series) = try await fixture.pool.withConnection { connection -> (Digest?, DigestSeries) in
            (try DigestStore.night(handle: "ana", date: night, on: connection), try DigestStore.series(handle: "ana", until: night, on: connection))
        }
        let html = DigestHTML.page(try #require(digest), series: series)
        #expect(series.acwr.compactMap { $0 }.count >= 21 && series.restingHR.compactMap { $0 }.count >= 42)
        #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"))

        let file = "/tmp/squadsync-digest-\(UUID().uuidString).html"
        try html.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let script = """
            import sys
            from html.parser import HTMLParser
            VOID = {"meta", "br", "img", "input", "link", "hr", "line", "rect", "path"}
            class P(HTMLParser):
                def __init__(self):
                    super().__init__(); self.stack = []; self.counts = {}; self.errors = []
                def handle_starttag(self, tag, attrs):
                    self.counts[tag] = self.counts.get(tag, 0) + 1
                    if tag not in VOID: self.stack.append(tag)
                def handle_startendtag(self, tag, attrs):
                    self.counts[tag] = self.counts.get(tag, 0) + 1
                def handle_endtag(self, tag):
                    if tag in VOID: return
                    if not self.stack or self.stack[-1] != tag: self.errors.append("unexpected </%s>" % tag)
                    else: self.stack.pop()
            p = P(); p.feed(open(sys.argv[1]).read()); p.close()
            assert not p.errors and not p.stack, (p.errors, p.stack)
            print(" ".join("%s=%d" % (t, p.counts.get(t, 0)) for t in ["svg", "rect", "path", "line", "h2"]))
            """
        let parsed = try Subprocess.run("/usr/bin/env", ["python3", "-c", script, file], environment: ProcessInfo.processInfo.environment)
        #expect(parsed.status == 0, "\(parsed.output)")
        let counts = Dictionary(uniqueKeysWithValues: parsed.output.split(whereSeparator: \.isWhitespace).compactMap { pair -> (String, Int)? in
            let parts = pair.split(separator: "=")
            return parts.count == 2 ? (String(parts[0]), Int(parts[1]) ?? 0) : nil
        })
        #expect(counts["svg"] == 4, "weekly volume, ACWR, resting HR, HRV: \(parsed.output)")
        #expect((counts["rect"] ?? 0) >= 9, "8 weekly bars and the ACWR band: \(parsed.output)")
        #expect((counts["path"] ?? 0) == 3, "ACWR, resting HR and HRV lines: \(parsed.output)")
    }
}
