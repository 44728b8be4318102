import Foundation
import Hummingbird
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The request context of the daemon: Hummingbird's basic one plus the peer's address,
/// for per-address rate limits and the access log.
public struct SquadRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer (the proxy, when there is one); nil in router tests.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Addresses whose `X-Forwarded-For` is believed (`--trusted-proxies`): single addresses
/// or CIDR blocks, IPv4 or IPv6.
public struct TrustedProxies: Sendable, Equatable {
    struct Block: Sendable, Equatable {
        var bytes: [UInt8]
        var prefix: Int
    }

    let blocks: [Block]

    /// Only this machine (a reverse proxy on the same host, as in Deploy/proxy).
    public static let loopback = try! TrustedProxies.parse("127.0.0.1,::1")
    public static let none = TrustedProxies(blocks: [])

    /// Parses `127.0.0.1,::1,10.0.0.0/8`; empty or `none` trusts nobody.
    public static func parse(_ text: String) throws -> TrustedProxies {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "none" }
        return TrustedProxies(blocks: try items.map { item in
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.bytes(parts[0]) else { throw TrustedProxiesError(item: item, reason: "not an IPv4 or IPv6 address") }
            let prefix: Int
            if parts.count == 2 {
                guard let value = Int(parts[1]), (0...(bytes.count * 8)).contains(value) else {
                    throw TrustedProxiesError(item: item, reason: "the prefix length must be 0 to \(bytes.count * 8)")
                }
                prefix = value
            } else {
                prefix = bytes.count * 8
            }
            return Block(bytes: bytes, prefix: prefix)
        })
    }

    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address) else { return false }
        return blocks.contains { block in
            guard block.bytes.count == bytes.count else { return false }
            var remaining = block.prefix
            for (a, b) in zip(block.bytes, bytes) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if a & mask != b & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    /// The client a request comes from: the peer, unless the peer is trusted, in which
    /// case the right-most address of `X-Forwarded-For` that is not itself trusted (a
    /// client can write anything to the left of what its proxy appended).
    public func client(peer: String?, forwardedFor: [String]) -> String? {
        guard let peer else { return nil }
        guard contains(peer) else { return peer }
        let chain = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for address in chain.reversed() {
            guard Self.bytes(address) != nil else { return peer }
            if !contains(address) { return address }
        }
        return chain.first ?? peer
    }

    /// The address in network order (4 or 16 bytes), or nil.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

public struct TrustedProxiesError: Error, CustomStringConvertible, Sendable {
    public let item: String
    public let reason: String
    public var description: String { "'\(item)': \(reason)" }
}
