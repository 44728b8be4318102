import ArgumentParser
import Foundation
import Postgres
import SquadCore
import SquadServer

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "The squad at a glance, ranked by what needs attention; or one athlete's digest.",
        discussion: """
            Digests are written by `coach nightly` and stored: a past digest reads the same later.
            Without HANDLE: one line per athlete, act first, then watch, then info, then the rest,
            with the worst flag, ACWR, week volume vs plan, 8 weeks of volume, compliance and days
            since the last sync. With HANDLE: the full digest of that athlete.

            Colour only on a terminal and never with NO_COLOR; severities are always spelled out.

            Examples:
              coach digest
              coach digest --squad "Tuesday Club" --date 2026-11-22 --format markdown
              coach digest ana --week
              coach digest ana --format json | jq .flags
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, json, html }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "One athlete's full digest.") var handle: String?
    @Option(help: ArgumentHelp("Only this squad (squad view).", valueName: "name")) var squad: String?
    @Option(help: ArgumentHelp("The digest of this night or the latest before it (YYYY-MM-DD).", valueName: "date")) var date: String?
    @Flag(help: "The week so far instead of one night (with HANDLE).") var week = false
    @Option(help: ArgumentHelp("text (default), markdown, json, or html (with HANDLE and --out).", valueName: "format")) var format: Format = .text
    @Option(help: ArgumentHelp("The file --format html writes: one self-contained page with SVG charts.", valueName: "file")) var out: String?
    @Option(help: ArgumentHelp("Columns for text (default: the terminal's, else 80).", valueName: "n")) var width: Int?

    func validate() throws {
        if let date, Day(date) == nil { throw ValidationError("--date: '\(date)' is not a date (YYYY-MM-DD)") }
        if week && handle == nil { throw ValidationError("--week needs an athlete: coach digest HANDLE --week") }
        if handle != nil && squad != nil { throw ValidationError("--squad is for the squad view; give either HANDLE or --squad") }
        if format == .html && (handle == nil || out == nil) { throw ValidationError("--format html needs an athlete and a file: coach digest HANDLE --format html --out FILE") }
    }

    func run() async throws {
        let day = date.flatMap(Day.init)
        let (handle, squad, week) = (self.handle, self.squad, self.week)
        let renderer = DigestRenderer(width: width ?? Terminal.columns(), colour: Terminal.wantsColour())
        if let api = try remote.api() {
            guard format != .html else { throw UsageError(message: "--format html reads the daily series from the database: run it on the server") }
            if let handle {
                let path = CoachAPI.path("/v1/coach/athletes/\(handle)/digest", [("date", date), ("week", week ? "true" : nil)])
                let digest: Digest = try await api.get(path)
                switch format {
                case .json: try Output.json(digest)
                case .markdown: print(renderer.markdown(digest))
                case .text, .html: print(renderer.athlete(digest))
                }
            } else {
                let digests: [Digest] = try await api.get(CoachAPI.path("/v1/coach/digest", [("squad", squad), ("date", date)]))
                try printSquad(digests, renderer: renderer, day: day)
            }
            return
        }
        if let handle {
            let wantsSeries = format == .html
            let (found, series) = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { connection -> (Digest?, DigestSeries?) in
                    _ = try RuleStore.athlete(handle, on: connection)
                    let digest: Digest?
                    if week {
                        let nights = try DigestStore.week(handle: handle, date: day ?? Day(ordinal: Int(Date().timeIntervalSince1970 / 86_400)), on: connection)
                        digest = Digest.week(nights)
                    } else {
                        digest = try DigestStore.night(handle: handle, date: day, on: connection)
                    }
                    guard let digest, wantsSeries else { return (digest, nil) }
                    return (digest, try DigestStore.series(handle: handle, until: digest.date, on: connection))
                }
            }
            guard let digest = found else {
                throw AdminError(.notFound, "no digest for \(handle)\(day.map { " on or before \($0)" } ?? ""); digests are written by `coach nightly`")
            }
            switch format {
            case .json: try Output.json(digest)
            case .markdown: print(renderer.markdown(digest))
            case .text: print(renderer.athlete(digest))
            case .html:
                let file = out ?? "digest.html"
                do {
                    try DigestHTML.page(digest, series: series ?? DigestSeries(days: [], acwr: [], restingHR: [], hrv: [])).write(toFile: file, atomically: true, encoding: .utf8)
                } catch {
                    throw AdminError(.invalid, "cannot write \(file): \(error.localizedDescription)")
                }
                print("wrote \(file)")
            }
            return
        }
        let digests = try await CommandContext.with(global) { context in
            try await context.pool.withConnection { try DigestStore.squad(squad, date: day, on: $0) }
        }
        try printSquad(digests, renderer: renderer, day: day)
    }

    func printSquad(_ digests: [Digest], renderer: DigestRenderer, day: Day?) throws {
        let title = squad ?? "All athletes"
        let shown = day ?? digests.map(\.date).max() ?? Day(ordinal: Int(Date().timeIntervalSince1970 / 86_400))
        switch format {
        case .html: throw ValidationError("--format html needs an athlete")
        case .json: try Output.json(digests.rankedForAttention())
        case .markdown: print(renderer.markdownSquad(digests, title: title, date: shown))
        case .text:
            if digests.isEmpty { print("no digests yet: `coach nightly` writes them"); return }
            print(renderer.squad(digests, title: title, date: shown))
        }
    }
}

/// What the terminal on standard output can do.
enum Terminal {
    static func columns() -> Int {
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let value = Int(text), value > 0 { return value }
        var size = winsize()
        if isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// Colour on a terminal only, and never when NO_COLOR is set (no-color.org).
    static func wantsColour() -> Bool {
        DigestRenderer.wantsColour(environment: ProcessInfo.processInfo.environment, isTerminal: isatty(STDOUT_FILENO) == 1)
    }
}
