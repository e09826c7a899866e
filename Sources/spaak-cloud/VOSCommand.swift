import ArgumentParser
import CloudPostgres
import CloudSimulator
import EventLoop
import Foundation
import Glibc
import OwnerAPI
import OwnerServices
import TestPKI

/// `spaak-cloud vos`: the Vehicle OEM Server as a service that many TBMs (`spaak-cloud tbm`)
/// connect to over GSDP (WebSocket), one of several instances over one PostgreSQL database
/// (or alone over a SQLite file).
struct VOSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vos",
        abstract: "Run the VOS service: TBMs connect over GSDP (WebSocket); several instances share one PostgreSQL.",
        discussion: """
            Pushes (ctl push-verifier, terminate-owner-key, pairing-mode, the owner services' pairing mode \
            request) go to the database's C2V outbox and reach the vehicle through whichever instance holds \
            its TBM's connection (PostgreSQL LISTEN/NOTIFY on spaak_c2v). `ctl PATH stats` prints one line \
            of JSON with the instance's counters.
            """)

    @Option(help: "The PKI directory made by `spaak-pki init`.") var pki: String
    @Option(help: """
        postgres://USER[:PASSWORD]@HOST[:PORT]/DB (or postgresql://…; several instances may share it), \
        or a SQLite file (created if missing; one instance only).
        """) var database: String
    @Option(help: "This instance's name (the TBMs' welcome, stats; default vos-<pid>).") var instance: String?
    @Option(help: "Where the GSDP WebSocket endpoint listens, HOST:PORT (port 0: the system picks; the line \"GSDP on …\" says which).")
    var gsdp = "127.0.0.1:0"
    @Option(help: "Serve the owner services (OP-01a/b, the portal) over HTTP on this loopback address (as serve --http). Off when not given.")
    var http: String?
    @Option(help: "Control socket path (Unix domain) for `spaak-cloud ctl`.") var control = "./spaak-vos.sock"
    @Option(help: "Folder of ECU identity certificates <serial>.crt.der/.pem: registered at start, looked up for unknown serials.")
    var ecuCerts: String?
    @Option(help: "Append the trace as JSON lines to this file.") var trace: String?
    @Option(help: "Descriptor that receives READY=1 once the sockets are open and the loop runs (as serve --ready-fd).")
    var readyFd: Int32?
    @Option(help: "scrypt cost N of new verifiers (power of two).") var scryptN: UInt32 = 32768
    @Option(help: "scrypt block size r.") var scryptR: UInt16 = 8
    @Option(help: "scrypt parallelism p.") var scryptP: UInt16 = 1
    @Option(help: "Digits of a pairing password.") var passwordDigits = 8
    @Option(help: "The simulated identity provider's key (PEM, P-256, created 0600 when missing), with --http.")
    var idpKey = "./spaak-idp.pem"
    @Option(help: "The Maildir of the owner services' e-mails (default: ./spaak-vos-mail, or the SQLite file's folder/mail).")
    var mailDir: String?

    /// `true` when `--database` is a PostgreSQL URL.
    var isPostgres: Bool { database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") }

    func validate() throws {
        guard scryptN >= 2, scryptN & (scryptN - 1) == 0 else { throw ValidationError("--scrypt-n must be a power of two ≥ 2") }
        guard scryptR >= 1, scryptP >= 1 else { throw ValidationError("--scrypt-r and --scrypt-p must be ≥ 1") }
        guard (4...32).contains(passwordDigits) else { throw ValidationError("--password-digits must be 4…32") }
        do { _ = try HTTPListenAddress(parsing: gsdp) } catch { throw ValidationError("--gsdp: \(error)") }
        if let http {
            do { _ = try HTTPListenAddress(parsing: http) } catch { throw ValidationError("--http: \(error)") }
        }
        if let readyFd {
            do { _ = try ReadinessNotifier(descriptor: readyFd) } catch { throw ValidationError("--ready-fd: \(error)") }
        }
        if let instance, instance.isEmpty || instance.utf8.count > 64 { throw ValidationError("--instance must be 1…64 characters") }
    }

    func run() throws {
        do {
            let name = instance ?? "vos-\(getpid())"
            let hierarchy = try TestPKIHierarchy.load(from: URL(fileURLWithPath: pki))
            let postgres = isPostgres ? try PostgresCloudRepository(url: database) : nil
            let base: any CloudRepository = try postgres ?? GRDBCloudRepository(path: database)
            let clock = SystemClock()
            let repository = MeteredCloudRepository(base) { clock.now }
            let configuration = VOSConfiguration(scryptN: scryptN, scryptR: scryptR, scryptP: scryptP, passwordDigits: passwordDigits)
            let vos = VehicleOEMServer(hierarchy: hierarchy, repository: repository, configuration: configuration)
            let pool = VerifierPool(configuration: configuration)
            vos.verifierSource = { pool.take() }
            if let ecuCerts { ECUCertificateFolder(path: ecuCerts).register(with: vos) { print("spaak-cloud vos: \($0)") } }
            let service = VOSService(vos: vos, instance: name, now: clock.now)
            service.verifierReady = { pool.hasReady }
            let gsdpAddress = try HTTPListenAddress(parsing: gsdp)
            let runner = VOSRunner(
                service: service, gsdp: gsdpAddress, controlPath: control, trace: try trace.map { try TraceWriter(path: $0) },
                verifierPool: pool, readiness: try readyFd.map { try ReadinessNotifier(descriptor: $0) },
                http: try http.map { try httpSetup($0, repository: repository) },
                notificationURL: postgres == nil ? nil : database)
            let kind = postgres == nil ? "SQLite \(database)" : "PostgreSQL"
            try runner.run(banner: "spaak-cloud vos \(name): database \(kind), control \(control), scrypt N=\(scryptN) r=\(scryptR) p=\(scryptP)")
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("spaak-cloud vos: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// The owner services over the VOS's repository, their key, mail outbox and portal (as `serve --http`).
    private func httpSetup(_ address: String, repository: any CloudRepository) throws -> HTTPSetup {
        let key = try IdentityKeyFile.loadOrCreate(path: idpKey)
        if key.created { print("spaak-cloud vos: created the identity provider's key \(idpKey)") }
        let mail = mailDir ?? (isPostgres ? "./spaak-vos-mail"
            : URL(fileURLWithPath: database).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("mail").path)
        let services = OwnerServices(repository: repository, outbox: try MaildirOutbox(root: mail))
        print("spaak-cloud vos: owner services' e-mails go to the Maildir \(mail)")
        return HTTPSetup(address: try HTTPListenAddress(parsing: address), tokens: TokenAuthority(key: key.key), services: services,
                         installers: [try OwnerHTTPServer.portal()])
    }
}

/// PostgreSQL's retried transactions show in `stats` (`db_retries`).
extension PostgresCloudRepository: RetryCountingCloudRepository {}
