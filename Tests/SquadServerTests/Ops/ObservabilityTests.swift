import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import SquadCore
import SquadServer
import Synchronization
import Testing
import TestSupport

/// `/metrics`, request ids, JSON logs and the config file layer.
@Suite("Observability and configuration")
struct ObservabilityTests {
    @Test("GET /metrics exposes the named series: push ops by status, request latency, pool, nightly run and flags by code")
    func metrics() async throws {
        let zone = "Europe/Lisbon"
        let night = Day("2026-11-22")!
        let fixture = try await NightlyFixture.make(athletes: [("ana", zone)])
        try await fixture.log("ana", device: "phone", [NightlyFixture.wellness(night, zone: zone, illness: true)])
        _ = try await fixture.nightly(night, now: Date(timeIntervalSince1970: 1_795_428_000))
        let token = try await fixture.pool.withTransaction { try DeviceStore.enroll(handle: "ana", name: "spare", type: "phone", key: TestTokenKey.key, on: $0).1 }
        let metrics = ServerMetrics()
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), metrics: metrics)
        try await app.test(.router) { client in
            let entry = UUID()
            let body = SyncFixture.pushBody([SyncFixture.createOp(entry)])
            let push = try await client.send(.post, "/v1/sync/push", token: token, body: body)
            #expect(push.status == .ok)
            let retry = try await client.send(.post, "/v1/sync/push", token: token, body: body)
            #expect(retry.status == .ok)
            _ = try await client.send(.post, "/v1/sync/push", token: "wrong", body: body)
            let answer = try await client.send(.get, "/metrics", token: nil)
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = answer.text
            for series in [
                #"squadsync_push_ops_total{status="applied"} 1"#,
                #"squadsync_push_ops_total{status="duplicate"} 1"#,
                #"squadsync_http_requests_total{method="POST",route="/v1/sync/push",status="200"} 2"#,
                #"squadsync_http_requests_total{method="POST",route="/v1/sync/push",status="401"} 1"#,
                #"squadsync_http_request_duration_seconds_bucket{method="POST",route="/v1/sync/push",le="+Inf"} 3"#,
                "squadsync_db_pool_connections_in_use ",
                "squadsync_db_pool_waiting 0",
                "squadsync_db_up 1",
                "squadsync_nightly_last_run_duration_seconds ",
                "squadsync_nightly_last_run_athletes 1",
                "squadsync_nightly_runs_total 1",
                "squadsync_nightly_athletes_processed_total 1",
                #"squadsync_flags_raised_total{code="illness"} 1"#,
            ] {
                #expect(text.contains(series), "missing \(series) in:\n\(text)")
            }
            #expect(text.contains("# TYPE squadsync_push_ops_total counter"))
            // A second scrape does not count the database's flags twice.
            let again = try await client.send(.get, "/metrics", token: nil).text
            #expect(again.contains(#"squadsync_flags_raised_total{code="illness"} 1"#))
            #expect(!again.contains("token") || !again.contains(token), "no token in metrics")
        }
        await fixture.close()
    }

    @Test("every response carries X-Request-Id: the client's when it is a short token, else a new one; logs carry it")
    func requestIDs() async throws {
        let fixture = try await SyncFixture.make()
        let lines = Locked<[String]>([])
        let logger = Logger(label: "test") { label in
            var handler = JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } }
            handler.logLevel = .debug
            return handler
        }
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: logger)
        try await app.test(.router) { client in
            let given = try await client.execute(uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "abc-123.x_y"])
            #expect(given.headers[HTTPField.Name("X-Request-Id")!] == "abc-123.x_y")
            let hostile = try await client.execute(uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "a b\"c"])
            let made = hostile.headers[HTTPField.Name("X-Request-Id")!] ?? ""
            #expect(made.count == 32 && made != "a b\"c")
            let denied = try await client.send(.get, "/v1/sync/pull", token: "sq_not_a_real_token_value")
            #expect(denied.status == .unauthorized)
            let id = try #require(denied.headers[HTTPField.Name("X-Request-Id")!])
            let logged = lines.withLock { $0 }
            let line = try #require(logged.first { $0.contains(id) && $0.contains("\"status\":\"401\"") }, "\(logged)")
            let json = try StrictJSON.parse(line)
            #expect(json["request_id"]?.stringValue == id)
            #expect(json["path"]?.stringValue == "/v1/sync/pull")
            #expect(json["level"]?.stringValue == "info")
            #expect(!logged.joined().contains("sq_not_a_real_token_value"), "tokens never reach the logs")
        }
        await fixture.close()
    }

    @Test("JSON log lines hide metadata that names a secret, and are one valid object each")
    func jsonLogs() throws {
        let lines = Locked<[String]>([])
        var handler = JSONLogHandler(label: "squadsync") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = .trace
        var logger = Logger(label: "squadsync") { _ in handler }
        logger[metadataKey: "athlete"] = "ana"
        logger.info("enrolled \"phone\"\nnext line", metadata: ["device_token": "sq_secret_value", "Authorization": "Bearer x", "count": "3"])
        let line = try #require(lines.withLock { $0 }.first)
        #expect(line.hasSuffix("\n") && line.dropLast().firstIndex(of: "\n") == nil, "one line")
        let json = try StrictJSON.parse(String(line.dropLast()))
        #expect(json["message"]?.stringValue == "enrolled \"phone\"\nnext line")
        #expect(json["athlete"]?.stringValue == "ana")
        #expect(json["device_token"]?.stringValue == "(hidden)")
        #expect(json["Authorization"]?.stringValue == "(hidden)")
        #expect(json["count"]?.stringValue == "3")
        #expect(json["level"]?.stringValue == "info")
        #expect(json["ts"]?.stringValue?.hasSuffix("Z") == true)
        #expect(!line.contains("sq_secret_value"))
    }

    @Test("a config file sits under flags and the environment; a typo in it is an error naming the line")
    func configFile() throws {
        let text = """
            # comment
            SQUAD_PORT=9000
            export SQUAD_HOST="0.0.0.0"
            SQUAD_DB_STATEMENT_TIMEOUT='7'
            SQUAD_LOG_FORMAT=json
            """
        let file = try ConfigurationReader.parseFile(text, path: "squadsync.env")
        let fromFile = try Configuration(reader: ConfigurationReader(flags: [:], environment: [:], file: file))
        #expect(fromFile.http.port == 9000 && fromFile.http.host == "0.0.0.0")
        #expect(fromFile.database.statementTimeoutSeconds == 7 && fromFile.logFormat == .json)
        #expect(fromFile.sources[.port] == "file" && fromFile.sources[.shutdownGrace] == "default")
        #expect(fromFile.http.shutdownGraceSeconds == 10 && fromFile.database.connectTimeoutSeconds == 3)
        let environmentWins = try Configuration(reader: ConfigurationReader(flags: [:], environment: ["SQUAD_PORT": "9100"], file: file))
        #expect(environmentWins.http.port == 9100 && environmentWins.sources[.port] == "environment")
        let flagWins = try Configuration(reader: ConfigurationReader(flags: ["port": "9200"], environment: ["SQUAD_PORT": "9100"], file: file))
        #expect(flagWins.http.port == 9200 && flagWins.sources[.port] == "flag")

        let typo = #expect(throws: ConfigurationError.self) { try ConfigurationReader.parseFile("SQUAD_PORT=1\nSQUAD_PROT=2\n", path: "/etc/s.env") }
        #expect(typo?.description.contains("/etc/s.env:2") == true && typo?.description.contains("SQUAD_PORT") == true, "\(typo?.description ?? "")")
        let garbage = #expect(throws: ConfigurationError.self) { try ConfigurationReader.parseFile("just words\n", path: "f") }
        #expect(garbage?.description.contains("f:1") == true)
        let badValue = #expect(throws: ConfigurationError.self) {
            try Configuration(reader: ConfigurationReader(flags: [:], environment: [:], file: ["SQUAD_SHUTDOWN_GRACE": "soon"]))
        }
        #expect(badValue?.description.contains("--shutdown-grace") == true && badValue?.description.contains("SQUAD_SHUTDOWN_GRACE") == true)
    }

    @Test("the env example is itself a valid config file, and coach config show reports values from --config")
    func envExampleAsConfig() throws {
        let example = try DeployFilesTests.read("squadsync.env.example")
        let values = try ConfigurationReader.parseFile(example, path: "squadsync.env.example")
        let configuration = try Configuration(reader: ConfigurationReader(flags: [:], environment: [:], file: values))
        #expect(configuration.http.port == 8080 && configuration.database.statementTimeoutSeconds == 5)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("squadsync-\(UUID().uuidString.prefix(6)).env").path
        try "SQUAD_PORT=9393\nDATABASE_URL=postgresql://u:hunter2-secret@db.example.org/s\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        environment["SQUAD_PORT"] = nil
        let outcome = try Subprocess.run(try CoachCommandTests.coachPath(), ["config", "show", "--json", "--config", path], environment: environment)
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(!outcome.output.contains("hunter2-secret"))
        let rows = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [[String: Any]] ?? []
        let port = rows.first { $0["setting"] as? String == "port" }
        #expect(port?["value"] as? String == "9393" && port?["source"] as? String == "file")
        let bad = try Subprocess.run(try CoachCommandTests.coachPath(), ["config", "show", "--config", path + ".missing"], environment: environment)
        #expect(bad.status == 2 && bad.output.contains("--config") && bad.output.contains("cannot read"), "\(bad.output)")
    }
}
