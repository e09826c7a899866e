import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import Glibc
import SpaakCore
import TestPKI

/// The measuring part of `bench-backend`: a fresh PKI, a VOS over the chosen repository
/// (wrapped by `CountingCloudRepository`), and scripted vehicles.
struct BackendCostProbe {
    let database: String
    let scryptN: UInt32

    /// A refusal or a wrong answer of the VOS during the bench: the numbers would be wrong.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One step's timings summed over the vehicles.
    private struct Clocks {
        var cpu: [String: Double] = [:]
        var wall: [String: Double] = [:]
        var order: [String] = []

        mutating func time<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            if cpu[name] == nil { order.append(name) }
            let cpuStart = BackendCostProbe.threadCPU(), wallStart = DispatchTime.now().uptimeNanoseconds
            defer {
                cpu[name, default: 0] += BackendCostProbe.threadCPU() - cpuStart
                wall[name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e6
            }
            return try body()
        }
    }

    /// This thread's CPU time in milliseconds.
    static func threadCPU() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1e6
    }

    func run(vehicles: Int, scryptSamples: Int) throws -> BackendCostReport {
        let now = Date()
        let pki = try TestPKIHierarchy.generate(now: now, validityDays: 3650)
        let counting = CountingCloudRepository(try VOSDatabase.open(database))
        // The story's verifiers are cheap (N = 16, same code path) and made before the timed part, as
        // the VOS's pool makes them on other threads; the scrypt line times them at `scryptN`.
        let configuration = VOSConfiguration(scryptN: 16)
        let vos = VehicleOEMServer(hierarchy: pki, repository: counting, configuration: configuration)
        var report = BackendCostReport()
        report.vehicles = vehicles
        report.database = database.contains("://") ? "postgresql" : database == "memory" ? "memory" : "sqlite"
        report.scryptN = scryptN

        // The verifiers of PP-02, made before the timed part (the VOS's pool does it on other threads).
        var scryptTotal = 0.0
        var verifiers: [PreparedVerifier] = []
        for index in 0..<(vehicles + 3) {
            verifiers.append(try VehicleOEMServer.makeVerifier(configuration: configuration, randomBytes: VehicleOEMServer.systemRandomBytes))
            guard index < scryptSamples else { continue }
            let timed = Self.threadCPU()
            _ = try VehicleOEMServer.makeVerifier(configuration: VOSConfiguration(scryptN: scryptN), randomBytes: VehicleOEMServer.systemRandomBytes)
            scryptTotal += Self.threadCPU() - timed
        }
        report.scryptMs = scryptTotal / Double(scryptSamples)
        var next = 0
        vos.verifierSource = {
            defer { next += 1 }
            return next < verifiers.count ? verifiers[next] : nil
        }
        var clocks = Clocks()
        var registration = 0.0
        var countsAfterWarmUp = CountingCloudRepository.Counts()
        var c2v = 0, v2c = 0, certificates = 0
        for index in 0..<(vehicles + 3) {
            if index == 3 {
                clocks = Clocks()
                registration = 0
                countsAfterWarmUp = counting.counts
                c2v = 0; v2c = 0; certificates = 0
            }
            let vehicle = try BenchVehicle(serial: String(format: "SPK%010d", 9_000_000_000 + index), pki: pki, now: now)
            let start = Self.threadCPU()
            _ = try vos.registerECU(certificate: vehicle.certificateDER, date: now)
            registration += Self.threadCPU() - start
            try story(vehicle, vos: vos, clocks: &clocks, now: now, v2c: &v2c, c2v: &c2v, certificates: &certificates)
        }
        let n = Double(vehicles)
        report.steps = clocks.order.map { ($0, clocks.cpu[$0]! / n, clocks.wall[$0]! / n) }
        report.registrationCPU = registration / n
        report.v2cPerVehicle = Double(v2c) / n
        report.c2vPerVehicle = Double(c2v) / n
        report.certificatesPerVehicle = Double(certificates) / n
        report.transactionsPerVehicle = Double(counting.counts.transactions - countsAfterWarmUp.transactions) / n
        report.readsPerVehicle = Double(counting.counts.reads - countsAfterWarmUp.reads) / n
        report.writesPerVehicle = Double(counting.counts.writes - countsAfterWarmUp.writes) / n
        if report.database == "sqlite" {
            let size = ["", "-wal"].compactMap { try? FileManager.default.attributesOfItem(atPath: database + $0)[.size] as? Int }.reduce(0, +)
            report.databaseBytesPerVehicle = Double(size) / Double(vehicles + 3)
        }
        try parts(pki: pki, now: now, into: &report)
        return report
    }

    /// SP-02, PP-01 (subject id, CSR → [K], install status), PP-02 (push, status) for one vehicle.
    private func story(_ vehicle: BenchVehicle, vos: VehicleOEMServer, clocks: inout Clocks, now: Date,
                       v2c: inout Int, c2v: inout Int, certificates: inout Int) throws {
        func exchange(_ name: String, _ payload: CloudPayload, useCase: UseCase, transactionID: [UInt8]? = nil,
                      expect: CloudMessageType) throws -> CloudMessage {
            let request = try vehicle.request(payload, useCase: useCase, transactionID: transactionID)
            let result = clocks.time(name) { vos.handleV2C(request, date: now) }
            v2c += 1
            c2v += result.transmissions.count
            guard let first = result.transmissions.first, let answer = try? CloudMessageCodec.decode(first.bytes).message,
                  answer.type == expect else {
                throw Failure(description: "\(name): no \(expect) from the VOS: \(result.events.map(\.description))")
            }
            return answer
        }
        _ = try exchange("SP-02 0x07 → 0x08", .remoteServiceProvisioningRequest, useCase: .sp02, expect: .remoteServiceProvisioningResponse)
        let subject = try exchange("PP-01 0x01 → 0x02", .vehicleSubjectIdRequest, useCase: .pp01, expect: .vehicleSubjectIdResponse)
        guard case .vehicleSubjectIdResponse(let subjectID) = subject.payload else { throw Failure(description: "no subject id") }
        let csr = try TestPKICSR.make(commonName: subjectID, key: P256.Signing.PrivateKey()).derBytes()
        _ = try exchange("PP-01 0x03 → 0x04 ([K] issued)", .vehicleIdentityCSRRequest(csr: csr), useCase: .pp01,
                         expect: .vehicleIdentityCSRResponse)
        certificates += 1
        _ = try exchange("PP-01 0x05 → 0x06", .vehicleIdentityCertStatus(.ok), useCase: .pp01, expect: .c2vUsecaseCompletionAck)
        let push = try clocks.time("PP-02 push 0x0A (verifier ready)") { try vos.pushVerifier(serial: vehicle.serial, date: now) }
        c2v += push.transmissions.count
        guard let pushed = push.transmissions.first, let message = try? CloudMessageCodec.decode(pushed.bytes).message else {
            throw Failure(description: "PP-02: no push: \(push.events.map(\.description))")
        }
        _ = try exchange("PP-02 0x0B → 0x06", .spake2VerifierStatus(.ok), useCase: .pp02, transactionID: message.transactionID,
                         expect: .c2vUsecaseCompletionAck)
    }

    /// The parts: one P-256 signature and verification of a C2V-sized message, one [K].
    private func parts(pki: TestPKIHierarchy, now: Date, into report: inout BackendCostReport) throws {
        let key = P256.Signing.PrivateKey()
        let message = [UInt8](repeating: 0x5A, count: 600)
        let rounds = 200
        var start = Self.threadCPU()
        var signature = try key.signature(for: message)
        for _ in 1..<rounds { signature = try key.signature(for: message) }
        report.signMs = (Self.threadCPU() - start) / Double(rounds)
        start = Self.threadCPU()
        for _ in 0..<rounds where !key.publicKey.isValidSignature(signature, for: message) {
            throw Failure(description: "P-256 verification failed")
        }
        report.verifyMs = (Self.threadCPU() - start) / Double(rounds)
        let csr = try TestPKICSR.make(commonName: "BENCH-SUBJECT", key: P256.Signing.PrivateKey())
        start = Self.threadCPU()
        for _ in 0..<50 { _ = try pki.issueVehicleIdentityCertificate(csr: csr.derBytes(), subjectId: "BENCH-SUBJECT", now: now, validityDays: 365) }
        report.issueMs = (Self.threadCPU() - start) / 50
    }
}

/// The vehicle's side in `bench-backend`: an ECU identity key and certificate, the V2C counter.
private final class BenchVehicle {
    let serial: String
    let key = P256.Signing.PrivateKey()
    let certificateDER: [UInt8]
    private var counter: UInt32 = 0

    init(serial: String, pki: TestPKIHierarchy, now: Date) throws {
        self.serial = serial
        let csr = try TestPKICSR.make(commonName: serial, key: key)
        certificateDER = try pki.issueECUIdentityCertificate(csr: csr, now: now).derBytes()
    }

    /// A signed V2C request with the next counter and a fresh (or the given) transaction id.
    func request(_ payload: CloudPayload, useCase: UseCase, transactionID: [UInt8]?) throws -> [UInt8] {
        counter += 1
        return try SpaakRequest.build(serial: serial, vin: nil, transactionID: transactionID ?? VehicleOEMServer.systemRandomBytes(16),
                                      counter: counter, useCase: useCase, payload: payload, signer: CloudSigning.signer(key))
    }
}
