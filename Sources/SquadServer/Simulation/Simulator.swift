import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Postgres
import SquadCore

/// `coach simulate`: the reference device. Enrolls a watch and a phone per athlete,
/// generates their offline logs and pushes them in bursts over HTTP, with retries.
public enum Simulator {
    public struct Options: Sendable {
        /// The daemon's base URL; several separated by commas (daemons behind no load
        /// balancer) are picked at random for each push.
        public var server: String
        public var athletes: Int
        public var days: Int
        public var seed: UInt64
        /// The last simulated day, UTC midnight in milliseconds.
        public var endDayMillis: Int64
        public var concurrency: Int

        public init(server: String, athletes: Int, days: Int, seed: UInt64, endDayMillis: Int64, concurrency: Int = 8) {
            self.server = server
            self.athletes = athletes
            self.days = days
            self.seed = seed
            self.endDayMillis = endDayMillis
            self.concurrency = concurrency
        }
    }

    /// What happened, for the closing summary and `--json`.
    public struct Report: Sendable, Encodable {
        public var athletes = 0
        public var days = 0
        public var ops = 0
        public var pushes = 0
        public var retries = 0
        public var resent = 0
        public var statuses: [String: Int] = [:]
        public var http4xx = 0
        public var http5xx = 0
        public var transportErrors = 0
        public var seconds = 0.0

        enum CodingKeys: String, CodingKey {
            case athletes, days, ops, pushes, retries, resent, statuses, seconds
            case http4xx = "http_4xx"
            case http5xx = "http_5xx"
            case transportErrors = "transport_errors"
        }

        mutating func merge(_ other: Report) {
            ops += other.ops
            pushes += other.pushes
            retries += other.retries
            resent += other.resent
            http4xx += other.http4xx
            http5xx += other.http5xx
            transportErrors += other.transportErrors
            statuses.merge(other.statuses, uniquingKeysWith: +)
        }
    }

    /// A deterministic token for a simulated device: simulated athletes are test data.
    static func token(seed: UInt64, handle: String, device: String) -> String {
        func hex(_ label: String) -> String { StableID.make("\(label)|\(seed)|\(handle)|\(device)").lowercasedText.replacingOccurrences(of: "-", with: "") }
        return DeviceToken.devicePrefix + String(hex("sim-lookup").prefix(16)) + "." + hex("sim-token") + hex("sim-token-2")
    }

    /// Creates the squad, athletes and devices in the database (idempotent for a seed).
    public static func prepare(_ options: Options, pool: ConnectionPool, key: TokenKey) async throws -> [SimulatedAthlete] {
        let athletes = (0..<options.athletes).map { SimulatedAthlete(index: $0, seed: options.seed, days: options.days, endDayMillis: options.endDayMillis) }
        let seed = options.seed
        try await pool.withTransaction { connection in
            let squad = "Simulation \(seed)"
            if try connection.query("SELECT 1 FROM squads WHERE lower(name) = lower(\(squad))").isEmpty {
                _ = try SquadStore.create(name: squad, on: connection)
            }
            for athlete in athletes {
                if try AthleteStore.find(handle: athlete.handle, on: connection) == nil {
                    _ = try AthleteStore.add(NewAthlete(
                        handle: athlete.handle, name: "Simulated \(athlete.handle)", squad: squad, timeZone: athlete.timeZone,
                        hrMax: athlete.hrMax, hrRest: athlete.hrRest, level: athlete.level), currentYear: 2100, on: connection)
                }
                for device in [athlete.watch, athlete.phone] {
                    _ = try DeviceStore.enroll(handle: athlete.handle, name: device.name, type: device.type,
                                               token: token(seed: seed, handle: athlete.handle, device: device.type), key: key, on: connection)
                }
            }
        }
        return athletes
    }

    /// Pushes every athlete's logs, day by day, in offline bursts.
    public static func run(_ options: Options, athletes: [SimulatedAthlete], logger: Logger, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Report {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let started = ContinuousClock.now
        var report = Report()
        do {
            report = try await withThrowingTaskGroup(of: Report.self) { group in
                var total = Report()
                var next = 0
                var finished = 0
                func start() {
                    let athlete = athletes[next]
                    next += 1
                    group.addTask { await simulate(athlete, options: options, client: client, logger: logger) }
                }
                while next < min(options.concurrency, athletes.count) { start() }
                while let one = try await group.next() {
                    total.merge(one)
                    finished += 1
                    progress(finished, athletes.count)
                    if next < athletes.count { start() }
                }
                return total
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        report.athletes = athletes.count
        report.days = options.days
        let elapsed = ContinuousClock.now - started
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }

    static func simulate(_ athlete: SimulatedAthlete, options: Options, client: HTTPClient, logger: Logger) async -> Report {
        var report = Report()
        var random = SeededRandom(seed: options.seed &+ UInt64(truncatingIfNeeded: athlete.handle.hashValueStable))
        var queues = [athlete.watch, athlete.phone].map { (device: $0, ops: $0.ops[...]) }
        var nextSync = queues.map { _ in Int.random(in: 0...2, using: &random) }
        var known: Set<String> = []
        for day in 0...options.days {
            for index in queues.indices where day == options.days || day >= nextSync[index] {
                nextSync[index] = day + Int.random(in: 1...4, using: &random)
                // Ops whose entry the server has (or that create it) go now; edits of entries the
                // other device has not sent yet wait, as a real phone could not have seen them.
                var ready: [JSONValue] = []
                var waiting: [SimulatedOp] = []
                for op in queues[index].ops where op.day <= day || day == options.days {
                    let entry = op.json["entry_id"]?.stringValue ?? ""
                    if op.json["op"] == .string("create") || known.contains(entry) || day == options.days {
                        ready.append(op.json)
                        known.insert(entry)
                    } else {
                        waiting.append(op)
                    }
                }
                let later = queues[index].ops.filter { !($0.day <= day || day == options.days) }
                queues[index].ops = (waiting + later)[...]
                let token = token(seed: options.seed, handle: athlete.handle, device: queues[index].device.type)
                var offset = 0
                while offset < ready.count {
                    let size = min(ready.count - offset, Int.random(in: 40...200, using: &random))
                    let batch = Array(ready[offset..<(offset + size)])
                    offset += size
                    let resend = Int.random(in: 0..<10, using: &random) == 0
                    await push(batch, token: token, server: options.server, client: client, report: &report, logger: logger)
                    if resend {
                        // A lost response: the device sends the same batch again.
                        report.resent += 1
                        await push(batch, token: token, server: options.server, client: client, report: &report, logger: logger, countOps: false)
                    }
                }
            }
        }
        return report
    }

    static func push(_ ops: [JSONValue], token: String, server: String, client: HTTPClient, report: inout Report, logger: Logger, countOps: Bool = true) async {
        let body = JSONValue.object([
            "protocol": .int(1), "device_clock": .string(ISOInstant.format(Date())), "ops": .array(ops),
        ]).canonicalText
        for attempt in 0..<6 {
            if attempt > 0 {
                report.retries += 1
                try? await Task.sleep(for: .milliseconds(100 * (1 << attempt)))
            }
            do {
                let servers = server.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let base = servers.randomElement() ?? server
                var request = HTTPClientRequest(url: base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/v1/sync/push")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await client.execute(request, timeout: .seconds(60))
                let data = try await response.body.collect(upTo: 16 * 1024 * 1024)
                report.pushes += 1
                switch response.status.code {
                case 200:
                    if countOps { report.ops += ops.count }
                    let json = try? StrictJSON.parse(Array(data.readableBytesView))
                    for result in json?["results"]?.arrayValue ?? [] {
                        report.statuses[result["status"]?.stringValue ?? "?", default: 0] += 1
                    }
                    return
                case 429:
                    // Rate limited: wait as told, then send the same batch again.
                    report.retries += 1
                    let wait = response.headers.first(name: "Retry-After").flatMap(Int.init) ?? 1
                    try? await Task.sleep(for: .seconds(min(wait, 30)))
                    return await push(ops, token: token, server: server, client: client, report: &report, logger: logger, countOps: countOps)
                case 500...:
                    report.http5xx += 1
                    logger.warning("push answered \(response.status.code); retrying", metadata: ["body": "\(String(buffer: data).prefix(200))"])
                default:
                    report.http4xx += 1
                    logger.error("push refused", metadata: ["status": "\(response.status.code)", "body": "\(String(buffer: data).prefix(300))"])
                    return
                }
            } catch {
                report.transportErrors += 1
                logger.warning("push failed; retrying", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: Int {
        Int(truncatingIfNeeded: utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
    }
}
