import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SquadCore
import SquadServer

/// `--server URL` (env COACH_SERVER): run a coach command against a daemon's coach API
/// instead of the database. The token comes from COACH_TOKEN only, never from a flag
/// (flags show up in `ps` and shell history).
struct RemoteOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A running daemon's URL: use its coach API (token from env COACH_TOKEN) instead of the database (env COACH_SERVER).", valueName: "url"))
    var server: String?

    func api() throws -> CoachAPI? {
        let environment = ProcessInfo.processInfo.environment
        guard let server = server ?? environment["COACH_SERVER"], !server.isEmpty else { return nil }
        guard let token = environment["COACH_TOKEN"], !token.isEmpty else {
            throw UsageError(message: "--server needs a coach token in COACH_TOKEN (from `coach coaches add NAME --squad S`)")
        }
        guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw UsageError(message: "--server: '\(server)' is not an http(s) URL")
        }
        return CoachAPI(base: server.hasSuffix("/") ? String(server.dropLast()) : server, token: token)
    }
}

/// A small client of `/v1/coach/...`; errors carry the server's code and message.
struct CoachAPI: Sendable {
    let base: String
    let token: String

    static func path(_ path: String, _ query: [(String, String?)] = []) -> String {
        let items = query.compactMap { name, value in
            value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? $0)" }
        }
        return items.isEmpty ? path : path + "?" + items.joined(separator: "&")
    }

    func get<Value: Decodable>(_ path: String, as type: Value.Type = Value.self) async throws -> Value {
        try await send(.GET, path, body: nil)
    }

    func post<Value: Decodable>(_ path: String, body: JSONValue, as type: Value.Type = Value.self) async throws -> Value {
        try await send(.POST, path, body: body)
    }

    func send<Value: Decodable>(_ method: HTTPMethod, _ path: String, body: JSONValue?) async throws -> Value {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.canonicalText))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            throw AdminError(.invalid, "cannot reach \(base): \(error)")
        }
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        let data = Data(bytes.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            let json = try? StrictJSON.parse(Array(data))
            let code = json?["error"]?["code"]?.stringValue ?? "http_\(response.status.code)"
            let message = json?["error"]?["message"]?.stringValue ?? response.status.reasonPhrase
            throw AdminError(response.status.code == 404 ? .notFound : response.status.code == 409 ? .conflict : .invalid, "\(base): \(message) (\(code))")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(Value.self, from: data) } catch {
            throw AdminError(.invalid, "\(base) answered something this coach does not understand: \(error)")
        }
    }
}
