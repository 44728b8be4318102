import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import SquadServer
import Testing
import TestSupport

@Suite("HTTP application and start-up checks")
struct ServeTests {
    @Test("GET /healthz answers 200 with a JSON status")
    func healthz() async throws {
        let pool = try TestDatabase.make().pool()
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: pool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
        await pool.close()
    }

    @Test("serving refuses a database that is behind its migrations, and accepts a current one")
    func requiresCurrentSchema() async throws {
        let empty = try TestDatabase.make(migrated: false).pool()
        let error = await #expect(throws: Serve.StartError.self) {
            try await Serve.requireCurrentSchema(pool: empty, configuration: DatabaseConfiguration())
        }
        #expect(error?.description.contains("coach migrate") == true)
        #expect(error?.description.contains("0001_core") == true)
        await empty.close()

        let current = try TestDatabase.make(migrated: true).pool()
        try await Serve.requireCurrentSchema(pool: current, configuration: DatabaseConfiguration())
        await current.close()
    }

    @Test("configuration reads flag over environment over default, and names a bad key")
    func configurationOrder() throws {
        let environment = ["SQUAD_PORT": "9000", "SQUAD_HOST": "0.0.0.0", "SQUAD_HOME": "/tmp/from-env"]
        let fromEnvironment = try Configuration(reader: ConfigurationReader(flags: [:], environment: environment))
        #expect(fromEnvironment.http.port == 9000)
        #expect(fromEnvironment.http.host == "0.0.0.0")
        #expect(fromEnvironment.database.home.path == "/tmp/from-env")
        let fromFlag = try Configuration(reader: ConfigurationReader(flags: ["port": "9100", "home": "/tmp/flag"], environment: environment))
        #expect(fromFlag.http.port == 9100)
        #expect(fromFlag.database.home.path == "/tmp/flag")
        let defaults = try Configuration(reader: ConfigurationReader(flags: [:], environment: [:]))
        #expect(defaults.http.port == 8080)
        #expect(defaults.http.host == "127.0.0.1")
        #expect(defaults.database.poolSize == 10)
        #expect(defaults.database.url == nil)
        let bad = #expect(throws: ConfigurationError.self) {
            try Configuration(reader: ConfigurationReader(flags: [:], environment: ["SQUAD_DB_POOL_SIZE": "lots"]))
        }
        #expect(bad?.description.contains("SQUAD_DB_POOL_SIZE") == true)
        let badURL = #expect(throws: ConfigurationError.self) {
            try Configuration(reader: ConfigurationReader(flags: ["database-url": "postgres://x/db?no_such_option=1"], environment: [:]))
        }
        #expect(badURL?.description.contains("--database-url") == true)
        let secret = try Configuration(reader: ConfigurationReader(flags: ["database-url": "postgres://u:hunter2@db/x"], environment: [:]))
        #expect(!secret.describe().map(\.1).joined().contains("hunter2"))
    }
}
