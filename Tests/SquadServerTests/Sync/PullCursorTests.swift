import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Pull cursor")
struct PullCursorTests {
    @Test("concurrent writers with delayed commits: the union of all pulls equals the final table")
    func feedIsComplete() async throws {
        let fixture = try await SyncFixture.make()
        let athlete = fixture.devices["ana-watch"]!.athleteID
        let writers = ["ana-watch", "ana-phone"].map { fixture.devices[$0]! }
        let baseMillis = SyncFixture.clockStart
        let pool = fixture.pool

        // A reader pulls continuously while writers commit with random delays inside their transactions.
        let reader = Task { () -> ([UUID: Int64], String?) in
            var latest: [UUID: Int64] = [:]
            var cursor: String?
            for _ in 0..<300 {
                let from = cursor
                let page = try await pool.withConnection { try PullService.pull(athleteID: athlete, cursor: from, limit: 7, on: $0) }
                let json = try StrictJSON.parse(page)
                for change in json["changes"]?.arrayValue ?? [] where change["type"] == .string("entry") {
                    let id = UUID(uuidString: change["entry_id"]!.stringValue!)!
                    let seq = change["seq"]!.intValue!
                    #expect(seq > (latest[id] ?? 0))
                    latest[id] = seq
                }
                cursor = json["next_cursor"]?.stringValue
                try await Task.sleep(for: .milliseconds(2))
            }
            return (latest, cursor)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, writer) in writers.enumerated() {
                group.addTask {
                    for round in 0..<12 {
                        let ops = (0..<5).map { _ in SyncFixture.createOp(UUID(), at: Int64(round)) }
                        let push = try PushRequest.parse(Array(SyncFixture.pushBody(ops).utf8))
                        let delay = Double.random(in: 0...0.03) + Double(index) * 0.005
                        try await pool.withTransaction { connection in
                            _ = try PushService.apply(push, device: AuthenticatedDevice(id: writer.id, athleteID: athlete), nowMillis: baseMillis + 60_000, on: connection)
                            // Hold the commit back so the reader runs while this writer is in flight.
                            try connection.execute("SELECT pg_sleep(\(delay))")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var (latest, cursor) = try await reader.value
        // Drain what the reader had not reached yet, from where it stopped.
        while true {
            let from = cursor
            let page = try await pool.withConnection { try PullService.pull(athleteID: athlete, cursor: from, limit: 50, on: $0) }
            let json = try StrictJSON.parse(page)
            for change in json["changes"]?.arrayValue ?? [] where change["type"] == .string("entry") {
                latest[UUID(uuidString: change["entry_id"]!.stringValue!)!] = change["seq"]!.intValue!
            }
            cursor = json["next_cursor"]?.stringValue
            if json["has_more"] != .bool(true) { break }
        }
        let table = try await pool.withConnection { connection in
            try connection.query("SELECT entry_id, seq FROM entries WHERE athlete_id = \(athlete)").reduce(into: [UUID: Int64]()) {
                let (id, seq) = try $1.decode((UUID, Int64).self)
                $0[id] = seq
            }
        }
        #expect(table.count == 2 * 12 * 5)
        #expect(latest == table)
        await fixture.close()
    }

    @Test("cursors: bad ones are 400, ones from a lost future or before the horizon are 410")
    func cursorErrors() async throws {
        let fixture = try await SyncFixture.make()
        let athlete = fixture.devices["ana-watch"]!.athleteID
        let token = fixture.tokens["ana-watch"]!
        try await fixture.application().test(.router) { client in
            _ = try await client.push((0..<3).map { _ in SyncFixture.createOp(UUID(), at: 0) }, token: token)
            #expect(try await client.send(.get, "/v1/sync/pull?cursor=garbage!", token: token).errorCode == "invalid_cursor")
            let future = PullService.cursor(athleteID: athlete, seq: 999)
            let gone = try await client.send(.get, "/v1/sync/pull?cursor=\(future)", token: token)
            #expect(gone.status == .gone)
            #expect(gone.errorCode == "cursor_expired")
            try await fixture.pool.withConnection { try $0.execute("UPDATE athlete_sync SET horizon_seq = 2") }
            let old = try await client.send(.get, "/v1/sync/pull?cursor=\(PullService.cursor(athleteID: athlete, seq: 1))", token: token)
            #expect(old.status == .gone)
            let page = try await client.send(.get, "/v1/sync/pull?limit=2", token: token)
            #expect(page.json?["has_more"] == .bool(true))
            #expect(page.json?["changes"]?.arrayValue?.count == 2)
            #expect(try await client.send(.get, "/v1/sync/pull?limit=0", token: token).errorCode == "invalid_limit")
        }
        await fixture.close()
    }
}

