import ArgumentParser
import CloudSimulator
import EventLoop
import Foundation
import GSDP
import SpaakCore

/// `spaak-cloud tbm`: one vehicle's TBM as its own process, reaching the VOS over GSDP
/// (WebSocket): `TBM_Status` following the connection, the ISO-TP bridge relayed both ways.
struct TBMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tbm",
        abstract: "Run one vehicle's TBM on a CAN interface, connected to the VOS over GSDP (WebSocket).",
        discussion: """
            TBM_Status bit 0 (GsdpConnected) is set while the WebSocket is up, bit 1 \
            (SpaakTopicSubscribed) once the VOS answered the hello with a welcome; only then are \
            messages relayed. On a close the next URL of --vos is tried after a back-off (0.5 s \
            doubling to 8 s, ±20 %). Control socket: tbm online|offline|unsubscribe|silent, status.
            """)

    @Option(help: "SocketCAN interface.") var interface = "vcan0"
    @Option(help: "The VOS instances' GSDP URLs, comma-separated (ws://HOST:PORT/gsdp/v1/spaak), tried in turn.")
    var vos: String
    @Option(help: "The module's serial, announced in the hello (optional: the VOS binds serials it authenticates).")
    var serial: String?
    @Option(help: "The TBM's name in the hello and the logs (default tbm-<interface>).") var name: String?
    @Option(help: "Control socket path (default ./spaak-tbm-<interface>.sock).") var control: String?
    @Option(help: "Append the trace as JSON lines to this file.") var trace: String?
    @Option(help: "Descriptor that receives READY=1 once the CAN and control sockets are open and the loop runs (not waiting for the VOS).")
    var readyFd: Int32?
    @Flag(help: "Use CAN FD (64-byte frames) on the ISO-TP channel.") var canFd = false
    @Option(help: "TBM_Status id (hex, default 3A0).", transform: HexID.parse) var tbmStatusId: UInt32 = 0x3A0
    @Option(help: "Vehicle-to-cloud ISO-TP id (hex, default 6A0), received.", transform: HexID.parse) var v2cId: UInt32 = 0x6A0
    @Option(help: "Cloud-to-vehicle ISO-TP id (hex, default 6A8), sent.", transform: HexID.parse) var c2vId: UInt32 = 0x6A8
    @Option(help: "Index (0-based) of the first URL to try (default: a hash of --serial, else of the name, modulo the URL count).")
    var firstVos: Int?

    /// The URLs of `--vos`.
    var urls: [String] { vos.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    /// The TBM's name.
    var tbmName: String { name ?? "tbm-\(interface)" }

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("--vos needs at least one URL") }
        for url in urls where !(url.hasPrefix("ws://") || url.hasPrefix("wss://")) {
            throw ValidationError("--vos: '\(url)' is not a ws:// URL")
        }
        if let firstVos, firstVos < 0 { throw ValidationError("--first-vos must be ≥ 0") }
        if let serial, serial.isEmpty { throw ValidationError("--serial must not be empty") }
        if let readyFd {
            do { _ = try ReadinessNotifier(descriptor: readyFd) } catch { throw ValidationError("--ready-fd: \(error)") }
        }
    }

    /// FNV-1a of `text`: the same first URL for the same vehicle in every run (Swift's
    /// `hashValue` is seeded per process).
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    func run() throws {
        do {
            let first = firstVos ?? Int(Self.stableHash(serial ?? tbmName) % UInt64(urls.count))
            let configuration = TBMRunner.Configuration(
                name: tbmName, serials: serial.map { [$0] } ?? [], urls: urls, firstIndex: first % urls.count,
                interface: interface, canFD: canFd, statusID: tbmStatusId, v2cID: v2cId, c2vID: c2vId,
                controlPath: control ?? "./spaak-tbm-\(interface).sock")
            let runner = TBMRunner(configuration: configuration, trace: try trace.map { try TraceWriter(path: $0) },
                                   readiness: try readyFd.map { try ReadinessNotifier(descriptor: $0) })
            try runner.run()
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("spaak-cloud tbm: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
