import ArgumentParser
import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import Glibc
import SpaakCore
import TestPKI

/// `spaak-cloud bench-backend`: what one vehicle costs the VOS, measured on the real
/// `VehicleOEMServer` over a real repository (memory, SQLite or PostgreSQL), without a bus:
/// a scripted vehicle (its own ECU identity key, signed V2C requests as ICD 7.3 says) runs
/// SP-02, PP-01 and PP-02 against the server, and every server call is timed (the thread's
/// CPU time and the wall time, which includes the database's round trips). The counts
/// (messages, signatures, certificates, database transactions, reads and writes) come from the
/// run itself, not from the ICD. The scrypt verifier of PP-02 is made before the timed part
/// (as the VOS's pool does) and measured on its own, as are one P-256 signature, one
/// verification and one [K] issuance: the parts of a vehicle's cost. docs/SCALING.md rests on it.
struct BenchBackend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-backend",
        abstract: "Measure the VOS's cost of one vehicle (SP-02, PP-01, PP-02) over a repository, without a bus.")

    @Option(help: "Vehicles run one after the other (after 3 warm-up vehicles).") var vehicles = 200
    @Option(help: "memory, a SQLite file (created; must not exist), or a PostgreSQL URL (postgres://…; an empty database).")
    var database = "memory"
    @Option(help: "scrypt cost N of the verifiers (power of two).") var scryptN: UInt32 = 32768
    @Option(help: "Verifiers timed for the scrypt line.") var scryptSamples = 3
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard (1...100_000).contains(vehicles) else { throw ValidationError("--vehicles must be 1…100000") }
        guard scryptN >= 2, scryptN & (scryptN - 1) == 0 else { throw ValidationError("--scrypt-n must be a power of two ≥ 2") }
        guard (1...50).contains(scryptSamples) else { throw ValidationError("--scrypt-samples must be 1…50") }
        if database != "memory", !database.contains("://"), FileManager.default.fileExists(atPath: database) {
            throw ValidationError("--database \(database) exists: the bench needs an empty database")
        }
    }

    func run() throws {
        do {
            let report = try BackendCostProbe(database: database, scryptN: scryptN).run(vehicles: vehicles, scryptSamples: scryptSamples)
            print(json ? report.json : report.text)
        } catch {
            FileHandle.standardError.write(Data("spaak-cloud bench-backend: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// The measurements of `bench-backend`.
struct BackendCostReport {
    /// Per step of the story: (name, CPU ms per vehicle, wall ms per vehicle).
    var steps: [(name: String, cpu: Double, wall: Double)] = []
    var vehicles = 0
    var database = ""
    var v2cPerVehicle = 0.0
    var c2vPerVehicle = 0.0
    var certificatesPerVehicle = 0.0
    var transactionsPerVehicle = 0.0
    var readsPerVehicle = 0.0
    var writesPerVehicle = 0.0
    var registrationCPU = 0.0
    var signMs = 0.0
    var verifyMs = 0.0
    var issueMs = 0.0
    var scryptN: UInt32 = 0
    var scryptMs = 0.0
    var databaseBytesPerVehicle: Double?

    var totalCPU: Double { steps.reduce(0) { $0 + $1.cpu } }
    var totalWall: Double { steps.reduce(0) { $0 + $1.wall } }

    var text: String {
        var lines = ["VOS cost of one vehicle (SP-02, PP-01, PP-02), \(vehicles) vehicles, database \(database):"]
        func line(_ name: String, _ cpu: Double, _ wall: Double) -> String {
            "  " + name.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: " CPU %7.3f ms  wall %7.3f ms", cpu, wall)
        }
        for step in steps { lines.append(line(step.name, step.cpu, step.wall)) }
        lines.append(line("total (without scrypt)", totalCPU, totalWall))
        lines.append(String(format: "  messages: %.0f V2C in, %.0f C2V out; certificates issued: %.0f", v2cPerVehicle, c2vPerVehicle,
                            certificatesPerVehicle))
        lines.append(String(format: "  database: %.1f transactions, %.1f reads, %.1f writes per vehicle%@", transactionsPerVehicle,
                            readsPerVehicle, writesPerVehicle,
                            (databaseBytesPerVehicle.map { String(format: ", %.0f bytes per vehicle", $0) } ?? "") as NSString))
        lines.append(String(format: "  parts: P-256 sign %.3f ms, verify %.3f ms, [K] issuance %.3f ms, ECU registration %.3f ms",
                            signMs, verifyMs, issueMs, registrationCPU))
        lines.append(String(format: "  one verifier (scrypt N=%u r=8 p=1 + derivation): %.1f ms", scryptN, scryptMs))
        return lines.joined(separator: "\n")
    }

    var json: String {
        func number(_ value: Double) -> String { String(format: "%.4f", value) }
        let stepJSON = steps.map { "{\"step\":\"\($0.name)\",\"cpu_ms\":\(number($0.cpu)),\"wall_ms\":\(number($0.wall))}" }
        var fields = [
            "\"vehicles\":\(vehicles)", "\"database\":\"\(database)\"", "\"steps\":[\(stepJSON.joined(separator: ","))]",
            "\"cpu_ms\":\(number(totalCPU))", "\"wall_ms\":\(number(totalWall))",
            "\"v2c\":\(number(v2cPerVehicle))", "\"c2v\":\(number(c2vPerVehicle))", "\"certificates\":\(number(certificatesPerVehicle))",
            "\"db_transactions\":\(number(transactionsPerVehicle))", "\"db_reads\":\(number(readsPerVehicle))",
            "\"db_writes\":\(number(writesPerVehicle))", "\"sign_ms\":\(number(signMs))", "\"verify_ms\":\(number(verifyMs))",
            "\"issue_ms\":\(number(issueMs))", "\"registration_ms\":\(number(registrationCPU))",
            "\"scrypt_n\":\(scryptN)", "\"scrypt_ms\":\(number(scryptMs))",
        ]
        if let bytes = databaseBytesPerVehicle { fields.append("\"db_bytes_per_vehicle\":\(number(bytes))") }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
