import Foundation
import SquadServer
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Clients that stall or trickle: they are cut off, and never hold a database connection.
@Suite("Slow clients")
struct SlowClientTests {
    /// A raw TCP connection to 127.0.0.1, for sending requests byte by byte.
    /// One task uses a connection at a time (the test hands it over and waits): @unchecked.
    final class RawConnection: @unchecked Sendable {
        let descriptor: Int32

        init(port: Int) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { throw Daemon.DaemonError(message: "connect failed: errno \(errno)") }
        }

        deinit { close(descriptor) }

        /// Whether the bytes were taken (false once the server has closed the connection).
        @discardableResult
        func send(_ text: String) -> Bool {
            text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) } >= 0
        }

        /// Sends `text` a byte every `gap` seconds; how many bytes went before the server closed.
        func trickle(_ text: String, gap: Double) -> Int {
            for (index, byte) in text.utf8.enumerated() {
                if !send(String(decoding: [byte], as: UTF8.self)) { return index }
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 0) > 0 {
                    var scratch = [UInt8](repeating: 0, count: 512)
                    if recv(descriptor, &scratch, scratch.count, Int32(MSG_DONTWAIT)) == 0 { return index + 1 }
                }
                usleep(useconds_t(gap * 1_000_000))
            }
            return text.utf8.count
        }

        /// The response's status line and headers, waiting up to `seconds`.
        func readHead(seconds: Double) -> String {
            let deadline = Date().addingTimeInterval(seconds)
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { break }
                received += buffer[0..<count]
                if String(decoding: received, as: UTF8.self).contains("\r\n\r\n") { break }
            }
            return String(decoding: received, as: UTF8.self)
        }

        /// Waits up to `seconds` for the server to close the connection (reading what it sends).
        func waitForClose(seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { return true }
            }
            return false
        }
    }

    @Test("a connection that stops sending mid-headers is closed after --idle-timeout; a trickled body holds no database connection")
    func stalledAndTrickling() async throws {
        let database = try TestDatabase.make()
        let tokens = try OpsLoad.enroll(devices: 1, url: database.url)
        let daemon = try await Daemon.start(databaseURL: database.url, arguments: ["--idle-timeout", "2", "--db-pool-size", "2"])

        // Half a request line of headers, then silence.
        let stalled = try RawConnection(port: daemon.port)
        stalled.send("POST /v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        let started = Date()
        let closed = await Task.detached { stalled.waitForClose(seconds: 8) }.value
        let after = Date().timeIntervalSince(started)
        #expect(closed && after >= 1.5 && after < 6, "closed after \(after) s")

        #expect(await daemon.stop() == 0)

        // A body sent 64 bytes at a time (to a daemon with the default idle timeout, so that a
        // busy test machine cannot make a gap look idle): while it trickles, no connection of
        // the pool is lent.
        let patient = try await Daemon.start(databaseURL: database.url, arguments: ["--db-pool-size", "2"])
        let (body, _) = OpsLoad.batch(device: 0, sequence: 0, size: 3)
        let bytes = Array(body.utf8)
        let trickle = try RawConnection(port: patient.port)
        trickle.send("POST /v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(tokens[0])\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n\r\n")
        var inUse: [Int] = []
        for (index, offset) in stride(from: 0, to: bytes.count, by: 64).enumerated() {
            trickle.send(String(decoding: bytes[offset..<min(bytes.count, offset + 64)], as: UTF8.self))
            try await Task.sleep(for: .milliseconds(40))
            if index % 8 == 0 {
                let metrics = try await HTTP.send("GET", patient.base + "/metrics")
                let line = metrics.text.split(separator: "\n").first { $0.hasPrefix("squadsync_db_pool_connections_in_use ") }
                inUse.append(line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1)
            }
        }
        #expect(inUse.count >= 3 && inUse.allSatisfy { $0 == 0 }, "connections lent while the body trickled: \(inUse)")
        let answer = await Task.detached { trickle.readHead(seconds: 20) }.value
        #expect(answer.hasPrefix("HTTP/1.1 200"), "the trickled push is applied once complete: \(answer.prefix(200))")
        #expect(await patient.stop() == 0)
    }

    @Test("a client that never goes silent but trickles its head or its body is cut off at --request-timeout")
    func tricklingIsCut() async throws {
        let database = try TestDatabase.make()
        let tokens = try OpsLoad.enroll(devices: 1, url: database.url)
        // Idle timeout far above the trickle gap: only the request deadline can end these.
        let daemon = try await Daemon.start(databaseURL: database.url, arguments: ["--request-timeout", "2", "--idle-timeout", "60"])

        // The head, a byte every 150 ms: 9 s to send it all if nobody stops it.
        let head = "GET /v1/sync/pull HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(tokens[0])\r\nX-Pad: " + String(repeating: "p", count: 60) + "\r\n\r\n"
        let slowHead = try RawConnection(port: daemon.port)
        let sentHead = await Task.detached { slowHead.trickle(String(head.prefix(60)), gap: 0.15) }.value
        #expect(sentHead < 60, "the head was cut off before it was complete: \(sentHead) of 60 bytes taken")
        #expect(slowHead.waitForClose(seconds: 5), "and the connection is closed")

        // The head at once, then the body a byte every 150 ms.
        let (body, _) = OpsLoad.batch(device: 0, sequence: 0, size: 1)
        let slowBody = try RawConnection(port: daemon.port)
        slowBody.send("POST /v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(tokens[0])\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        let sentBody = await Task.detached { slowBody.trickle(String(body.prefix(60)), gap: 0.15) }.value
        #expect(sentBody < 60, "the body was cut off: \(sentBody) of 60 bytes taken")
        let answer = slowBody.readHead(seconds: 2)
        #expect(!answer.hasPrefix("HTTP/1.1 200"), "nothing was applied from a cut body: \(answer.prefix(100))")

        // A client at normal speed is untouched.
        #expect(try await HTTP.send("GET", daemon.base + "/v1/sync/pull", token: tokens[0]).status == 200)
        #expect(await daemon.stop() == 0)
        #expect(daemon.log.contains("took over 2 s to send the request head") && daemon.log.contains("took over 2 s to send the request body"),
                "both cut-offs are logged: \(daemon.log.suffix(1500))")
    }
}
