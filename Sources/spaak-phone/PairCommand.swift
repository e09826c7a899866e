import ArgumentParser
import Foundation
import KeyM
import PhoneSimulator
import SocketCAN
import SpaakCore
import TestPKI

/// `spaak-phone pair`.
struct Pair: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tap the phone on the reader: phase 2 (SPAKE2+, [K], endpoint key), then phase 3 (AUTH0/AUTH1).",
        discussion: """
            The reader sends NFC_Status every 100 ms; a tap sets DevicePresent, the phone stays in \
            the field for the whole session and leaves after it, with the pauses of a real user \
            between taps. The phone answers the module's command APDUs (ICD 8.3) and prints each \
            step; SPAAK_Status bytes 6 and 7 tell it what the module decided.

            Before phase 2, open the pairing window: `spaak-phone hu-start` (HU_Request) or the \
            VOS's OwnerPairingModeRequest.

            The password for phase 2: --password (given by hand), or from the VOS's owner services \
            as the owner's app gets it: --api URL --token JWT (an owner token, `spaak-cloud token \
            --role owner`) with --vin VIN (OP-01a: POST …/pairing-password, then the confirmation \
            of receipt with its delivery id) or with --deep-link 'spaak://pair?vin=…&token=…' (the \
            one-time link of the app or of the VOS's e-mail: POST /v1/pairing-links/redemption). \
            The delivery makes the VOS send OwnerPairingModeRequest 0x0E, which opens the pairing \
            window: the phone then waits, up to --timeout, until SPAAK_Status byte 7 shows 1 before \
            the first tap. A refusal of the VOS (an RFC 9457 problem document) is printed as \
            `spaak-phone: <status> <reason>: <detail>` (exit status 1); no answer at all is retried \
            for the password request and the confirmation (the VOS answers them the same again), \
            never for a redemption (exit status 2). The password is never printed.

            --key FILE is the phone's state, PEM text, mode 0600, created with a new P-256 endpoint \
            key when it does not exist: a PKCS#8 "PRIVATE KEY" block (the endpoint key pair, whose \
            public half becomes the owner key) and, after phase 2, a "CERTIFICATE" block with [K] \
            of the paired vehicle (phase 3 verifies the vehicle's signature with it).

            --pki DIR is the folder of `spaak-pki init`: the phone trusts DIR/J.der as [J] and \
            accepts [K] only when it chains to it through the [J1] that WRITE DATA carries.

            The phone derives w0/w1 (scrypt with the salt, N, r, p of SPAKE2+ REQUEST) on a worker \
            thread, once per parameter set: NFC_Status keeps its 100 ms cycle meanwhile, and the \
            answer goes out when scrypt is done; the module allows 5 s for it (the log says how long \
            scrypt took). After a phase 2 session that failed once the module had sent SPAKE2+ \
            REQUEST (a failed attempt), the next tap waits, up to --timeout, until SPAAK_Status \
            byte 6 shows the count, so that a late count is not taken for a failure of the next tap.

            The module sends each command as soon as the previous answer arrived, and learns of a \
            removal from the next NFC_Status (within 100 ms): leaving after answering SELECT usually \
            lets SPAKE2+ REQUEST go out first (a failed attempt, ICD 8.3); --remove-before \
            spake2-request does too, --remove-before select does not.

            Steps for --remove-after and --remove-before: \(PairingStep.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Option(help: "SocketCAN interface.") var interface = "vcan0"
    @Option(help: "The pairing password (from the VOS; `spaak-cloud ctl SOCKET password SERIAL`). Phase 2 needs it or --api.")
    var password: String?
    @Option(help: ArgumentHelp("The VOS's owner services (`spaak-cloud serve --http`): get the password from there (with --vin or --deep-link).",
                               valueName: "URL"))
    var api: String?
    @Option(help: ArgumentHelp("The owner's bearer token for --api (`spaak-cloud token --user U --role owner`).", valueName: "JWT"))
    var token: String?
    @Option(help: "OP-01a: request the password of this vehicle from --api and confirm its receipt.") var vin: String?
    @Option(help: ArgumentHelp("OP-01a/b: redeem this one-time link (spaak://pair?vin=…&token=…) at --api for the password.",
                               valueName: "LINK"))
    var deepLink: String?
    @Option(help: "The PKI folder of `spaak-pki init`: [J] is read from DIR/J.der. Needed for phase 2.") var pki: String?
    @Option(help: "The phone's state file (endpoint key, then [K]); created if missing, mode 0600.") var key = "phone.key"
    @Option(help: "Friendly name sent with the endpoint key (at most 32 bytes of UTF-8).") var name = "spaak-phone"
    @Option(help: "Which sessions to run: 2, 3 or both.") var phase = "both"
    @Option(help: "Taps allowed per phase: a failed session is retried by leaving and tapping again (e.g. 8 with --wrong-password).")
    var attempts = 1
    @Option(help: ArgumentHelp("Leave the field right after answering STEP (its response is on the bus first).", valueName: "STEP"))
    var removeAfter: String?
    @Option(help: ArgumentHelp("Leave the field when STEP's command arrives, without answering it.", valueName: "STEP"))
    var removeBefore: String?
    @Flag(help: "Derive w0/w1 from a different password (the last digit moved by one): confirmV fails, 69 82.")
    var wrongPassword = false
    @Option(help: "Seconds to wait for the module's next command after a tap or an answer, for SPAAK_Status to confirm a phase, for byte 6 to count a failed attempt before the next tap, and (--api) for the pairing window before the first tap.")
    var timeout = 6.0
    @Option(help: "Seconds the phone is away between two taps.") var gap = 1.5
    @Option(help: "NFC_Status id (hex, default 3B0), sent.", transform: hexIdentifier) var nfcStatusId: UInt32 = 0x3B0
    @Option(help: "Command APDU ISO-TP id (hex, default 6B0), received.", transform: hexIdentifier) var commandId: UInt32 = 0x6B0
    @Option(help: "Response APDU ISO-TP id (hex, default 6B8), sent.", transform: hexIdentifier) var responseId: UInt32 = 0x6B8
    @Option(help: "SPAAK_Status id (hex, default 3A8), received.", transform: hexIdentifier) var statusId: UInt32 = 0x3A8

    var phases: [PairingPhase] {
        switch phase {
        case "2": return [.two]
        case "3": return [.three]
        default: return [.two, .three]
        }
    }

    func validate() throws {
        guard ["2", "3", "both"].contains(phase) else { throw ValidationError("--phase must be 2, 3 or both") }
        guard (1...1000).contains(attempts) else { throw ValidationError("--attempts must be 1…1000") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        guard gap >= 0.2, gap <= 3600 else { throw ValidationError("--gap must be 0.2…3600 seconds (the module must see the field empty)") }
        guard name.utf8.count <= 32 else { throw ValidationError("--name is \(name.utf8.count) bytes of UTF-8, at most 32") }
        for (option, value) in [("--remove-after", removeAfter), ("--remove-before", removeBefore)] {
            if let value, PairingStep(rawValue: value) == nil {
                throw ValidationError("\(option) must be one of \(PairingStep.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        try validateAPI()
        if phases.contains(.two) {
            guard api != nil || !(password ?? "").isEmpty else {
                throw ValidationError("phase 2 needs --password, or --api with --vin or --deep-link")
            }
            guard pki != nil else { throw ValidationError("phase 2 needs --pki (the folder with J.der)") }
        }
    }

    func run() throws {
        let ids = PhoneBusIDs(nfcStatus: nfcStatusId, command: commandId, response: responseId, spaakStatus: statusId)
        let socket: CANSocket
        let stateFile: PhoneStateFile
        do {
            try checkPKI()
            socket = try CANSocket(interface: interface, filter: ids.received)
            stateFile = try loadState()
        } catch {
            complain("\(error)")
            throw PhoneExit.setup
        }
        defer { socket.close() }
        let runner = PhoneRunner(socket: socket, keyFile: stateFile)
        var password = self.password
        if api != nil {
            password = try passwordFromVOS()
        }
        let device: PhoneDevice
        do {
            device = try makeDevice(stateFile: stateFile, password: password)
        } catch {
            complain("\(error)")
            throw PhoneExit.setup
        }
        if api != nil {
            try awaitWindow(runner)
        }
        let plan = PhoneRunPlan(phases: phases, attempts: attempts, removeAfter: removeAfter.flatMap(PairingStep.init(rawValue:)),
                                removeBefore: removeBefore.flatMap(PairingStep.init(rawValue:)),
                                timeout: timeoutDuration,
                                timing: TapTiming(gap: .milliseconds(Int64(gap * 1000))))
        let result: PhoneRunResult?
        do {
            result = try runner.run { now in
                PhoneRun(plan: plan, device: device, ids: ids, now: now)
            }
        } catch {
            complain("\(error)")
            throw PhoneExit.setup
        }
        switch result {
        case .paired?: throw PhoneExit.paired
        case .failed?, nil: throw PhoneExit.failed
        }
    }

    /// `--timeout` as a duration.
    var timeoutDuration: Duration { .milliseconds(Int64(timeout * 1000)) }

    /// The PKI folder holds a usable [J] (checked before anything is created).
    private func checkPKI() throws {
        _ = try trustedRoot()
    }

    /// [J] from `--pki`, `nil` without the option.
    private func trustedRoot() throws -> VehicleTrust? {
        guard let pki else { return nil }
        let url = URL(fileURLWithPath: pki).appendingPathComponent("J.der")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PhoneSetupError("\(url.path) is missing: --pki must be a folder made by `spaak-pki init`")
        }
        let der = try TestPKIFiles.read(url)
        do {
            return try VehicleTrust(rootDER: der, date: Date())
        } catch {
            throw PhoneSetupError("\(url.path) is no usable [J]: \(error)")
        }
    }

    /// Reads (or creates) the phone's state file; prints what the phone is and trusts.
    private func loadState() throws -> PhoneStateFile {
        let trust = try trustedRoot()
        let (stateFile, created) = try PhoneStateFile.loadOrCreate(key)
        let endpoint = stateFile.contents.endpointKey
        let keyID = OwnerKeyID.text(of: Array(endpoint.publicKey.x963Representation))
        print("spaak-phone: \(created ? "created" : "read") \(key): endpoint key \(keyID) \"\(name)\""
              + (stateFile.contents.vehicleCertificate != nil ? ", [K] of a paired vehicle" : ""))
        if let trust, let pki { print("spaak-phone: trusts [J] \(trust.rootSubject) from \(pki)/J.der") }
        if phases == [.three], stateFile.contents.vehicleCertificate == nil {
            throw PhoneSetupError("\(key) holds no [K]: this phone has not completed phase 2 with a vehicle (run --phase 2 or both)")
        }
        return stateFile
    }

    /// The phone with `password` (phase 2); prints what the reader does.
    private func makeDevice(stateFile: PhoneStateFile, password: String?) throws -> PhoneDevice {
        let trust = try trustedRoot()
        var secrets: PasswordSecrets?
        if let password {
            let bytes = Array(password.utf8)
            secrets = PasswordSecrets(password: wrongPassword ? PasswordSecrets.wrongPassword(for: bytes) : bytes)
            if wrongPassword { print("spaak-phone: --wrong-password: deriving w0/w1 from another password") }
        }
        let configuration = PhoneDevice.Configuration(password: secrets, trust: trust, endpointKey: stateFile.contents.endpointKey,
                                                      friendlyName: name, vehicleCertificate: stateFile.contents.vehicleCertificate)
        print("spaak-phone: reader on \(interface): NFC_Status 0x\(CANFrame.hexText(nfcStatusId)) every 100 ms, "
              + "APDUs 0x\(CANFrame.hexText(commandId)) → phone → 0x\(CANFrame.hexText(responseId)); "
              + "\(phases.map(\.description).joined(separator: " then "))"
              + (attempts > 1 ? ", up to \(attempts) taps each" : "")
              + (removeAfter.map { ", leaving after \($0)" } ?? "") + (removeBefore.map { ", leaving before \($0)" } ?? ""))
        return PhoneDevice(configuration: configuration)
    }
}
