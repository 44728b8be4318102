import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import SquadCore
import SquadServer
import Testing
import TestSupport

@Suite("Hostile input")
struct HostileInputTests {
    static let validOp = SyncFixture.createOp(UUID(), at: 0).canonicalText

    @Test("malformed bodies get a 4xx with a code and store nothing", arguments: [
        ("{not json", "invalid_json"),
        (#"{"protocol": 1, "protocol": 1, "ops": []}"#, "duplicate_key"),
        (#"{"protocol": 1, "ops": [{"op_id": "6a0b7c1e-0000-4000-8000-000000000001", "op_id": "6a0b7c1e-0000-4000-8000-000000000002"}]}"#, "duplicate_key"),
        (#"{"protocol": 1, "ops": [], "x": 1e400}"#, "number_out_of_range"),
        (String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000), "too_deep"),
        (#"{"protocol": 1, "ops": {}}"#, "invalid_body"),
        (#"{"protocol": "1", "ops": []}"#, "unsupported_protocol"),
        (#"{"protocol": 2, "ops": []}"#, "unsupported_protocol"),
        (#"[1, 2]"#, "invalid_body"),
        (#"{"protocol": 1, "ops": [42]}"#, "invalid_op"),
        (#"{"protocol": 1, "ops": [{"op": "create"}]}"#, "invalid_op_id"),
    ])
    func malformed(body: String, code: String) async throws {
        let fixture = try await SyncFixture.make()
        try await fixture.application().test(.router) { client in
            let answer = try await client.send(.post, "/v1/sync/push", token: fixture.tokens["ana-watch"]!, body: body)
            #expect(answer.status == .badRequest, "\(answer.text)")
            #expect(answer.errorCode == code)
        }
        #expect(try await fixture.count("applied_ops") == 0)
        #expect(try await fixture.count("entries") == 0)
        await fixture.close()
    }

    @Test("invalid UTF-8, wrong media type, too many ops and oversized bodies are refused with 4xx")
    func byteLevel() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        try await fixture.application().test(.router) { client in
            let invalid = Array(#"{"protocol": 1, "ops": [], "x": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
            let utf8 = try await client.send(.post, "/v1/sync/push", token: token, bytes: invalid)
            #expect(utf8.status == .badRequest)
            #expect(utf8.errorCode == "invalid_utf8")

            let media = try await client.send(.post, "/v1/sync/push", token: token, body: SyncFixture.pushBody([]), contentType: "text/plain")
            #expect(media.status == .unsupportedMediaType)

            let many = (0..<1001).map { _ in SyncFixture.createOp(UUID(), at: 0) }
            let tooMany = try await client.push(many, token: token)
            #expect(tooMany.status == .contentTooLarge)
            #expect(tooMany.errorCode == "too_many_ops")

            let padding = String(repeating: "x", count: PushRequest.maximumBytes)
            let huge = try await client.send(.post, "/v1/sync/push", token: token, body: #"{"protocol": 1, "ops": [], "pad": "\#(padding)"}"#)
            #expect(huge.status == .contentTooLarge)
            #expect(huge.errorCode == "payload_too_large")
        }
        #expect(try await fixture.count("applied_ops") == 0)
        await fixture.close()
    }

    @Test("wrong types inside an op are rejected per op with the field named, never a 500")
    func wrongTypes() async throws {
        let fixture = try await SyncFixture.make()
        let token = fixture.tokens["ana-watch"]!
        let entry = UUID()
        let ops: [JSONValue] = [
            .object(["op_id": .string(UUID().uuidString), "op": .string("explode"), "entry_id": .string(entry.uuidString), "hlc": .string(SyncFixture.hlc(0, "d"))]),
            .object(["op_id": .string(UUID().uuidString), "op": .string("create"), "entry_id": .string("nope"), "hlc": .string(SyncFixture.hlc(0, "d"))]),
            .object(["op_id": .string(UUID().uuidString), "op": .string("create"), "entry_id": .string(entry.uuidString), "kind": .string("run"), "hlc": .string("yesterday"), "entry": .object([:])]),
            .object(["op_id": .string(UUID().uuidString), "op": .string("create"), "entry_id": .string(entry.uuidString), "kind": .string("dance"), "hlc": .string(SyncFixture.hlc(0, "d")), "entry": .object([:])]),
            .object(["op_id": .string(UUID().uuidString), "op": .string("create"), "entry_id": .string(entry.uuidString), "kind": .string("run"), "hlc": .string(SyncFixture.hlc(0, "d")), "entry": .array([])]),
            .object(["op_id": .string(UUID().uuidString), "op": .string("patch"), "entry_id": .string(entry.uuidString), "base_version": .double(1.5), "hlc": .string(SyncFixture.hlc(0, "d")), "set": .object(["body.rpe": .int(3)])]),
            .object(["op_id": .string(UUID().uuidString), "op": .string("create"), "entry_id": .string(UUID().uuidString), "kind": .string("wellness"), "hlc": .string(SyncFixture.hlc(0, "d")),
                     "entry": .object(["body": .object(["legs": .string("wobbly")])])]),
        ]
        try await fixture.application().test(.router) { client in
            let answer = try await client.push(ops, token: token)
            #expect(answer.status == .ok)
            let results = try #require(answer.json?["results"]?.arrayValue)
            #expect(results.allSatisfy { $0["status"] == .string("rejected") || $0["status"] == .string("skipped") })
            #expect(results.map { $0["field"]?.stringValue } == ["op", "entry_id", "hlc", "kind", "entry", "base_version", "body.legs"])
        }
        #expect(try await fixture.count("entries") == 0)
        await fixture.close()
    }
}
