import ArgumentParser
import CloudSimulator
import EventLoop
import Foundation
import OwnerAPI
import OwnerServices
import SocketCAN
import SpaakCore
import TestPKI

/// `spaak-cloud`: the simulated TBM and Vehicle OEM Server on a SocketCAN bus.
@main
struct SpaakCloudCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaak-cloud",
        abstract: "Simulated TBM and Vehicle OEM Server (VOS, KTS) for the SpaaK module.",
        discussion: """
            `serve` sends TBM_Status (0x3A0) every 100 ms and relays the module's cloud messages \
            (ISO-TP 0x6A0/0x6A8) to a simulated VOS that keeps its state in SQLite; `ctl` sends it \
            commands; `register-ecu` registers ECU identity certificates in the database. With \
            `serve --http ADDRESS` the VOS's owner services (OP-01a/b) answer over HTTP (OpenAPI at \
            /openapi.yaml, customer portal at /portal); `token` makes the bearer tokens they take.
            """,
        subcommands: [Serve.self, Ctl.self, RegisterECU.self, TokenCommand.self, BenchScrypt.self, BenchBackend.self, TBMCommand.self, VOSCommand.self])
}

/// `spaak-cloud serve`.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the TBM and the VOS on a CAN interface.")

    @Option(help: "SocketCAN interface.") var interface = "vcan0"
    @Option(help: "The PKI directory made by `spaak-pki init` (signs [K] under [J1], VOS and ZZ2 keys).") var pki: String
    @Option(help: "SQLite database (created if missing; survives restarts).") var db = "./spaak-cloud.sqlite"
    @Option(help: "Control socket path (Unix domain) for `spaak-cloud ctl`.") var control = "./spaak-cloud.sock"
    @Option(help: "Folder of ECU identity certificates <serial>.crt.der/.pem (the PKI output): registered at start, and looked up when an unknown serial speaks.")
    var ecuCerts: String?
    @Option(help: "Append the trace as JSON lines to this file.") var trace: String?
    @Option(help: "scrypt cost N of new verifiers (power of two).") var scryptN: UInt32 = 32768
    @Option(help: "scrypt block size r.") var scryptR: UInt16 = 8
    @Option(help: "scrypt parallelism p.") var scryptP: UInt16 = 1
    @Option(help: "Digits of a pairing password.") var passwordDigits = 8
    @Option(help: "Initial TBM link state: online, offline, unsubscribe, silent.") var tbm = "online"
    @Flag(help: "Use CAN FD (64-byte frames) on the ISO-TP channel.") var canFd = false
    @Option(help: "TBM_Status id (hex, default 3A0).", transform: HexID.parse) var tbmStatusId: UInt32 = 0x3A0
    @Option(help: "Vehicle-to-cloud ISO-TP id (hex, default 6A0), received.", transform: HexID.parse) var v2cId: UInt32 = 0x6A0
    @Option(help: "Cloud-to-vehicle ISO-TP id (hex, default 6A8), sent.", transform: HexID.parse) var c2vId: UInt32 = 0x6A8
    @Option(help: """
        Descriptor (≥ 3, open for writing, e.g. a pipe's write end) that receives READY=1 and a \
        newline (systemd notify syntax) once the CAN and control sockets are open and the \
        simulator enters its event loop; then it is closed (by exit, without READY=1, when it \
        fails to start). The "— ready" line is printed as well.
        """) var readyFd: Int32?
    @Option(help: """
        Serve the owner services (OP-01a/b, the customer portal) over HTTP on this loopback \
        address, e.g. 127.0.0.1:8080 ([::1]:8080, localhost:8080; port 0: the system picks one, \
        the line "HTTP on …" says which). Off when not given.
        """) var http: String?
    @Option(help: "The simulated identity provider's key (PEM, P-256, created 0600 when missing): checks bearer tokens, signs portal sessions.")
    var idpKey = "./spaak-idp.pem"
    @Option(help: "The Maildir the owner services' e-mails go to (default: the database's folder/mail).") var mailDir: String?
    @Flag(help: """
        No CAN interface: the VOS with its control socket and HTTP side only, the TBM offline; \
        anything for the vehicle (pushes, pairing mode requests) is refused with "no vehicle bus".
        """) var noBus = false
    @Option(help: """
        Set the CAN controller up before starting: stop it, set this bitrate (classic CAN, 10000 \
        to 1000000 bit/s) and --restart-ms when given, start it. Needs CAP_NET_ADMIN; refused on \
        a vcan. Without it the controller is left as it is (its state is only read).
        """) var bitrate: Int?
    @Option(help: """
        With --bitrate: the kernel's automatic restart after bus-off, in ms (0 to 60000); 0 leaves \
        the restart to the simulator. Default: the kernel's setting is kept.
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
        if try controllerSetup() != nil, noBus { throw ValidationError("--bitrate needs a CAN interface (not --no-bus)") }
        guard scryptN >= 2, scryptN & (scryptN - 1) == 0 else { throw ValidationError("--scrypt-n must be a power of two ≥ 2") }
        guard scryptR >= 1, scryptP >= 1 else { throw ValidationError("--scrypt-r and --scrypt-p must be ≥ 1") }
        guard (4...32).contains(passwordDigits) else { throw ValidationError("--password-digits must be 4…32") }
        guard (try? ControlCommand.parse("tbm \(tbm)")) != nil else { throw ValidationError("--tbm must be online, offline, unsubscribe or silent") }
        if let readyFd {
            do { _ = try ReadinessNotifier(descriptor: readyFd) } catch { throw ValidationError("--ready-fd: \(error)") }
        }
        if let http {
            do { _ = try HTTPListenAddress(parsing: http) } catch { throw ValidationError("--http: \(error)") }
        }
    }

    func run() throws {
        do {
            if let setup = try controllerSetup() {
                let line = try CANBusSetup.configure(interface, setup)
                print("spaak-cloud: \(line)")
            }
            let hierarchy = try TestPKIHierarchy.load(from: URL(fileURLWithPath: pki))
            let repository = try GRDBCloudRepository(path: db)
            let configuration = VOSConfiguration(scryptN: scryptN, scryptR: scryptR, scryptP: scryptP, passwordDigits: passwordDigits)
            let vos = VehicleOEMServer(hierarchy: hierarchy, repository: repository, configuration: configuration)
            let pool = VerifierPool(configuration: configuration)
            vos.verifierSource = { pool.take() }
            if let ecuCerts { ECUCertificateFolder(path: ecuCerts).register(with: vos) { print($0) } }
            var linkState: TBMLinkState
            if case .tbm(let state)? = try? ControlCommand.parse("tbm \(tbm)") { linkState = state } else { linkState = .online }
            if noBus { linkState = .offline }
            let isotp = TBMSimulator.isotpConfiguration(txID: c2vId, rxID: v2cId, canFD: canFd)
            let simulator = CloudSimulator(vos: vos, tbm: TBMSimulator(now: .zero, linkState: linkState, statusID: tbmStatusId, isotp: isotp))
            simulator.verifierReady = { pool.hasReady }
            let runner = CloudRunner(
                simulator: simulator,
                interface: noBus ? nil : interface, canFD: canFd, receiveIDs: [v2cId], controlPath: control,
                trace: try trace.map { try TraceWriter(path: $0) }, verifierPool: pool,
                readiness: try readyFd.map { try ReadinessNotifier(descriptor: $0) },
                http: try http.map { try httpSetup($0, repository: repository) })
            runner.tbmStatusID = tbmStatusId
            let bus = noBus ? "spaak-cloud without a vehicle bus (--no-bus): TBM offline"
                : "spaak-cloud on \(interface)\(canFd ? " (CAN FD)" : ""): TBM_Status 0x\(CANFrame.hexText(tbmStatusId)) "
                + "every 100 ms (\(linkState)), V2C 0x\(CANFrame.hexText(v2cId)) → VOS, C2V 0x\(CANFrame.hexText(c2vId))"
            try runner.run(banner: bus + ", db \(db), control \(control), scrypt N=\(scryptN) r=\(scryptR) p=\(scryptP)")
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("spaak-cloud: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// The owner services over `repository` (the VOS's), their key, mail outbox and portal.
    private func httpSetup(_ address: String, repository: GRDBCloudRepository) throws -> HTTPSetup {
        let key = try IdentityKeyFile.loadOrCreate(path: idpKey)
        if key.created { print("spaak-cloud: created the identity provider's key \(idpKey)") }
        let mail = mailDir ?? URL(fileURLWithPath: db).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("mail").path
        let services = OwnerServices(repository: repository, outbox: try MaildirOutbox(root: mail))
        print("spaak-cloud: owner services' e-mails go to the Maildir \(mail)")
        return HTTPSetup(address: try HTTPListenAddress(parsing: address), tokens: TokenAuthority(key: key.key), services: services,
                         installers: [try OwnerHTTPServer.portal()])
    }
}

/// `spaak-cloud ctl PATH COMMAND...`.
struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a command to a running `spaak-cloud serve`.",
        discussion: """
            Commands: tbm online|offline|unsubscribe|silent · push-verifier SERIAL · terminate-owner-key SERIAL · \
            pairing-mode SERIAL · \
            fault drop|delay MS|corrupt-signature|replay|wrong-transaction|wrong-type|error CODE [--count N] · \
            fault clear · password SERIAL · register-ecu FILE... · reset-counter SERIAL · status. \
            Prints the reply; exits 1 when the command was refused.
            """)

    @Argument(help: "The control socket of the server.") var path: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func run() throws {
        var words = command
        if words.first == "--" { words.removeFirst() }
        if words.first == "register-ecu" {
            // The server reads the files: send absolute paths.
            let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            words = [words[0]] + words.dropFirst().map { URL(fileURLWithPath: $0, relativeTo: cwd).standardizedFileURL.path }
        }
        let reply: String
        do {
            reply = try ControlClient.send(words.joined(separator: " "), to: path)
        } catch {
            FileHandle.standardError.write(Data("spaak-cloud ctl: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if reply == "ok" || reply.hasPrefix("ok ") || reply.hasPrefix("ok\n") {
            let text = String(reply.dropFirst(3))
            if !text.isEmpty { print(text) }
        } else {
            FileHandle.standardError.write(Data("\(reply)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// `spaak-cloud register-ecu --db FILE --pki DIR CERT...`.
struct RegisterECU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-ecu",
        abstract: "Register ECU identity certificates (DER or PEM, issued by the PKI's [J1]) in the database.")

    @Option(help: "The PKI directory made by `spaak-pki init`.") var pki: String
    @Option(help: "SQLite database (created if missing).") var db = "./spaak-cloud.sqlite"
    @Argument(help: "Certificate files, e.g. out/SPK0000000001.crt.der.") var certificates: [String]

    func run() throws {
        var failed = 0
        do {
            let hierarchy = try TestPKIHierarchy.load(from: URL(fileURLWithPath: pki))
            let vos = VehicleOEMServer(hierarchy: hierarchy, repository: try GRDBCloudRepository(path: db))
            for path in certificates {
                do {
                    let serial = try vos.registerECU(certificate: try CloudRunner.readFile(path), date: Date())
                    print("registered \(serial) from \(path)")
                } catch {
                    failed += 1
                    print("refused \(path): \(error)")
                }
            }
        } catch {
            FileHandle.standardError.write(Data("spaak-cloud: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if failed > 0 { throw ExitCode.failure }
    }
}

/// CAN identifiers on the command line (`6A0`, `0x6A0`).
enum HexID {
    static func parse(_ text: String) throws -> UInt32 {
        guard let value = CANFrame.standardIdentifier(hex: text) else {
            throw ValidationError("'\(text)' is not an 11-bit CAN identifier in hex (e.g. 6A0)")
        }
        return value
    }
}
