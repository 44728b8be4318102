import Foundation
import Postgres
import Testing
import TestSupport

/// Runs the built `coach` binary as a user would, against its own embedded cluster.
@Suite("The coach command, end to end", .serialized)
struct CoachCommandTests {
    /// `coach` is built next to the test bundle (`swift build --build-tests` builds both).
    static func coachPath() throws -> String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("coach").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/coach").path
        guard FileManager.default.isExecutableFile(atPath: fallback) else {
            throw UsageFailure(message: "the coach binary is not built: run `swift build --build-tests` first")
        }
        return fallback
    }

    struct UsageFailure: Error { var message: String }

    struct Session {
        let home: String
        let coach: String

        init() throws {
            home = "/tmp/sq-cli-\(UUID().uuidString.prefix(8))"
            coach = try CoachCommandTests.coachPath()
        }

        func run(_ arguments: String..., environment extra: [String: String] = [:]) throws -> Subprocess.Outcome {
            var environment = ProcessInfo.processInfo.environment
            environment["SQUAD_HOME"] = home
            environment.removeValue(forKey: "DATABASE_URL")
            environment.merge(extra) { $1 }
            return try Subprocess.run(coach, arguments, environment: environment)
        }

        func shell(_ script: String) throws -> Subprocess.Outcome {
            var environment = ProcessInfo.processInfo.environment
            environment["SQUAD_HOME"] = home
            environment["COACH"] = coach
            environment.removeValue(forKey: "DATABASE_URL")
            return try Subprocess.run("/bin/bash", ["-c", script], environment: environment)
        }

        func cleanUp() {
            _ = try? run("db", "stop")
            try? FileManager.default.removeItem(atPath: home)
        }
    }

    @Test("migrate creates, starts and migrates a cluster that psql can read; admin commands and exit codes work")
    func firstRun() throws {
        let session = try Session()
        defer { session.cleanUp() }

        let migrate = try session.run("migrate")
        #expect(migrate.status == 0, "\(migrate.output)")
        #expect(migrate.output.contains("applying 0001_core"))
        let again = try session.run("migrate")
        #expect(again.status == 0)
        #expect(again.output.contains("up to date"))

        let psql = try session.shell(#"psql "$("$COACH" db url)" -tAc "SELECT count(*) FROM schema_migrations WHERE name IN ('0001_core', '0002_sync')""#)
        #expect(psql.status == 0, "\(psql.output)")
        #expect(psql.output.trimmingCharacters(in: .whitespacesAndNewlines) == "2")

        let status = try session.run("migrate", "--status", "--json")
        let rows = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [[String: Any]]
        #expect(rows?.first?["name"] as? String == "0001_core")
        #expect(rows?.first?["state"] as? String == "applied")

        #expect(try session.run("squads", "create", "Tuesday Club").status == 0)
        let duplicate = try session.run("squads", "create", "tuesday club")
        #expect(duplicate.status == 1)
        #expect(duplicate.output.contains("already exists"))
        let added = try session.run(
            "athletes", "add", "ana", "--name", "Ana Costa", "--squad", "Tuesday Club", "--tz", "Europe/Lisbon",
            "--hr-max", "186", "--hr-rest", "48", "--level", "advanced", "--json")
        #expect(added.status == 0, "\(added.output)")
        let list = try session.run("athletes", "list", "--squad", "Tuesday Club", "--json")
        let athletes = try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]]
        #expect(athletes?.map { $0["handle"] as? String } == ["ana"])
        #expect(athletes?.first?["hr_max"] as? Int == 186)
        let show = try session.run("athletes", "show", "ana")
        #expect(show.output.contains("Europe/Lisbon"))

        // Exit codes: 1 runtime failure, 2 usage error, 0 for help.
        #expect(try session.run("athletes", "show", "nobody").status == 1)
        #expect(try session.run("athletes", "add", "bob", "--name", "Bob", "--squad", "No Such Squad", "--tz", "UTC").status == 1)
        let badZone = try session.run("athletes", "add", "bob", "--name", "Bob", "--squad", "Tuesday Club", "--tz", "Mars/Base")
        #expect(badZone.status == 2)
        #expect(badZone.output.contains("--tz"))
        #expect(try session.run("athletes", "add").status == 2)
        #expect(try session.run("no-such-command").status == 2)
        #expect(try session.run("serve", "--port", "lots").status == 2)
        let help = try session.run("athletes", "add", "--help")
        #expect(help.status == 0)
        #expect(help.output.contains("Example"))

        #expect(try session.run("db", "stop").output.contains("stopped"))
        let stopped = try session.run("db", "status", "--json")
        let report = try JSONSerialization.jsonObject(with: Data(stopped.output.utf8)) as? [String: Any]
        #expect(report?["state"] as? String == "stopped")
        #expect(try session.run("db", "stop").output.contains("not running"))
        // Any command brings the cluster back.
        #expect(try session.run("squads", "list").output.contains("Tuesday Club"))
    }

    @Test("serve answers /healthz and stops cleanly on SIGTERM, stopping the cluster it started")
    func serveAndTerminate() throws {
        let session = try Session()
        defer { session.cleanUp() }
        #expect(try session.run("migrate").status == 0)
        #expect(try session.run("db", "stop").status == 0)
        let port = Int.random(in: 20_000...40_000)
        let script = """
            "$COACH" serve --port \(port) > "$SQUAD_HOME/serve.log" 2>&1 &
            pid=$!
            for i in $(seq 1 120); do
              if exec 3<>/dev/tcp/127.0.0.1/\(port) 2>/dev/null; then
                printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3
                timeout 10 cat <&3; exec 3>&-; break
              fi
              sleep 0.25
            done
            kill -TERM $pid
            wait $pid
            echo "exit=$?"
            """
        let outcome = try session.shell(script)
        #expect(outcome.output.contains("200 OK"), "\(outcome.output)")
        #expect(outcome.output.contains(#"{"status":"ok"}"#))
        #expect(outcome.output.contains("exit=0"))
        let status = try session.run("db", "status", "--json")
        let report = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        #expect(report?["state"] as? String == "stopped", "serve stops the cluster it started")
    }

    @Test("serve refuses a database that is behind, telling the user to run coach migrate")
    func serveRefusesUnmigrated() throws {
        let session = try Session()
        defer { session.cleanUp() }
        let database = try TestDatabase.make(migrated: false)
        let outcome = try session.run("serve", "--port", "0", environment: ["DATABASE_URL": database.url])
        #expect(outcome.status == 1)
        #expect(outcome.output.contains("coach migrate"))
    }

    @Test("devices enroll prints a token once, list shows it, revoke marks it; import reports bad lines and applies the rest once")
    func devicesAndImport() throws {
        let session = try Session()
        defer { session.cleanUp() }
        #expect(try session.run("migrate").status == 0)
        #expect(try session.run("squads", "create", "Club").status == 0)
        #expect(try session.run("athletes", "add", "ana", "--name", "Ana", "--squad", "Club", "--tz", "Europe/Lisbon").status == 0)
        let enrolled = try session.run("devices", "enroll", "ana", "--name", "Ana's watch", "--type", "watch", "--json")
        #expect(enrolled.status == 0, "\(enrolled.output)")
        let json = try JSONSerialization.jsonObject(with: Data(enrolled.output.utf8)) as? [String: Any]
        let token = json?["token"] as? String
        #expect(token?.hasPrefix("sq_") == true)
        let device = json?["device"] as? [String: Any]
        let id = try #require(device?["id"] as? String)
        let list = try session.run("devices", "list", "ana")
        #expect(list.output.contains("Ana's watch"))
        #expect(!list.output.contains(token ?? "-"), "the token is never shown again")
        #expect(try session.run("devices", "enroll", "ana", "--name", "x", "--type", "toaster").status == 2)
        #expect(try session.run("devices", "revoke", id).output.contains("revoked"))
        #expect(try session.run("devices", "list", "ana", "--json").output.contains("revoked_at"))

        let file = "\(session.home)/export.ndjson"
        let lines = [
            #"{"kind": "wellness", "time": {"local_date": "2026-06-01"}, "body": {"local_date": "2026-06-01", "resting_hr_bpm": 48, "legs": "heavy"}}"#,
            #"{"kind": "run", "time": {"start": "2026-06-01T06:00:00.000Z", "end": "2026-06-01T06:40:00.000Z"}, "body": {"distance_m": 8000, "rpe": 4}}"#,
            #"{"kind": "run", "body": {"rpe": 11}}"#,
            "this is not json",
            "",
            #"{"kind": "note", "body": {"text": "felt good"}}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let first = try session.run("import", file, "--athlete", "ana")
        #expect(first.status == 1, "bad lines make the exit code 1")
        #expect(first.output.contains("export.ndjson:3"), "\(first.output)")
        #expect(first.output.contains("body.rpe"))
        #expect(first.output.contains("export.ndjson:4"))
        #expect(first.output.contains("applied 3"))
        let second = try session.run("import", file, "--athlete", "ana", "--json")
        let report = try JSONSerialization.jsonObject(with: Data(second.output.utf8)) as? [String: Any]
        let statuses = report?["statuses"] as? [String: Int]
        #expect(statuses?["duplicate"] == 4, "importing again changes nothing: \(second.output)")
        #expect(statuses?["applied"] == nil)
        let psql = try session.shell(#"psql "$("$COACH" db url)" -tAc "SELECT count(*) FROM entries""#)
        #expect(psql.output.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
    }

    @Test("simulate pushes a squad with zero 5xx; the same seed again changes nothing")
    func simulateTwice() throws {
        let session = try Session()
        defer { session.cleanUp() }
        #expect(try session.run("migrate").status == 0)
        let port = Int.random(in: 20_000...40_000)
        let script = """
            "$COACH" serve --port \(port) > "$SQUAD_HOME/serve.log" 2>&1 &
            pid=$!
            for i in $(seq 1 120); do
              if exec 3<>/dev/tcp/127.0.0.1/\(port) 2>/dev/null; then exec 3>&-; break; fi
              sleep 0.25
            done
            "$COACH" simulate --server http://127.0.0.1:\(port) --athletes 3 --days 14 --seed 5 --end-date 2026-06-30 --json > "$SQUAD_HOME/first.json"
            echo "first=$?"
            "$COACH" simulate --server http://127.0.0.1:\(port) --athletes 3 --days 14 --seed 5 --end-date 2026-06-30 --json > "$SQUAD_HOME/second.json"
            echo "second=$?"
            kill -TERM $pid; wait $pid
            """
        let outcome = try session.shell(script)
        #expect(outcome.output.contains("first=0"), "\(outcome.output)")
        #expect(outcome.output.contains("second=0"))
        func report(_ name: String) throws -> [String: Any] {
            let data = try #require(FileManager.default.contents(atPath: "\(session.home)/\(name)"))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        let first = try report("first.json")
        let second = try report("second.json")
        #expect(first["http_5xx"] as? Int == 0)
        let firstStatuses = first["statuses"] as? [String: Int] ?? [:]
        #expect((firstStatuses["applied"] ?? 0) > 50)
        let secondStatuses = second["statuses"] as? [String: Int] ?? [:]
        #expect(Set(secondStatuses.keys) == ["duplicate"], "\(secondStatuses)")
    }
}
