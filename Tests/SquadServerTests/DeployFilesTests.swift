import Foundation
import Postgres
import SquadServer
import Testing

/// Deploy/ as far as it can be checked on this machine: unit files, the cron line and the
/// environment example.
@Suite("Deploy files")
struct DeployFilesTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Deploy")

    static func read(_ path: String) throws -> String {
        try String(contentsOf: deploy.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("the env example names every setting's variable")
    func envExample() throws {
        let text = try Self.read("squadsync.env.example")
        for setting in Setting.all {
            #expect(text.contains("\(setting.environment)="), "\(setting.environment) is missing from squadsync.env.example")
        }
        // Every uncommented line is NAME=VALUE a shell and systemd's EnvironmentFile both read.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            #expect(line.range(of: #"^[A-Z_][A-Z0-9_]*=[^ "']*$"#, options: .regularExpression) != nil, "not NAME=VALUE: \(line)")
        }
    }

    @Test("the cron line runs coach nightly as the squadsync user at a valid time")
    func cron() throws {
        let lines = try Self.read("cron/squadsync.cron").split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("=") && !$0.isEmpty }
        #expect(lines.count == 1)
        let fields = lines[0].split(separator: " ", maxSplits: 6).map(String.init)
        #expect(fields.count == 7, "minute hour day month weekday user command")
        let ranges = [0...59, 0...23, 1...31, 1...12, 0...7]
        for (field, range) in zip(fields.prefix(5), ranges) where field != "*" {
            #expect(Int(field).map(range.contains) == true, "\(field) out of \(range)")
        }
        #expect(fields[5] == "squadsync")
        #expect(fields[6].contains("/usr/local/bin/coach nightly"))
    }

    @Test("systemd units: hardened daemon, nightly timer, and systemd-analyze verify has nothing to say")
    func units() throws {
        let service = try Self.read("systemd/squadsync.service")
        for required in ["ExecStart=/usr/local/bin/coach serve", "User=squadsync", "ProtectSystem=strict", "StateDirectory=squadsync", "Restart=on-failure", "NoNewPrivileges=true"] {
            #expect(service.contains(required), "squadsync.service lacks \(required)")
        }
        #expect(try Self.read("systemd/squadsync-nightly.service").contains("ExecStart=/usr/local/bin/coach nightly"))
        #expect(try Self.read("systemd/squadsync-nightly.timer").contains("Persistent=true"))

        let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let analyze else { return }  // the structural checks above still ran
        // verify wants the ExecStart binaries to exist: point them at the built coach.
        let coach = try CoachCommandTests.coachPath()
        let folder = "/tmp/squadsync-units-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var units: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.deploy.appendingPathComponent("systemd").path).sorted() {
            let text = try Self.read("systemd/\(name)").replacingOccurrences(of: "/usr/local/bin/coach", with: coach)
            try text.write(toFile: "\(folder)/\(name)", atomically: true, encoding: .utf8)
            units.append("\(folder)/\(name)")
        }
        let outcome = try Subprocess.run(analyze, ["verify"] + units, environment: ProcessInfo.processInfo.environment)
        #expect(outcome.status == 0 && outcome.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(outcome.output)")
    }
}
