import CloudSimulator
import Foundation
import ISOTP
import SecureStore
import SpaakCore
import SpaakFuzz
import TestPKI

/// `spaak-soak seeds`: writes a fresh test PKI to `fuzz/pki`, runs plant provisioning and
/// PP-01 in memory with the simulated VOS, and writes the seed corpora from what went over
/// the bus (`FuzzSeeds`).
enum SeedWriter {
    static func run(out: URL) throws {
        let pkiFolder = out.appendingPathComponent("pki")
        try FileManager.default.createDirectory(at: pkiFolder, withIntermediateDirectories: true)
        let pki = try TestPKIHierarchy.generate(now: ModuleBench.wallTime)
        try pki.write(to: pkiFolder, createdAt: ModuleBench.wallTime, validityDays: 3650, force: true)
        let store = InMemorySecureStore()
        let soak = SoakBench(store: store, pki: pki, repository: InMemoryCloudRepository())
        var requests: [[UInt8]] = [[0x10, 0x03], [0x27, 0x01], [0x3E, 0x00], [0x3E, 0x80], [0x22, 0xD1, 0x20],
                                   [0x22, 0xF1, 0x8C], [0x22, 0xF1, 0x90], [0x11, 0x01], [0x31, 0x01, 0xD2, 0x02],
                                   [0x31, 0x03, 0xD2, 0x00], [0x31, 0x01, 0xF0, 0x11], [0x10, 0x01]]
        soak.bench.unlock()
        for step in ModuleBench.plantSteps(pki: pki) {
            soak.bench.run(step, pki: pki)
            switch step {
            case .write(let did, let data): requests.append([0x2E, UInt8(did >> 8), UInt8(did & 0xFF)] + data)
            case .routine(let rid): requests.append([0x31, 0x01, UInt8(rid >> 8), UInt8(rid & 0xFF)])
            case .issueECUCertificate:
                if let der = try store.read(.ecuIdentityCertificate) { requests.append([0x2E, 0xD1, 0x01] + der) }
            }
        }
        soak.uds([0x10, 0x01])
        if let certificate = try store.read(.ecuIdentityCertificate) {
            _ = try soak.cloud.vos.registerECU(certificate: certificate, date: soak.date)
        }
        // Capture the cloud messages with listeners on both directions.
        var c2vListener = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x7FF, rxID: 0x6A8))
        var v2cListener = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x7FF, rxID: 0x6A0))
        var c2v: [[UInt8]] = []
        var v2c: [[UInt8]] = []
        soak.tap = { frame, now in
            if frame.id == 0x6A8 { for case .received(let m) in c2vListener.handle(frame, now: now) { c2v.append(m) } }
            if frame.id == 0x6A0 { for case .received(let m) in v2cListener.handle(frame, now: now) { v2c.append(m) } }
        }
        soak.control(.tbm(.online))
        soak.run(for: .seconds(3))
        var certificates: [[UInt8]] = []
        for record in SecureStoreRecord.identityCertificates { if let der = try store.read(record) { certificates.append(der) } }
        try FuzzSeeds.write(root: out, requests: requests, c2v: c2v, v2c: v2c, certificates: certificates)
        print("seeds: \(requests.count) UDS requests, \(c2v.count) C2V and \(v2c.count) V2C messages, \(certificates.count) identity certificates")
    }
}
