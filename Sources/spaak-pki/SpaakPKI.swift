import ArgumentParser
import Foundation
import TestPKI

/// `spaak-pki`: the simulator's Stellantis PKI backend on the command line.
@main
struct SpaakPKI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaak-pki",
        abstract: "Simulated Stellantis PKI backend: certificate hierarchy, ECU registry, CSR signing.",
        subcommands: [Init.self, Register.self, SignCSRs.self]
    )
}

/// `spaak-pki init DIR`: a fresh hierarchy.
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create [J], [J1], [J_PhysicalKey], [Z1], [ZZ2] and the VOS signer (P-256) in DIR."
    )

    @Argument(help: "Directory for the certificates (DER, PEM), private keys (0600) and manifest.json.")
    var directory: String

    @Option(help: "Validity of every certificate, in days.")
    var validityDays: Int = 3650

    @Flag(help: "Replace a hierarchy that DIR already holds.")
    var force = false

    func validate() throws {
        guard validityDays > 0 else { throw ValidationError("--validity-days must be positive") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        let now = Date()
        try fail {
            let hierarchy = try TestPKIHierarchy.generate(now: now, validityDays: validityDays)
            try hierarchy.write(to: url, createdAt: now, validityDays: validityDays, force: force)
            for role in TestPKIRole.allCases {
                let stem = role.fileStem
                print("\(stem).der \(stem).pem \(stem).key.pem  \(hierarchy[role].certificate.subject)")
            }
            print("manifest.json written to \(url.path)")
        }
    }
}

/// `spaak-pki register DIR SERIAL...`: tell the PKI which ECUs exist.
struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register ECU serial numbers with the PKI.")

    @Argument(help: "The hierarchy directory.")
    var directory: String

    @Argument(help: "ECU serial numbers (e.g. SPK0000000001).")
    var serials: [String]

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        try fail {
            _ = try TestPKIHierarchy.loadManifest(from: url)
            var registry = try TestPKIRegistry.load(from: url)
            let added = try registry.register(serials)
            try registry.save(to: url)
            print("registered \(added.count) new, \(registry.serials.count) in total")
        }
    }
}

/// `spaak-pki sign-csrs DIR CSR... --out OUTDIR`: a batch of ECU identity CSRs.
struct SignCSRs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-csrs",
        abstract: "Issue ECU identity certificates under [J1] for CSRs of registered serials."
    )

    @Argument(help: "The hierarchy directory.")
    var directory: String

    @Argument(help: "CSR files, PEM or DER.")
    var csrFiles: [String]

    @Option(name: .customLong("out"), help: "Directory for <serial>.crt.pem and <serial>.crt.der.")
    var outputDirectory: String

    @Option(help: "Validity of the issued certificates, in days (never beyond [J1]).")
    var validityDays: Int = 3650

    func validate() throws {
        guard validityDays > 0 else { throw ValidationError("--validity-days must be positive") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        var refused = 0
        try fail {
            let hierarchy = try TestPKIHierarchy.load(from: url)
            let registry = try TestPKIRegistry.load(from: url)
            let outcomes = TestPKIBatch.signCSRFiles(
                csrFiles.map { URL(fileURLWithPath: $0) }, hierarchy: hierarchy, registry: registry,
                outputDirectory: URL(fileURLWithPath: outputDirectory), validityDays: validityDays
            )
            for outcome in outcomes { print(outcome) }
            refused = outcomes.filter { !$0.isIssued }.count
            print("\(outcomes.count - refused) issued, \(refused) refused")
        }
        if refused > 0 { throw ExitCode(1) }
    }
}

/// Runs `body`, turning a `TestPKIError` into a message on stderr and exit code 2.
func fail(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as TestPKIError {
        FileHandle.standardError.write(Data("spaak-pki: \(error)\n".utf8))
        throw ExitCode(2)
    }
}
