import CloudSimulator
import Foundation
import Logging
import SecureStore
import SpaakFuzz
import TestPKI

/// `spaak-soak run`: provisions and re-provisions a module on a real store folder until it is
/// killed, printing each phase and (through `RecordingStore`) each commit.
///
/// Phases: `plant` (root certificates, VIN, ECU key and certificate, lock; only while the
/// plant lock is absent), then in a loop `counters` (two wrong security-access keys, then the
/// right one: the attempt counter goes 1, 2, 0) and `pp01` (owner change, routine 0xD203,
/// and the PP-01 run with the simulated VOS: new vehicle key, [K], subject id, C2V/V2C counters).
enum SoakWorker {
    static func pki(root: URL) throws -> TestPKIHierarchy {
        let folder = root.appendingPathComponent("pki")
        if let pki = try? TestPKIHierarchy.load(from: folder) { return pki }
        let pki = try TestPKIHierarchy.generate(now: ModuleBench.wallTime)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try pki.write(to: folder, createdAt: ModuleBench.wallTime, validityDays: 3650, force: true)
        return pki
    }

    static func logger(root: URL) -> Logger {
        var logger = Logger(label: "spaak.soak", factory: { _ in StreamLogHandler.standardError(label: "spaak.soak") })
        logger.logLevel = .warning
        return logger
    }

    /// The store as `spaak-ecu` opens it: `root/store` with its monotonic counter file beside it.
    static func openStore(root: URL) throws -> FileSecureStore {
        let path = root.appendingPathComponent("store").path
        return try FileSecureStore(directory: path,
                                   monotonicCounter: FileMonotonicCounter(path: FileMonotonicCounter.defaultPath(forStore: path)),
                                   logger: logger(root: root))
    }

    static func run(root: URL, loops: Int?) throws {
        let pki = try pki(root: root)
        let file = try openStore(root: root)
        let store = RecordingStore(file)
        let repository = try GRDBCloudRepository(path: root.appendingPathComponent("vos.sqlite").path)
        let soak = SoakBench(store: store, pki: pki, repository: repository)
        SoakOutput.line("START")
        if (try? file.read(.plantLock)) == nil || (try? file.read(.plantLock)) == .some(nil) {
            SoakOutput.line("PHASE plant")
            soak.bench.unlock()
            for (index, step) in ModuleBench.plantSteps(pki: pki).enumerated() {
                let response = soak.bench.run(step, pki: pki)
                SoakOutput.line("STEP plant \(index) \(response.prefix(4).map { String(format: "%02X", $0) }.joined())")
            }
            soak.uds([0x10, 0x01])
        }
        if let certificate = try? file.read(.ecuIdentityCertificate) {
            _ = try? soak.cloud.vos.registerECU(certificate: certificate, date: soak.date)
        }
        soak.control(.tbm(.online))
        SoakOutput.line("PHASE pp01")
        soak.run(for: .seconds(3))
        var loop = 0
        while loops.map({ loop < $0 }) ?? true {
            loop += 1
            SoakOutput.line("PHASE counters")
            soak.uds([0x10, 0x03])
            for _ in 0..<2 {
                soak.uds([0x27, 0x01])
                soak.uds([0x27, 0x02] + [UInt8](repeating: 0xEE, count: 16))
            }
            soak.bench.unlock()
            SoakOutput.line("PHASE pp01")
            let response = soak.uds([0x31, 0x01, 0xD2, 0x03])
            soak.run(for: .seconds(3))
            SoakOutput.line("LOOP \(loop) D203 \(response.map { String(format: "%02X", $0) }.joined())")
        }
    }
}
