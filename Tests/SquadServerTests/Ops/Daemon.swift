import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SquadCore
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real `coach serve` process for lifecycle, outage and multi-daemon tests.
///
/// Its standard error goes to a file (`log`); `stop()` sends SIGTERM and waits.
final class Daemon: @unchecked Sendable {
    // Only the test that started it touches `process`: the invariant behind @unchecked.
    let process: Process
    let port: Int
    let logFile: URL
    var base: String { "http://127.0.0.1:\(port)" }

    private init(process: Process, port: Int, logFile: URL) {
        self.process = process
        self.port = port
        self.logFile = logFile
    }

    /// Starts `coach serve` on a free port against `databaseURL` and waits for `/healthz`.
    static func start(databaseURL: String, arguments: [String] = [], environment extra: [String: String] = [:]) async throws -> Daemon {
        let coach = try CoachCommandTests.coachPath()
        for _ in 0..<5 {
            let port = 20_000 + Int.random(in: 0..<20_000)
            let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("squadsync-daemon-\(UUID().uuidString.prefix(8)).log")
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: coach)
            // No rate limit unless a test asks for one: the load tests push faster than a phone.
            let limit = (arguments.contains("--rate-limit") ? [] : ["--rate-limit", "0"])
                + (arguments.contains("--rate-limit-address") ? [] : ["--rate-limit-address", "0"])
            process.arguments = ["serve", "--port", String(port)] + limit + arguments
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = databaseURL
            environment["SQUAD_TOKEN_KEY_FILE"] = TestTokenKey.file.path
            environment.merge(extra) { $1 }
            process.environment = environment
            let handle = try FileHandle(forWritingTo: logFile)
            process.standardError = handle
            process.standardOutput = handle
            try process.run()
            let daemon = Daemon(process: process, port: port, logFile: logFile)
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, process.isRunning {
                if let answer = try? await HTTP.send("GET", daemon.base + "/healthz", timeout: .seconds(1)), answer.status == 200 {
                    return daemon
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            // Most likely the port was taken: try another.
        }
        throw DaemonError(message: "coach serve did not start")
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM (`process.terminate()`).
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits for the process to end, up to `timeout`; its exit status, or nil if it is still running.
    func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM, then the exit status (SIGKILL after 30 s: a test must not leave a daemon behind).
    @discardableResult
    func stop() async -> Int32? {
        terminate()
        if let status = await waitForExit() { return status }
        kill(process.processIdentifier, SIGKILL)
        return await waitForExit(timeout: .seconds(5))
    }

    struct DaemonError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// A small HTTP client over AsyncHTTPClient for process-level tests.
enum HTTP {
    struct Answer: Sendable {
        var status: Int
        var headers: [(String, String)]
        var text: String
        var json: JSONValue? { try? StrictJSON.parse(text) }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    static func send(_ method: String, _ url: String, token: String? = nil, body: String? = nil, headers: [String: String] = [:], timeout: Duration = .seconds(30)) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let seconds = timeout.components.seconds
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)))
        let data = try await response.body.collect(upTo: 32 * 1024 * 1024)
        return Answer(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, text: String(buffer: data))
    }
}
