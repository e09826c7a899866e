import CloudSimulator
import Foundation
import SecureStore
import SpaakCore
import SpaakECU
import SpaakFuzz
import TestPKI

/// `spaak-soak vos-fixture --out DIR --vehicles N [--unprovisioned K] [--scrypt-n 1024]`:
/// a Vehicle OEM Server database with N provisioned vehicles for the owner-API host tests and
/// `scripts/bench api`, made in memory in a few seconds (no CAN bus, no VM).
///
/// Each vehicle is an in-memory module (`ModuleBench`, its own serial and VIN) wired to the
/// simulated TBM + VOS on an in-memory bus (`SoakBench`), all over ONE `GRDBCloudRepository`
/// (`DIR/vos.sqlite`, the database `spaak-cloud serve --db` opens): plant provisioning, the
/// ECU identity certificate registered, TBM online (SP-02, PP-01: [K] installed), then a
/// `push-verifier` (PP-02: verifier installed). The last K vehicles stop after PP-01 (no
/// verifier: "service not provisioned"). Writes `DIR/pki/` (the hierarchy that signed it
/// all) and `DIR/vehicles.json` (`[{"serial": …, "vin": …}]`, in order), and prints one line
/// per vehicle with what the VOS recorded.
enum VOSFixture {
    /// The command-line options.
    struct Options {
        var out: URL
        var vehicles: Int
        var unprovisioned = 0
        var scryptN: UInt32 = 1024
    }

    /// One vehicle of the fixture (an element of `vehicles.json`).
    struct Vehicle: Codable, Equatable {
        var serial: String
        var vin: String
    }

    /// The serial of vehicle `index` (1-based): `SPK` and ten digits, like `ModuleBench.serial`.
    static func serial(_ index: Int) -> String { "SPK" + digits(index, 10) }

    /// The VIN of vehicle `index` (1-based): 17 characters of ISO 3779 (no I, O, Q).
    static func vin(_ index: Int) -> String { "ZFA2500000" + digits(index, 7) }

    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    static func run(_ options: Options) throws {
        guard (1...9999).contains(options.vehicles) else { throw FixtureError("--vehicles must be 1…9999") }
        guard (0...options.vehicles).contains(options.unprovisioned) else {
            throw FixtureError("--unprovisioned must be 0…\(options.vehicles)")
        }
        guard options.scryptN >= 2, options.scryptN & (options.scryptN - 1) == 0 else {
            throw FixtureError("--scrypt-n must be a power of two ≥ 2")
        }
        let fileManager = FileManager.default
        let database = options.out.appendingPathComponent("vos.sqlite")
        guard !fileManager.fileExists(atPath: database.path) else {
            throw FixtureError("\(database.path) exists: give an empty or new --out folder")
        }
        try fileManager.createDirectory(at: options.out, withIntermediateDirectories: true)
        // Valid from before both the module's fixed wall time and today (the server signs with it).
        let start = min(Date(), ModuleBench.wallTime)
        let pki = try TestPKIHierarchy.generate(now: start)
        try pki.write(to: options.out.appendingPathComponent("pki"), createdAt: start, validityDays: 3650)
        let repository = try GRDBCloudRepository(path: database.path)
        let configuration = VOSConfiguration(scryptN: options.scryptN)
        var written: [Vehicle] = []
        for index in 1...options.vehicles {
            let vehicle = Vehicle(serial: serial(index), vin: vin(index))
            let withVerifier = index <= options.vehicles - options.unprovisioned
            try provision(vehicle, withVerifier: withVerifier, pki: pki, repository: repository, configuration: configuration)
            let line = try repository.transaction { store in try store.summary() }.ecus.first { $0.serial == vehicle.serial }
            guard let line, line.vin == vehicle.vin, line.certificateStatus == 0,
                  withVerifier ? line.verifierStatus == 0 : line.verifiers == 0 else {
                throw FixtureError("vehicle \(index) (\(vehicle.serial)) did not reach the expected state: \(String(describing: line))")
            }
            written.append(vehicle)
            print("vehicle \(index): serial \(vehicle.serial) VIN \(vehicle.vin) drmUUID \(line.drmUUID?.hexString ?? "-") "
                  + "[K] installed, verifier " + (withVerifier ? "installed (PP-02)" : "none (not provisioned)"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(written).write(to: options.out.appendingPathComponent("vehicles.json"))
        print("vos-fixture: \(written.count) vehicles in \(database.path), PKI in \(options.out.appendingPathComponent("pki").path)")
    }

    /// One module through plant provisioning, SP-02 + PP-01 and (optionally) PP-02, with a
    /// fresh simulated VOS over the shared repository.
    private static func provision(_ vehicle: Vehicle, withVerifier: Bool, pki: TestPKIHierarchy,
                                  repository: any CloudRepository, configuration: VOSConfiguration) throws {
        let store = InMemorySecureStore()
        let soak = SoakBench(store: store, pki: pki, repository: repository,
                             module: ECUConfiguration(serial: vehicle.serial), vos: configuration)
        soak.bench.unlock()
        for step in ModuleBench.plantSteps(pki: pki) {
            if case .write(0xF190, _) = step {
                soak.bench.run(.write(0xF190, Array(vehicle.vin.utf8)), pki: pki)
            } else {
                soak.bench.run(step, pki: pki)
            }
        }
        soak.uds([0x10, 0x01])
        guard let certificate = try store.read(.ecuIdentityCertificate) else {
            throw FixtureError("\(vehicle.serial): plant provisioning left no ECU identity certificate")
        }
        _ = try soak.cloud.vos.registerECU(certificate: certificate, date: soak.date)
        soak.control(.tbm(.online))
        soak.run(for: .seconds(3))
        if withVerifier {
            soak.control(.pushVerifier(serial: vehicle.serial))
            soak.run(for: .seconds(3))
        }
    }
}

/// A fixture that cannot be made, in words for the operator.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
