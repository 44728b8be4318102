import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SquadServer
import Testing
import TestSupport

@Suite("Rate limits")
struct RateLimitTests {
    @Test("a token over its rate gets 429 with Retry-After; other tokens are not slowed; the bucket refills")
    func perToken() async throws {
        let fixture = try await SyncFixture.make()
        let limiter = RateLimiter(rate: 0.01, burst: 3)  // slow enough that a slow machine cannot refill it
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), rateLimiter: limiter)
        try await app.test(.router) { client in
            let watch = fixture.tokens["ana-watch"]!
            for _ in 0..<3 {
                #expect(try await client.send(.get, "/v1/sync/pull", token: watch).status == .ok)
            }
            let limited = try await client.send(.get, "/v1/sync/pull", token: watch)
            #expect(limited.status == .tooManyRequests && limited.errorCode == "rate_limited")
            #expect((limited.headers[.retryAfter].flatMap(Int.init) ?? 0) >= 1)
            #expect(try await client.send(.get, "/v1/sync/pull", token: fixture.tokens["bob-phone"]!).status == .ok, "another token is not affected")
            #expect(try await client.send(.get, "/healthz", token: nil).status == .ok, "requests without a token are not counted")
        }
        await fixture.close()
    }

    @Test("per address over real TCP: every request counts, with or without a token; a trusted proxy's X-Forwarded-For names the client, a spoofed one does not")
    func perAddress() async throws {
        let fixture = try await SyncFixture.make()
        let forwarded = HTTPField.Name("X-Forwarded-For")!
        func app(trusted: TrustedProxies) -> some ApplicationProtocol {
            buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.requestPool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"),
                             addressLimiter: RateLimiter(rate: 0.01, burst: 3), trustedProxies: trusted)
        }
        // Behind a proxy on this machine (the default trust): clients are told apart by X-Forwarded-For.
        try await app(trusted: .loopback).test(.live) { client in
            for _ in 0..<3 {
                let answer = try await client.execute(uri: "/v1/sync/pull", method: .get, headers: [forwarded: "203.0.113.7"])
                #expect(answer.status == .unauthorized, "no token: 401, but counted")
            }
            let limited = try await client.execute(uri: "/v1/sync/pull", method: .get, headers: [.authorization: "Bearer \(fixture.tokens["ana-watch"]!)", forwarded: "203.0.113.7"])
            #expect(limited.status == .tooManyRequests, "a fourth request from the address, now with a good token")
            #expect((limited.headers[.retryAfter].flatMap(Int.init) ?? 0) >= 1)
            // What the client wrote left of the proxy's entry is not believed.
            let spoofed = try await client.execute(uri: "/v1/sync/pull", method: .get, headers: [forwarded: "198.51.100.1, 203.0.113.7"])
            #expect(spoofed.status == .tooManyRequests, "the right-most untrusted address counts")
            let other = try await client.execute(uri: "/v1/sync/pull", method: .get, headers: [.authorization: "Bearer \(fixture.tokens["ana-watch"]!)", forwarded: "203.0.113.8"])
            #expect(other.status == .ok, "another client is not slowed")
        }
        // Trusting nobody: X-Forwarded-For is ignored and the peer (127.0.0.1) is the client.
        try await app(trusted: .none).test(.live) { client in
            for index in 0..<3 {
                let answer = try await client.execute(uri: "/healthz", method: .get, headers: [forwarded: "203.0.113.\(index)"])
                #expect(answer.status == .ok)
            }
            #expect(try await client.execute(uri: "/healthz", method: .get, headers: [forwarded: "203.0.113.99"]).status == .tooManyRequests)
        }
        await fixture.close()
    }

    @Test("trusted proxies: addresses and CIDR blocks, IPv4 and IPv6; bad entries are errors")
    func trustedProxies() throws {
        let trusted = try TrustedProxies.parse("10.0.0.0/8, 192.168.1.5, fd00::/8, ::1")
        #expect(trusted.contains("10.200.3.4") && trusted.contains("192.168.1.5") && trusted.contains("fd12::1") && trusted.contains("::1"))
        #expect(!trusted.contains("11.0.0.1") && !trusted.contains("192.168.1.6") && !trusted.contains("fe80::1") && !trusted.contains("garbage"))
        #expect(trusted.client(peer: "10.0.0.2", forwardedFor: ["1.2.3.4, 10.1.1.1"]) == "1.2.3.4", "trusted hops are skipped from the right")
        #expect(trusted.client(peer: "8.8.8.8", forwardedFor: ["1.2.3.4"]) == "8.8.8.8", "an untrusted peer's header is ignored")
        #expect(trusted.client(peer: "10.0.0.2", forwardedFor: []) == "10.0.0.2")
        #expect(trusted.client(peer: "10.0.0.2", forwardedFor: ["not-an-ip"]) == "10.0.0.2", "garbage in the header falls back to the peer")
        #expect(try TrustedProxies.parse("none") == .none)
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies.parse("10.0.0.0/33") }
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies.parse("example.org") }
    }

    @Test("buckets refill at the rate and never hold more than the burst")
    func refill() {
        let limiter = RateLimiter(rate: 2, burst: 4)
        let start = ContinuousClock.now
        for _ in 0..<4 { #expect(limiter.take("t", now: start) == nil) }
        #expect(limiter.take("t", now: start) == 1)
        #expect(limiter.take("t", now: start + .milliseconds(500)) == nil, "half a second at 2/s gives one request")
        #expect(limiter.take("t", now: start + .milliseconds(500)) != nil)
        // A long pause refills to the burst, not beyond.
        let later = start + .seconds(60)
        for _ in 0..<4 { #expect(limiter.take("t", now: later) == nil) }
        #expect(limiter.take("t", now: later) != nil)
        #expect(RateLimiter(rate: 0).take("t") == nil, "0 turns limiting off")
    }

    @Test("a known path asked with another method is 405 with Allow; an unknown path stays 404")
    func methodNotAllowed() async throws {
        let fixture = try await SyncFixture.make()
        try await fixture.application().test(.router) { client in
            let wrong = try await client.send(.delete, "/v1/sync/push", token: nil)
            #expect(wrong.status == .methodNotAllowed && wrong.errorCode == "method_not_allowed")
            #expect(wrong.headers[.allow] == "POST")
            let entry = try await client.send(.post, "/v1/entries/\(UUID().uuidString)", token: nil)
            #expect(entry.status == .methodNotAllowed && entry.headers[.allow] == "GET")
            #expect(try await client.send(.get, "/v1/nothing-here", token: nil).status == .notFound)
            #expect(try await client.send(.get, "/v1/sync/pull", token: nil).status == .unauthorized, "known routes are untouched")
        }
        await fixture.close()
    }
}
