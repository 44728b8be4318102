import Foundation
import HTTPTypes
import Hummingbird
import SquadCore
import Synchronization

/// Token buckets per bearer token, kept in this daemon's memory: each token may make
/// `rate` requests a second on average and `burst` at once; past that it gets 429 with
/// `Retry-After`. Several daemons each allow the rate (an approximate limit, as at most
/// services of this kind); the database is never touched to count.
///
/// Keys are the token itself, held only in memory and never logged. Idle buckets are
/// dropped, and the table never holds more than `maximumKeys`.
public final class RateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    static let maximumKeys = 100_000

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[String: Bucket]>([:])

    /// - Parameter rate: requests per second per token; 0 turns limiting off.
    public init(rate: Double, burst: Double? = nil) {
        self.rate = rate
        self.burst = burst ?? max(1, rate * 2)
    }

    /// Takes one request from `key`'s bucket: nil when allowed, else the seconds until one is.
    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        guard rate > 0 else { return nil }
        return buckets.withLock { buckets -> Int? in
            if buckets.count >= Self.maximumKeys { Self.prune(&buckets, now: now, burst: burst, rate: rate) }
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }

    /// Drops buckets that have refilled (their owners are idle); if none have, the oldest half.
    private static func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, burst: Double, rate: Double) {
        let full = Duration.seconds(burst / rate)
        buckets = buckets.filter { now - $0.value.updated < full }
        if buckets.count >= maximumKeys {
            let sorted = buckets.sorted { $0.value.updated < $1.value.updated }
            buckets = Dictionary(uniqueKeysWithValues: sorted.suffix(maximumKeys / 2).map { ($0.key, $0.value) })
        }
    }
}

/// Applies the limits: every request to its client address's bucket (the peer, or what a
/// trusted proxy says in `X-Forwarded-For`), so guessing tokens or flooding without one is
/// bounded too; then requests with a bearer token to that token's bucket.
struct RateLimitMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let limiter: RateLimiter
    let addressLimiter: RateLimiter
    let trusted: TrustedProxies
    static var forwardedFor: HTTPField.Name { HTTPField.Name("X-Forwarded-For")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if addressLimiter.rate > 0,
           let client = trusted.client(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: Self.forwardedFor]),
           let wait = addressLimiter.take(client) {
            throw APIError(.tooManyRequests, "rate_limited", "too many requests from this address; retry after \(wait) s", retryAfterSeconds: wait)
        }
        if case .success(let token) = BearerToken.parse(request.headers[.authorization]), let wait = limiter.take(token) {
            throw APIError(.tooManyRequests, "rate_limited", "too many requests for this token; retry after \(wait) s", retryAfterSeconds: wait)
        }
        return try await next(request, context)
    }
}
