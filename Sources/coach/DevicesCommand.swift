import ArgumentParser
import Foundation
import Postgres
import SquadServer

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "Enroll, list, rotate and revoke athletes' devices.",
        subcommands: [Enroll.self, List.self, Rotate.self, Revoke.self]
    )

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll a device for an athlete and print its token once.",
            discussion: """
                The token is shown only now: the database keeps its lookup id and an HMAC-SHA256
                of its secret under the server key (--token-key-file). Put it in the
                app as `Authorization: Bearer <token>`.

                Example:
                  coach devices enroll ana --name "Ana's watch" --type watch
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The athlete's handle.") var handle: String
        @Option(help: "A name the athlete recognises, e.g. \"Ana's watch\".") var name: String
        @Option(help: "watch, phone, ring or other.") var type: String = "other"
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Enrolled: Encodable {
            var device: Device
            var token: String
        }

        func validate() throws {
            guard Device.types.contains(type) else { throw ValidationError("--type must be one of \(Device.types.joined(separator: ", "))") }
        }

        func run() async throws {
            let (handle, name, type) = (self.handle, self.name, self.type)
            let (device, token) = try await CommandContext.with(global) { context in
                let key = try context.configuration.tokenKey()
                return try await context.pool.withTransaction { try DeviceStore.enroll(handle: handle, name: name, type: type, key: key, on: $0) }
            }
            if json {
                try Output.json(Enrolled(device: device, token: token))
            } else {
                print("enrolled \(device.deviceType) '\(device.name)' for \(device.athleteHandle) (device \(device.id.uuidString.lowercased()))")
                print("token (shown once): \(token)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List devices with their last contact and last sync.",
            discussion: "Example:\n  coach devices list ana --json")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Only this athlete's devices.") var handle: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let handle = self.handle
            let devices = try await CommandContext.with(global) { context in
                try await context.pool.withConnection { try DeviceStore.list(handle: handle, on: $0) }
            }
            if json { try Output.json(devices); return }
            if devices.isEmpty { print("no devices yet: coach devices enroll HANDLE --name NAME --type watch"); return }
            Output.table(["ID", "ATHLETE", "NAME", "TYPE", "LAST SEEN", "LAST SYNC", "STATE"], devices.map {
                [$0.id.uuidString.lowercased(), $0.athleteHandle, $0.name, $0.deviceType, $0.lastSeenAt.map(Output.date) ?? "never",
                 $0.lastSyncAt.map(Output.date) ?? "never", $0.revokedAt == nil ? "active" : "revoked"]
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its token gets 403 from its next request on.",
            discussion: "Example:\n  coach devices revoke 3f0c2d1e-9b10-4c7e-8a51-0190f5e07c1e")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The device id (from coach devices list).") var id: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            guard let id = UUID(uuidString: self.id) else { throw UsageError(message: "'\(self.id)' is not a device id (a UUID)") }
            let device = try await CommandContext.with(global) { context in
                try await context.pool.withTransaction { try DeviceStore.revoke(id, on: $0) }
            }
            if json { try Output.json(device) } else { print("revoked '\(device.name)' of \(device.athleteHandle)") }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a device a new token; the old one keeps working for a grace period.",
            discussion: """
                For a token that may have leaked, or as routine. The new token is shown once;
                the old one is accepted for --grace-minutes more (0: refused at once), then 401.

                Example:
                  coach devices rotate 3f0c2d1e-9b10-4c7e-8a51-0190f5e07c1e --grace-minutes 10
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The device id (from coach devices list).") var id: String
        @Option(name: .customLong("grace-minutes"), help: ArgumentHelp("Minutes the old token still works.", valueName: "n")) var graceMinutes = 10
        @Flag(help: "Print JSON instead of text.") var json = false

        func validate() throws {
            guard (0...10_080).contains(graceMinutes) else { throw ValidationError("--grace-minutes: 0 to 10080 (a week)") }
        }

        func run() async throws {
            guard let id = UUID(uuidString: self.id) else { throw UsageError(message: "'\(self.id)' is not a device id (a UUID)") }
            let grace = graceMinutes * 60
            let (device, token) = try await CommandContext.with(global) { context in
                let key = try context.configuration.tokenKey()
                return try await context.pool.withTransaction { try DeviceStore.rotate(id, graceSeconds: grace, key: key, on: $0) }
            }
            if json {
                struct Rotated: Encodable { var device: Device; var token: String; var graceMinutes: Int
                    enum CodingKeys: String, CodingKey { case device, token, graceMinutes = "grace_minutes" } }
                try Output.json(Rotated(device: device, token: token, graceMinutes: graceMinutes))
                return
            }
            print("new token for '\(device.name)' of \(device.athleteHandle) (shown once; the old one works for \(graceMinutes) more minutes):")
            print(token)
        }
    }
}
