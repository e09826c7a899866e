import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import SpaakCore
import TestPKI
import X509

/// The fixed wall-clock time of the tests (2027-01-15).
let testDate = Date(timeIntervalSince1970: 1_800_000_000)

/// The serial of the simulated module.
let testSerial = "SPK0000000001"

/// One PKI for the whole test run (key generation is not free).
let sharedPKI: TestPKIHierarchy = {
    do { return try TestPKIHierarchy.generate(now: testDate, validityDays: 3650) } catch { fatalError("test PKI: \(error)") }
}()

/// Deterministic random bytes (SplitMix64), or a script of byte strings served first.
final class ScriptedRandom: @unchecked Sendable {
    private var generator: SplitMix64
    private var script: [[UInt8]]

    init(seed: UInt64 = 1, script: [[UInt8]] = []) {
        generator = SplitMix64(seed: seed)
        self.script = script
    }

    func bytes(_ n: Int) -> [UInt8] {
        if !script.isEmpty {
            let next = script.removeFirst()
            return Array((next + Array(repeating: 0x55, count: max(0, n - next.count))).prefix(n))
        }
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }
}

/// Which repository a test runs on.
enum RepositoryKind: String, CaseIterable, CustomStringConvertible {
    case memory, sqlite
    var description: String { rawValue }

    func make() throws -> any CloudRepository {
        switch self {
        case .memory: return InMemoryCloudRepository()
        case .sqlite: return try GRDBCloudRepository(path: temporaryPath("vos.sqlite"))
        }
    }
}

/// A fresh path in a fresh temporary directory.
func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vos-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// The module's side of the conversation: its ECU identity key and certificate, its counter
/// and VIN, and helpers to build V2C requests and read C2V answers.
final class FakeModule {
    let serial: String
    let key = P256.Signing.PrivateKey()
    let certificateDER: [UInt8]
    var vin: String? = "VF3ABCDEF12345678"
    var counter: UInt32 = 0
    let pki: TestPKIHierarchy

    init(serial: String = testSerial, pki: TestPKIHierarchy = sharedPKI) throws {
        self.serial = serial
        self.pki = pki
        let csr = try TestPKICSR.make(commonName: serial, key: key)
        certificateDER = try pki.issueECUIdentityCertificate(csr: csr, now: testDate).derBytes()
    }

    /// A signed V2C request with the next counter.
    func request(_ payload: CloudPayload, useCase: UseCase = .pp01, transactionID: [UInt8] = Array(repeating: 0xA5, count: 16),
                 counter explicit: UInt32? = nil, signer: P256.Signing.PrivateKey? = nil) throws -> [UInt8] {
        counter += 1
        return try SpaakRequest.build(serial: serial, vin: vin, transactionID: transactionID, counter: explicit ?? counter,
                                      useCase: useCase, payload: payload, signer: CloudSigning.signer(signer ?? key))
    }

    /// The module's answer to the push `bytes` (ICD 7.6, 8.5): 0x0B status ok for a 0x0A,
    /// 0x0D "window open" for a 0x0E (both echo its transaction id), 0x09 reason 1 for a 0x0C.
    func answer(to bytes: [UInt8]) throws -> [UInt8] {
        let push = try CloudMessageCodec.decode(bytes).message
        switch push.type {
        case .spake2VerifierProvisioning:
            return try request(.spake2VerifierStatus(.ok), useCase: .pp02, transactionID: push.transactionID)
        case .ownerPairingModeRequest:
            return try request(.ownerPairingStatus(state: .windowOpen, ownerKeyID: nil, status: .ok), useCase: .ownerPairing,
                               transactionID: push.transactionID)
        case .ownerKeyTermination:
            return try request(.spake2VerifierRequest(.ownerKeyTermination), useCase: .pp03,
                               transactionID: Array(repeating: 0x3C, count: 16))
        default:
            throw CloudMessageError.unknownMessageType(push.type.rawValue)  // not a push
        }
    }

    /// A vehicle identity CSR for `subjectId`, DER.
    func csr(commonName: String, key vehicleKey: P256.Signing.PrivateKey) throws -> [UInt8] {
        try TestPKICSR.make(commonName: commonName, key: vehicleKey).derBytes()
    }
}

/// A decoded C2V message with its signature checked against the VOS (or [ZZ2]) key.
struct C2V {
    let message: CloudMessage
    let signatureValid: Bool

    init(_ bytes: [UInt8], pki: TestPKIHierarchy = sharedPKI) throws {
        let decoded = try CloudMessageCodec.decode(bytes)
        message = decoded.message
        let role: TestPKIRole = message.type == .ownerKeyTermination ? .zz2 : .vos
        signatureValid = CloudSigning.isValid(signature: message.signature, of: decoded.signedBytes, key: pki[role].key.publicKey)
    }
}

/// A VOS on `kind` with the fake module registered.
func makeVOS(_ kind: RepositoryKind, module: FakeModule, scryptN: UInt32 = 1024, random: ScriptedRandom = ScriptedRandom())
    throws -> VehicleOEMServer
{
    let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try kind.make(),
                               configuration: VOSConfiguration(scryptN: scryptN), randomBytes: random.bytes)
    try vos.registerECU(certificate: module.certificateDER, date: testDate)
    return vos
}

/// Handles `request` and decodes the single answer.
func exchange(_ vos: VehicleOEMServer, _ request: [UInt8]) throws -> C2V? {
    let result = vos.handleV2C(request, date: testDate)
    guard let first = result.transmissions.first else { return nil }
    return try C2V(first.bytes)
}
