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
        let app = buildApplication(http: HTTPConfiguration(host: "127.0.0.1", port: 0), pool: fixture.pool, tokenKey: TestTokenKey.key, logger: Logger(label: "test"), rateLimiter: limiter)
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
