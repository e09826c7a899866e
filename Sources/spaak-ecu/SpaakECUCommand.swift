import ArgumentParser
import EventLoop
import Logging
import SecureStore
import SocketCAN
import SpaakCore
import SpaakECU

/// `spaak-ecu`: the simulated SpaaK module. Without a subcommand it runs the module
/// (`run`, the default), so `spaak-ecu --serial S --store DIR` works as it always did;
/// `recreate-store` is the explicit recovery of a store that cannot be used.
@main
struct SpaakECUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaak-ecu",
        abstract: "Simulated SpaaK module (Smartphone-as-a-Key ECU) on a SocketCAN bus.",
        discussion: """
            Without a subcommand, runs the module (`run`, the default): `spaak-ecu --serial S \
            --store DIR ...`; `spaak-ecu help run` lists its options. `spaak-ecu recreate-store` \
            replaces a damaged store by a new empty one, keeping the old folder aside.
            """,
        subcommands: [RunModuleCommand.self, RecreateStoreCommand.self],
        defaultSubcommand: RunModuleCommand.self)
}

/// `spaak-ecu run` (the default subcommand): runs one simulated SpaaK module on a
/// SocketCAN interface.
struct RunModuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the simulated SpaaK module (the default when no subcommand is given).",
        discussion: """
            Sends SPAAK_Status (0x3A8) every 100 ms, supervises TBM_Status (0x3A0), answers UDS \
            on 0x7A0/0x7A8 (functional 0x7DF) and talks to the cloud through the TBM on \
            0x6A0/0x6A8, as ../shared/spec/ICD.md defines. Stop it with Ctrl-C (SIGINT) or SIGTERM.
            """)

    @Option(help: "SocketCAN interface.") var interface = "vcan0"
    @Option(help: "ECU serial number (DID 0xF18C, CN of the ECU identity CSR).") var serial = "SPK0000000001"
    @Option(help: "VIN (17 characters) known at start; otherwise written by the plant over UDS.") var vin: String?
    @Option(help: "Secure store directory (created if missing).") var store = "./spaak-store"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    @Option(help: "UDS physical request id (hex).", transform: CANIdOption.parse) var udsRequestId: UInt32 = 0x7A0
    @Option(help: "UDS response id (hex); default: request id + 8.", transform: CANIdOption.parse) var udsResponseId: UInt32?
    @Option(help: "UDS functional request id (hex).", transform: CANIdOption.parse) var udsFunctionalId: UInt32 = 0x7DF
    @Option(help: "TBM_Status id (hex).", transform: CANIdOption.parse) var tbmStatusId: UInt32 = 0x3A0
    @Option(help: "SPAAK_Status id (hex).", transform: CANIdOption.parse) var spaakStatusId: UInt32 = 0x3A8
    @Option(help: "Vehicle-to-cloud ISO-TP id (hex).", transform: CANIdOption.parse) var v2cId: UInt32 = 0x6A0
    @Option(help: "Cloud-to-vehicle ISO-TP id (hex).", transform: CANIdOption.parse) var c2vId: UInt32 = 0x6A8
    @Option(help: "NFC_Status id of the NFC reader (hex).", transform: CANIdOption.parse) var nfcStatusId: UInt32 = 0x3B0
    @Option(help: "HU_Request id of the head unit (hex).", transform: CANIdOption.parse) var huRequestId: UInt32 = 0x3C0
    @Option(help: "ISO-TP id of the command APDUs to the device (hex).", transform: CANIdOption.parse)
    var apduCommandId: UInt32 = 0x6B0
    @Option(help: "ISO-TP id of the response APDUs from the device (hex).", transform: CANIdOption.parse)
    var apduResponseId: UInt32 = 0x6B8

    @Flag(help: "Use CAN FD (64-byte frames) on the ISO-TP channels.") var canFd = false
    @Option(help: "Block size the module asks for in its flow control.") var blockSize: UInt8 = 0
    @Option(help: "STmin the module asks for in its flow control (ISO 15765-2 byte, e.g. 5 or 0xF3).",
            transform: { try CANIdOption.parseByte($0) }) var stmin: UInt8 = 0
    @Option(help: "Simulated secure-element latency for key generation, in ms (> 50 exercises NRC 0x78).")
    var hsmLatencyMs: Int = 0
    @Option(help: """
        K_plant for security access, 32 hex digits. Every local user sees it in ps: prefer \
        --plant-key-file or the environment variable SPAAK_PLANT_KEY.
        """) var plantKey: String?
    @Option(help: """
        File holding K_plant: 32 hex digits (an ending newline allowed) or 16 raw bytes. \
        Precedence: --plant-key-file or --plant-key (not both), then SPAAK_PLANT_KEY, then the \
        test key 000102...0F.
        """) var plantKeyFile: String?
    @Option(help: """
        File holding the secret (16 to 4096 raw bytes) the store's device key is derived from, \
        kept away from the store; default: a key generated into device.key inside the store.
        """) var deviceKeyFile: String?
    @Option(help: """
        File of the store's monotonic counter (detects a rollback of the whole store folder); \
        default: .<store name>.counter beside the store folder.
        """) var monotonicCounterFile: String?
    @Option(help: """
        Descriptor (≥ 3, open for writing, e.g. a pipe's write end) that receives READY=1 and a \
        newline (systemd notify syntax) once the CAN socket is open and the module enters its \
        event loop; then it is closed. A module that fails to start closes it by exiting, \
        without READY=1. The "— ready" line is printed as well.
        """) var readyFd: Int32?
    @Option(help: """
        Set the CAN controller up before starting: stop it, set this bitrate (classic CAN, 10000 \
        to 1000000 bit/s) and --restart-ms when given, start it. Needs CAP_NET_ADMIN; refused on \
        a vcan. Without it the controller is left as it is (its state is only read).
        """) var bitrate: Int?
    @Option(help: """
        With --bitrate: the kernel's automatic restart after bus-off, in ms (0 to 60000); 0 leaves \
        the restart to the module. Default: the kernel's setting is kept.
        """) var restartMs: Int?

    /// The controller setup asked for (`--bitrate`, `--restart-ms`), nil when none.
    func controllerSetup() throws -> CANControllerSetup? {
        do {
            return try CANControllerSetup.validated(bitrate: bitrate, restartMilliseconds: restartMs)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        _ = try controllerSetup()
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        _ = try secrets()
        if let vin, vin.utf8.count != 17 || !vin.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            throw ValidationError("--vin must be 17 printable ASCII characters")
        }
        guard !serial.isEmpty, serial.utf8.count <= 32, serial.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ValidationError("--serial must be 1 to 32 printable ASCII characters")
        }
        guard hsmLatencyMs >= 0, hsmLatencyMs <= 60_000 else { throw ValidationError("--hsm-latency-ms must be 0...60000") }
        do {
            _ = try CANIdentifiers.validated(udsRequest: udsRequestId, udsResponse: udsResponseId, udsFunctional: udsFunctionalId,
                                             tbmStatus: tbmStatusId, spaakStatus: spaakStatusId, v2c: v2cId, c2v: c2vId,
                                             nfcStatus: nfcStatusId, huRequest: huRequestId, apduCommand: apduCommandId,
                                             apduResponse: apduResponseId)
        } catch { throw ValidationError(error.description) }
        if let readyFd {
            do { _ = try ReadinessNotifier(descriptor: readyFd) } catch { throw ValidationError("--ready-fd: \(error)") }
        }
    }

    func run() throws {
        let resolved = try secrets()
        var ids = CANIdentifiers()
        ids.udsRequest = udsRequestId
        ids.udsResponse = udsResponseId ?? udsRequestId + 8
        ids.udsFunctional = udsFunctionalId
        ids.tbmStatus = tbmStatusId
        ids.spaakStatus = spaakStatusId
        ids.v2c = v2cId
        ids.c2v = c2vId
        ids.nfcStatus = nfcStatusId
        ids.huRequest = huRequestId
        ids.apduCommand = apduCommandId
        ids.apduResponse = apduResponseId
        let config = ECUConfiguration(
            serial: serial, vin: vin, ids: ids, canFD: canFd, blockSize: blockSize, separationTime: stmin,
            hsmLatency: .milliseconds(hsmLatencyMs), plantKey: resolved.plantKey)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "spaak-ecu[\(serial)]")
        resolved.log(to: logger)
        if let setup = try controllerSetup() {
            do {
                let line = try CANBusSetup.configure(interface, setup)
                logger.notice("\(line)")
            } catch {
                print("spaak-ecu: \(error)")
                throw ExitCode.failure
            }
        }
        let runner = ModuleRunner(configuration: config, interface: interface, storePath: store, logger: logger)
        runner.deviceKey = resolved.deviceKey
        runner.counterPath = monotonicCounterFile ?? FileMonotonicCounter.defaultPath(forStore: store)
        runner.readiness = try readyFd.map { try ReadinessNotifier(descriptor: $0) }
        do {
            try runner.run()
        } catch {
            print("spaak-ecu: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Parsing of CAN identifiers and bytes given on the command line (`7A0`, `0x7A0`).
enum CANIdOption {
    static func parse(_ text: String) throws -> UInt32 {
        guard let value = CANFrame.standardIdentifier(hex: text) else {
            throw ValidationError("'\(text)' is not an 11-bit CAN identifier in hex (e.g. 7A0)")
        }
        return value
    }

    static func parseByte(_ text: String) throws -> UInt8 {
        let value: UInt8?
        if text.hasPrefix("0x") || text.hasPrefix("0X") { value = UInt8(text.dropFirst(2), radix: 16) } else { value = UInt8(text) }
        guard let value else { throw ValidationError("'\(text)' is not a byte (0-255 or 0x00-0xFF)") }
        return value
    }
}
