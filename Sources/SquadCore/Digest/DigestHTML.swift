import Foundation

/// Daily series behind a digest's charts (read at render time from the stored metrics
/// and rollups; missing days are nil).
public struct DigestSeries: Sendable, Equatable {
    public var days: [Day]
    public var acwr: [Double?]
    public var restingHR: [Double?]
    public var hrv: [Double?]

    public init(days: [Day], acwr: [Double?], restingHR: [Double?], hrv: [Double?]) {
        self.days = days
        self.acwr = acwr
        self.restingHR = restingHR
        self.hrv = hrv
    }
}

/// One self-contained HTML page for a digest: inline CSS and SVG, no scripts, no fetches.
public enum DigestHTML {
    public static func page(_ digest: Digest, series: DigestSeries) -> String {
        let renderer = DigestRenderer(width: 200)
        var body: [String] = []
        body.append("<h1>\(escape(digest.athlete)) <small>\(escape(digest.name)), \(digest.period == "week" ? "week to" : "night of") \(digest.date)</small></h1>")
        body.append("<p class=\"summary \(digest.worstFlag?.severity.rawValue ?? "ok")\">\(escape(digest.summary))</p>")
        body.append("<section><h2>Weekly volume vs plan</h2>\(volumeChart(digest.weeklyVolume))</section>")
        body.append("<section><h2>ACWR</h2>\(lineChart(series.days, [("ACWR", series.acwr, "#1f5fa8")], band: (0.8, 1.3), reference: nil, unit: ""))</section>")
        body.append("<section><h2>Resting HR and HRV against baseline</h2>"
                    + lineChart(series.days, [("resting HR (bpm)", series.restingHR, "#b3261e")], band: nil, reference: mean(series.restingHR), unit: " bpm")
                    + lineChart(series.days, [("HRV rMSSD (ms)", series.hrv, "#2e7d32")], band: nil, reference: mean(series.hrv), unit: " ms") + "</section>")
        let open = digest.flags.filter { $0.status != "cleared" }.sorted { ($0.severity, $1.code) > ($1.severity, $0.code) }
        body.append("<section><h2>Flags</h2>" + (open.isEmpty ? "<p>None open.</p>" : "<ul>" + open.map { flag in
            "<li><b class=\"\(flag.severity.rawValue)\">\(flag.severity.rawValue.uppercased())</b> <code>\(escape(flag.code))</code> since \(flag.date): "
                + "\(escape(DigestRenderer.evidenceText(flag.evidence))) <i>(\(escape(flag.dataQuality)); \(escape(flag.rule)) v\(flag.ruleVersion))</i></li>"
        }.joined() + "</ul>") + "</section>")
        body.append("<section><h2>Plan changes</h2>" + (digest.planChanges.isEmpty ? "<p>None.</p>" : "<ul>"
            + digest.planChanges.map { "<li>\(escape(DigestRenderer.changeText($0)))</li>" }.joined() + "</ul>") + "</section>")
        if !digest.drills.isEmpty {
            body.append("<section><h2>Drills</h2><ul>" + digest.drills.map { "<li>\($0.date) \(escape($0.sessionType)): \(escape($0.drills.joined(separator: ", ")))</li>" }.joined() + "</ul></section>")
        }
        body.append("<section><h2>Sync</h2><p>\(escape(renderer.athlete(digest).split(separator: "\n").first { $0.hasPrefix("Sync") }.map { String($0.dropFirst(9)) } ?? ""))</p></section>")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(digest.athlete)) \(digest.date): Squadsync digest</title>
            <style>
            body{font:15px/1.45 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#1b1b1b}
            h1 small{font-weight:normal;color:#555;font-size:60%} h2{font-size:110%;margin-top:1.6em}
            .summary{padding:.6em .8em;border-left:6px solid #999;background:#f4f4f4}
            .summary.act{border-color:#b3261e}.summary.watch{border-color:#c77700}.summary.info{border-color:#1f5fa8}
            b.act{color:#b3261e}b.watch{color:#9a5b00}b.info{color:#1f5fa8}
            svg{width:100%;height:auto;display:block;margin:.4em 0} svg text{font:11px system-ui,sans-serif;fill:#444}
            </style></head><body>
            \(body.joined(separator: "\n"))
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func mean(_ values: [Double?]) -> Double? {
        let present = values.compactMap { $0 }
        return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Bars of weekly km with the plan as a tick per week.
    static func volumeChart(_ weeks: [Digest.WeekVolume]) -> String {
        let width = 800.0, height = 220.0, left = 40.0, bottom = 30.0, top = 10.0
        let top1 = max(1, weeks.map { max($0.km, $0.plannedKm ?? 0) }.max() ?? 1) * 1.1
        let slot = (width - left) / Double(max(1, weeks.count))
        func y(_ km: Double) -> Double { height - bottom - (height - bottom - top) * km / top1 }
        var parts = ["<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"weekly volume against plan\">"]
        parts.append("<line x1=\"\(left)\" y1=\"\(f(height - bottom))\" x2=\"\(width)\" y2=\"\(f(height - bottom))\" stroke=\"#999\"/>")
        for (index, week) in weeks.enumerated() {
            let x = left + Double(index) * slot + slot * 0.15
            parts.append("<rect x=\"\(f(x))\" y=\"\(f(y(week.km)))\" width=\"\(f(slot * 0.7))\" height=\"\(f(height - bottom - y(week.km)))\" fill=\"#6d9bd1\"><title>\(week.week): \(f(week.km)) km</title></rect>")
            if let planned = week.plannedKm {
                parts.append("<line x1=\"\(f(x - 4))\" y1=\"\(f(y(planned)))\" x2=\"\(f(x + slot * 0.7 + 4))\" y2=\"\(f(y(planned)))\" stroke=\"#1b1b1b\" stroke-width=\"2\"><title>planned \(f(planned)) km</title></line>")
            }
            parts.append("<text x=\"\(f(x + slot * 0.35))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(String(week.week.description.dropFirst(5)))</text>")
            parts.append("<text x=\"\(f(x + slot * 0.35))\" y=\"\(f(y(week.km) - 4))\" text-anchor=\"middle\">\(Int(week.km.rounded()))</text>")
        }
        parts.append("<text x=\"4\" y=\"\(f(top + 10))\">km</text></svg>")
        return parts.joined()
    }

    /// Daily lines with an optional shaded band (ACWR 0.8-1.3) or a dashed reference (baseline).
    static func lineChart(_ days: [Day], _ lines: [(String, [Double?], String)], band: (Double, Double)?, reference: Double?, unit: String) -> String {
        let width = 800.0, height = 180.0, left = 44.0, bottom = 24.0, top = 10.0
        let values = lines.flatMap { $0.1.compactMap { $0 } } + (band.map { [$0.0, $0.1] } ?? []) + (reference.map { [$0] } ?? [])
        guard !days.isEmpty, let low0 = values.min(), let high0 = values.max() else {
            return "<svg viewBox=\"0 0 800 40\" role=\"img\" aria-label=\"no data\"><text x=\"10\" y=\"25\">no data yet</text></svg>"
        }
        let pad = max(0.05, (high0 - low0) * 0.1)
        let (low, high) = (low0 - pad, high0 + pad)
        func x(_ index: Int) -> Double { left + (width - left - 10) * Double(index) / Double(max(1, days.count - 1)) }
        func y(_ value: Double) -> Double { height - bottom - (height - bottom - top) * (value - low) / (high - low) }
        var parts = ["<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(lines.map(\.0).joined(separator: ", ")))\">"]
        if let band {
            parts.append("<rect x=\"\(left)\" y=\"\(f(y(band.1)))\" width=\"\(f(width - left - 10))\" height=\"\(f(y(band.0) - y(band.1)))\" fill=\"#2e7d32\" fill-opacity=\"0.12\"><title>sweet spot \(band.0)-\(band.1)</title></rect>")
            parts.append("<text x=\"\(f(width - 14))\" y=\"\(f(y(band.1) + 12))\" text-anchor=\"end\">\(band.0)-\(band.1)</text>")
        }
        if let reference {
            parts.append("<line x1=\"\(left)\" y1=\"\(f(y(reference)))\" x2=\"\(f(width - 10))\" y2=\"\(f(y(reference)))\" stroke=\"#777\" stroke-dasharray=\"5 4\"><title>baseline \(f(reference))\(unit)</title></line>")
            parts.append("<text x=\"\(f(width - 14))\" y=\"\(f(y(reference) - 4))\" text-anchor=\"end\">baseline \(f(reference))\(unit)</text>")
        }
        for (name, series, colour) in lines {
            var path = ""
            var pen = false
            for (index, value) in series.enumerated() {
                guard let value else { pen = false; continue }
                path += "\(pen ? "L" : "M")\(f(x(index))) \(f(y(value))) "
                pen = true
            }
            parts.append("<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"><title>\(escape(name))</title></path>")
            parts.append("<text x=\"\(left + 4)\" y=\"\(f(top + 10))\" fill=\"\(colour)\">\(escape(name))</text>")
        }
        parts.append("<text x=\"4\" y=\"\(f(y(high0)))\">\(f(high0))</text><text x=\"4\" y=\"\(f(y(low0)))\">\(f(low0))</text>")
        parts.append("<text x=\"\(left)\" y=\"\(f(height - 6))\">\(days.first!)</text><text x=\"\(f(width - 10))\" y=\"\(f(height - 6))\" text-anchor=\"end\">\(days.last!)</text></svg>")
        return parts.joined()
    }
}
