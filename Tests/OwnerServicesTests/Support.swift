import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
@testable import OwnerServices
import SpaakCore
import TestPKI

/// The fixed wall-clock time of the tests (2027-01-15 08:00:00 UTC).
let testDate = Date(timeIntervalSince1970: 1_800_000_000)

/// One PKI for the whole test run.
let sharedPKI: TestPKIHierarchy = {
    do { return try TestPKIHierarchy.generate(now: testDate, validityDays: 3650) } catch { fatalError("test PKI: \(error)") }
}()

let alice = Caller(user: "alice", role: .owner)
let alicePortal = Caller(user: "alice", role: .portal)
let bob = Caller(user: "bob", role: .owner)
let agent = Caller(user: "hanna", role: .hotline)

/// Deterministic random bytes (SplitMix64).
final class SeededRandom: @unchecked Sendable {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
}

/// An outbox that keeps the messages, or fails when told to.
final class RecordingOutbox: MailOutbox, @unchecked Sendable {
    struct Refused: Error, CustomStringConvertible { var description: String { "disk full" } }
    var messages: [MailMessage] = []
    var failing = false
    func deliver(_ message: MailMessage) throws {
        if failing { throw Refused() }
        messages.append(message)
    }
}

/// Which repository a test runs on.
enum RepositoryKind: String, CaseIterable, CustomStringConvertible {
    case memory, sqlite
    var description: String { rawValue }
}

/// A fresh path in a fresh temporary directory.
func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("owner-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// A simulated module talking to the real VOS through signed V2C messages, and the owner
/// services over the same repository.
final class Bench {
    let serial: String
    let vin: String
    let key = P256.Signing.PrivateKey()
    let vehicleKey = P256.Signing.PrivateKey()
    var counter: UInt32 = 0
    let repository: any CloudRepository
    let sqlitePath: String?
    let vos: VehicleOEMServer
    let outbox = RecordingOutbox()
    let services: OwnerServices
    var date = testDate

    init(_ kind: RepositoryKind = .memory, sharing other: Bench? = nil, serial: String = "SPK0000000001",
         vin: String = "VF3ABCDEF12345678", seed: UInt64 = 7) throws {
        self.serial = serial
        self.vin = vin
        switch (kind, other) {
        case (_, let other?):
            repository = other.repository
            sqlitePath = other.sqlitePath
        case (.memory, nil):
            repository = InMemoryCloudRepository()
            sqlitePath = nil
        case (.sqlite, nil):
            let path = temporaryPath("vos.sqlite")
            repository = try GRDBCloudRepository(path: path)
            sqlitePath = path
        }
        let random = SeededRandom(seed: seed)
        vos = VehicleOEMServer(hierarchy: sharedPKI, repository: repository, configuration: VOSConfiguration(scryptN: 1024),
                               randomBytes: random.bytes)
        services = OwnerServices(repository: repository, outbox: outbox, randomBytes: SeededRandom(seed: seed + 1).bytes)
        let csr = try TestPKICSR.make(commonName: serial, key: key)
        try vos.registerECU(certificate: try sharedPKI.issueECUIdentityCertificate(csr: csr, now: testDate).derBytes(), date: testDate)
    }

    /// Sends a signed V2C message; returns the decoded answer, if any.
    @discardableResult
    func send(_ payload: CloudPayload, useCase: UseCase, transactionID: [UInt8] = Array(repeating: 0xA5, count: 16)) throws -> CloudMessage? {
        counter += 1
        let bytes = try SpaakRequest.build(serial: serial, vin: vin, transactionID: transactionID, counter: counter,
                                           useCase: useCase, payload: payload, signer: CloudSigning.signer(key))
        guard let answer = vos.handleV2C(bytes, date: date).transmissions.first else { return nil }
        return try CloudMessageCodec.decode(answer.bytes).message
    }

    /// PP-01: subject id, [K], its install status.
    func provisionIdentity(status: CloudStatus = .ok) throws {
        guard case .vehicleSubjectIdResponse(let subjectId)? = try send(.vehicleSubjectIdRequest, useCase: .pp01)?.payload else {
            throw BenchError("no subject id")
        }
        let csr = try TestPKICSR.make(commonName: subjectId, key: vehicleKey).derBytes()
        guard case .vehicleIdentityCSRResponse? = try send(.vehicleIdentityCSRRequest(csr: csr), useCase: .pp01)?.payload else {
            throw BenchError("no [K]")
        }
        try send(.vehicleIdentityCertStatus(status), useCase: .pp01)
    }

    /// PP-02: a pushed verifier, confirmed with `status`.
    func pushVerifier(status: CloudStatus = .ok) throws {
        guard let push = try vos.pushVerifier(serial: serial, date: date).transmissions.first else { throw BenchError("no push") }
        let message = try CloudMessageCodec.decode(push.bytes).message
        try send(.spake2VerifierStatus(status), useCase: .pp02, transactionID: message.transactionID)
    }

    /// The module reports its owner pairing state (0x0D).
    func reportPairing(_ state: OwnerPairingState) throws {
        let key: [UInt8]? = state.hasOwnerKey ? [0x5A, 1, 2, 3, 4, 5, 6, 7] : nil
        try send(.ownerPairingStatus(state: state, ownerKeyID: key, status: .ok), useCase: .ownerPairing,
                 transactionID: Array(repeating: UInt8(0xD0 &+ state.rawValue), count: 16))
    }

    /// Everything for a deliverable password, and alice as the owner.
    static func provisioned(_ kind: RepositoryKind = .memory) throws -> Bench {
        let bench = try Bench(kind)
        try bench.provisionIdentity()
        try bench.pushVerifier()
        _ = try bench.services.registerOwner(vin: bench.vin, user: "alice", email: nil, date: testDate)
        return bench
    }

    /// The current password record.
    func currentPassword() throws -> PasswordRecord? {
        try repository.transaction { try $0.currentPassword(serial: serial)?.password }
    }

    /// Every password and link record.
    func allPasswords() throws -> [PasswordRecord] { try repository.transaction { try $0.passwords(serial: serial) } }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The reason of the `OwnerServiceError` `body` throws, `nil` if it does not throw.
func reason<T>(_ body: () throws -> T) -> ProblemReason? { failure(body)?.reason }

/// The `OwnerServiceError` `body` throws, `nil` if it does not throw (another error is one
/// with reason `internalError` and its description).
func failure<T>(_ body: () throws -> T) -> OwnerServiceError? {
    do {
        _ = try body()
        return nil
    } catch let error as OwnerServiceError {
        return error
    } catch {
        return OwnerServiceError(.internalError, "unexpected \(error)")
    }
}
