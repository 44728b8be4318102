import Foundation

/// Renders digests for a terminal (`text`) or a message (`markdown`). Pure: the width and
/// whether to colour are parameters, so golden tests pin the output. Colour never carries
/// meaning alone: severities are always spelled out.
public struct DigestRenderer: Sendable {
    public var width: Int
    public var colour: Bool

    public init(width: Int = 80, colour: Bool = false) {
        self.width = max(40, width)
        self.colour = colour
    }

    /// Colour on a terminal only, never when `NO_COLOR` is set to anything (no-color.org)
    /// or on a dumb terminal.
    public static func wantsColour(environment: [String: String], isTerminal: Bool) -> Bool {
        if let value = environment["NO_COLOR"], !value.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return isTerminal
    }

    // MARK: - Pieces

    /// Eight weeks of volume as block characters, scaled to the largest week.
    public static func sparkline(_ values: [Double]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        let top = values.max() ?? 0
        guard top > 0 else { return String(repeating: "▁", count: values.count) }
        return String(values.map { blocks[min(7, Int(($0 / top * 7).rounded()))] })
    }

    func paint(_ text: String, _ severity: Severity?) -> String {
        guard colour, let severity else { return text }
        let code = switch severity {
        case .act: "1;31"
        case .watch: "33"
        case .info: "36"
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    static func km(_ value: Double) -> String { String(format: "%.0f", value) }
    static func ratio(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "-" }
    static func percent(_ value: Double?) -> String { value.map { String(format: "%.0f%%", $0 * 100) } ?? "-" }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
    }

    static func clip(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(0, width - 1))) + "…"
    }

    /// Word-wraps `text` into lines of at most `columns` characters (a longer word stays whole).
    static func wrap(_ text: String, columns: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > columns {
                lines.append(line)
                line = String(word)
            } else {
                line = line.isEmpty ? String(word) : line + " " + word
            }
        }
        lines.append(line)
        return lines
    }

    // MARK: - The squad at a glance

    /// One line per athlete, ranked by what needs attention first.
    public func squad(_ digests: [Digest], title: String, date: Day) -> String {
        let ranked = digests.rankedForAttention()
        let counts = Dictionary(grouping: ranked.compactMap { $0.worstFlag?.severity }, by: { $0 }).mapValues(\.count)
        var out: [String] = []
        let quiet = ranked.count - counts.values.reduce(0, +)
        let tally = [Severity.act, .watch, .info].map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ") + ", \(quiet) ok"
        out.append(Self.clip("\(title), \(date): \(ranked.count) athletes; \(tally)", width))
        let handleWidth = min(16, max(7, ranked.map(\.athlete.count).max() ?? 7))
        let showSpark = width >= 72
        let fixed = handleWidth + 2 + 6 + 10 + (showSpark ? 10 : 0) + 7 + 5 + 5
        let flagWidth = min(34, max(12, width - fixed))
        var header = Self.pad("ATHLETE", handleWidth) + "  " + Self.pad("ATTENTION", flagWidth) + " " + Self.pad("ACWR", 5) + " " + Self.pad("WEEK KM", 9)
        if showSpark { header += " " + Self.pad("8 WEEKS", 9) }
        header += " " + Self.pad("COMPL", 6) + " SYNC"
        out.append(header)
        for digest in ranked {
            let worst = digest.worstFlag
            let open = digest.flags.filter { $0.status != "cleared" }.count
            var attention = worst.map { "\($0.severity.rawValue.uppercased()) \($0.code)" } ?? "ok"
            if open > 1 { attention += " +\(open - 1)" }
            let planned = digest.volume.plannedKm.map { "/" + Self.km($0) } ?? ""
            var line = Self.pad(digest.athlete, handleWidth) + "  " + paint(Self.pad(Self.clip(attention, flagWidth), flagWidth), worst?.severity)
            line += " " + Self.pad(Self.ratio(digest.metrics?.acwr), 5) + " " + Self.pad(Self.km(digest.volume.doneKm) + planned, 9)
            if showSpark { line += " " + Self.pad(Self.sparkline(digest.weeklyVolume.map(\.km)), 9) }
            line += " " + Self.pad(Self.percent(digest.volume.lastWeekCompliance), 6) + " " + (digest.sync.daysSinceSync.map { "\($0)d" } ?? "never")
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    // MARK: - One athlete

    public func athlete(_ digest: Digest) -> String {
        var out: [String] = []
        let label = 9
        func section(_ name: String, _ lines: [String]) {
            for (index, line) in lines.enumerated() {
                for (part, text) in Self.wrap(line, columns: width - label).enumerated() {
                    out.append((index == 0 && part == 0 ? Self.pad(name, label) : String(repeating: " ", count: label)) + text)
                }
            }
        }
        out.append(Self.clip("\(digest.athlete) (\(digest.name)), \(digest.period == "week" ? "week to" : "night of") \(digest.date)", width))
        out += Self.wrap(digest.summary, columns: width).map { paint($0, digest.worstFlag?.severity) }
        out.append("")
        let volume = digest.volume
        var volumeLines = ["this week \(String(format: "%.1f", volume.doneKm)) km" + (volume.plannedKm.map { String(format: " of %.1f planned", $0) } ?? "")
            + (volume.lastWeekCompliance.map { "; last week \(Self.percent($0)) of plan" } ?? "")]
        if !digest.weeklyVolume.isEmpty {
            volumeLines.append("8 weeks \(Self.sparkline(digest.weeklyVolume.map(\.km)))  " + digest.weeklyVolume.map { Self.km($0.km) }.joined(separator: " "))
        }
        section("Volume", volumeLines)
        if let m = digest.metrics {
            section("Load", [
                "acute \(Self.km(m.acuteLoad)), chronic \(Self.km(m.chronicLoad)), ACWR \(Self.ratio(m.acwr)) (EWMA \(Self.ratio(m.acwrEWMA)); band 0.8-1.3)",
                "monotony \(Self.ratio(m.monotony)), strain \(m.strain.map { Self.km($0) } ?? "-"), easy share \(Self.percent(m.easyShare))",
            ])
        }
        let open = digest.flags.filter { $0.status != "cleared" }.sorted { ($0.severity, $1.code) > ($1.severity, $0.code) }
        section("Flags", open.isEmpty ? ["none open"] : open.map { flag in
            paint(flag.severity.rawValue.uppercased(), flag.severity) + " \(flag.code) since \(flag.date)\(flag.status == "acknowledged" ? " (acknowledged)" : ""): "
                + Self.evidenceText(flag.evidence) + " [\(flag.rule) v\(flag.ruleVersion); \(flag.dataQuality)]"
        })
        section("Changes", digest.planChanges.isEmpty ? ["none tonight"] : digest.planChanges.map(Self.changeText))
        section("Drills", digest.drills.isEmpty ? ["none prescribed"] : digest.drills.map { "\($0.date) \($0.sessionType): \($0.drills.joined(separator: ", "))" })
        let sync = digest.sync
        section("Sync", [
            (sync.devices.isEmpty ? "no devices" : sync.devices.map { "\($0.name) \($0.lastSync.map { "synced \($0)" } ?? "never synced")" }.joined(separator: ", "))
                + "; \(sync.openConflicts) open conflicts; \(sync.duplicatesMerged) duplicates merged",
        ])
        let since = digest.sinceLast
        var changed: [String] = []
        if !since.flagsRaised.isEmpty { changed.append("raised \(since.flagsRaised.joined(separator: ", "))") }
        if !since.flagsCleared.isEmpty { changed.append("cleared \(since.flagsCleared.joined(separator: ", "))") }
        if since.planChanges > 0 { changed.append("\(since.planChanges) plan changes") }
        if !since.revisedDays.isEmpty { changed.append("late entries revised \(since.revisedDays.map(\.description).joined(separator: ", "))") }
        section("Since", [(since.previous.map { "\($0): " } ?? "first digest: ") + (changed.isEmpty ? "nothing new" : changed.joined(separator: "; "))])
        return out.joined(separator: "\n")
    }

    static func evidenceText(_ evidence: JSONValue) -> String {
        guard let members = evidence.objectValue else { return evidence.canonicalText }
        return members.keys.sorted().compactMap { key -> String? in
            let value = members[key]!
            switch value {
            case .null: return nil
            case .string(let text): return "\(key) \(text)"
            case .int, .double, .bool: return "\(key) \(value.canonicalText)"
            case .array(let items): return items.isEmpty ? nil : "\(key) \(items.map(plain).joined(separator: ", "))"
            case .object: return "\(key) \(plain(value))"
            }
        }.joined(separator: ", ")
    }

    /// A value in words: strings bare, objects as their values in key order.
    static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .object(let members): members.keys.sorted().map { plain(members[$0]!) }.joined(separator: " ")
        case .array(let items): items.map(plain).joined(separator: ", ")
        default: value.canonicalText
        }
    }

    public static func changeText(_ change: JSONValue) -> String {
        func describe(_ session: JSONValue?) -> String {
            guard let session else { return "?" }
            let type = session["type"]?.stringValue ?? "?"
            let metres = session["distance_m"]?.numberValue ?? 0
            return metres > 0 ? "\(type) \(String(format: "%.1f", metres / 1000)) km" : type
        }
        let rule = (change["rule"]?.stringValue ?? "?").replacingOccurrences(of: "_", with: " ")
        return "\(change["session_date"]?.stringValue ?? "?") \(describe(change["before"])) -> \(describe(change["after"])) (\(rule)): \(change["reason"]?.stringValue ?? "")"
    }

    // MARK: - Markdown

    /// A digest pasteable into a message: headings, bullets, no colour.
    public func markdown(_ digest: Digest) -> String {
        var out: [String] = ["## \(digest.athlete) (\(digest.name)), \(digest.period == "week" ? "week to" : "night of") \(digest.date)", "", "**\(digest.summary)**", ""]
        let volume = digest.volume
        out.append("- **Volume:** \(String(format: "%.1f", volume.doneKm)) km this week" + (volume.plannedKm.map { String(format: " of %.1f planned", $0) } ?? "")
                   + (volume.lastWeekCompliance.map { ", last week \(Self.percent($0)) of plan" } ?? "")
                   + (digest.weeklyVolume.isEmpty ? "" : "; 8 weeks `\(Self.sparkline(digest.weeklyVolume.map(\.km)))`"))
        if let m = digest.metrics {
            out.append("- **Load:** ACWR \(Self.ratio(m.acwr)) (EWMA \(Self.ratio(m.acwrEWMA))), monotony \(Self.ratio(m.monotony)), easy share \(Self.percent(m.easyShare))")
        }
        let open = digest.flags.filter { $0.status != "cleared" }.sorted { ($0.severity, $1.code) > ($1.severity, $0.code) }
        out.append("- **Flags:**" + (open.isEmpty ? " none open" : ""))
        for flag in open {
            out.append("  - **\(flag.severity.rawValue.uppercased())** `\(flag.code)` since \(flag.date): \(Self.evidenceText(flag.evidence)) (_\(flag.dataQuality)_)")
        }
        out.append("- **Plan changes:**" + (digest.planChanges.isEmpty ? " none" : ""))
        for change in digest.planChanges { out.append("  - \(Self.changeText(change))") }
        if !digest.drills.isEmpty {
            out.append("- **Drills:** " + digest.drills.map { "\($0.date) \($0.drills.joined(separator: ", "))" }.joined(separator: "; "))
        }
        out.append("- **Sync:** \(digest.sync.devices.count) devices, \(digest.sync.openConflicts) open conflicts, \(digest.sync.duplicatesMerged) duplicates merged")
        return out.joined(separator: "\n")
    }

    public func markdownSquad(_ digests: [Digest], title: String, date: Day) -> String {
        var out = ["## \(title), \(date)", "", "| athlete | attention | ACWR | week km | 8 weeks | compliance | last sync |", "|---|---|---|---|---|---|---|"]
        for digest in digests.rankedForAttention() {
            let worst = digest.worstFlag.map { "**\($0.severity.rawValue.uppercased())** \($0.code)" } ?? "ok"
            out.append("| \(digest.athlete) | \(worst) | \(Self.ratio(digest.metrics?.acwr)) | \(Self.km(digest.volume.doneKm))\(digest.volume.plannedKm.map { "/" + Self.km($0) } ?? "") | `\(Self.sparkline(digest.weeklyVolume.map(\.km)))` | \(Self.percent(digest.volume.lastWeekCompliance)) | \(digest.sync.daysSinceSync.map { "\($0)d" } ?? "never") |")
        }
        return out.joined(separator: "\n")
    }
}
