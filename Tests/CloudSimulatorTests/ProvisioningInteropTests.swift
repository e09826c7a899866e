import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import Provisioning
import SpaakCore
import Testing
import TestPKI
import X509

/// The module's provisioning machine (with a minimal glue: tasks done at once, C2V checked
/// with CloudProtocol's `C2VVerifier` against the test PKI) talking to the VOS, message by
/// message: the two sides were written independently from ICD 7.
final class InteropBench {
    let module: FakeModule
    let vos: VehicleOEMServer
    var machine = ProvisioningMachine(facts: ProvisioningFacts())
    var now = Instant.zero
    var lastC2VCounter: UInt32?
    var vehicleKey: P256.Signing.PrivateKey?
    var installed: [UInt8]?
    var verifier: SpakeVerifierRecord?
    var ended: [(UseCase, CloudStatus)] = []
    var rejected: [CloudStatus] = []
    /// C2V messages on their way to the module.
    var inbox: [[UInt8]] = []

    init() throws {
        module = try FakeModule()
        vos = try makeVOS(.memory, module: module)
    }

    /// Signer trust of the module: the VOS signer chains to [Z1]; [ZZ2] signs terminations.
    let trust = ClosureSignerTrust(
        publicKey: { der in
            guard let certificate = try? Certificate(derEncoded: der), let key = P256.Signing.PublicKey(certificate.publicKey) else {
                return .failure(SignerTrustFailure("not a P-256 certificate"))
            }
            return .success(key)
        },
        validate: { der in
            let z1 = sharedPKI[.z1].certificate
            guard let certificate = try? Certificate(derEncoded: der), certificate.issuer == z1.subject,
                  z1.publicKey.isValidSignature(certificate.signature, for: certificate) else {
                return .failure(SignerTrustFailure("not issued by [Z1]"))
            }
            return .success(())
        },
        ownerKeyTerminationKey: { .success(sharedPKI[.zz2].key.publicKey) })

    /// Feeds `input`, then runs every action and delivers C2V messages until all is quiet.
    func drive(_ input: ProvisioningInput? = nil) throws {
        try run(input.map { machine.handle($0, now: now) } ?? [])
    }

    private func run(_ first: [ProvisioningAction]) throws {
        var actions = first
        while !actions.isEmpty || !inbox.isEmpty {
            if actions.isEmpty {
                let bytes = inbox.removeFirst()
                switch C2VVerifier.verify(bytes, expectation: machine.expectation, lastCounter: lastC2VCounter,
                                          serial: module.serial, trust: trust) {
                case .accepted(let message):
                    lastC2VCounter = message.counter
                    actions = machine.handle(.messageAccepted(message), now: now)
                case .rejected(_, let status, _):
                    rejected.append(status)
                    actions = machine.handle(.messageRejected(status), now: now)
                }
                continue
            }
            switch actions.removeFirst() {
            case .send(let request):
                let bytes = try module.request(request.payload, useCase: request.useCase, transactionID: request.transactionID)
                inbox += vos.handleV2C(bytes, date: testDate).transmissions.map(\.bytes)
            case .perform(let task):
                actions += machine.handle(.taskCompleted(try perform(task)), now: now)
            case .useCaseEnded(let useCase, let status):
                ended.append((useCase, status))
            case .persist, .statusChanged, .log, .ownerPairingModeRequested, .ownerKeyDeleted, .verifierChanged:
                break
            }
        }
    }

    /// A cloud push (PP-02, KTS) reaches the module.
    func push(_ result: VOSResult) throws {
        inbox += result.transmissions.map(\.bytes)
        try drive()
    }

    /// Moves time on and runs the machine's timers (retries).
    func advance(to instant: Instant) throws {
        now = instant
        try run(machine.handleTimeout(now: now))
    }

    private func perform(_ task: ProvisioningTask) throws -> ProvisioningTaskResult {
        switch task {
        case .storeDrmUUID: return .drmUUIDStored(success: true)
        case .storeSubjectID: return .subjectIDStored(success: true)
        case .generateVehicleKeyPair:
            vehicleKey = P256.Signing.PrivateKey()
            return .vehicleKeyPairGenerated(success: true)
        case .makeVehicleCSR(let commonName):
            guard let key = vehicleKey else { return .vehicleCSRMade(nil) }
            return .vehicleCSRMade(try TestPKICSR.make(commonName: commonName, key: key).derBytes())
        case .checkVehicleCertificate(let der):
            let j1 = sharedPKI[.j1].certificate
            guard let certificate = try? Certificate(derEncoded: der), let key = vehicleKey,
                  j1.publicKey.isValidSignature(certificate.signature, for: certificate),
                  P256.Signing.PublicKey(certificate.publicKey)?.x963Representation == key.publicKey.x963Representation else {
                return .vehicleCertificateChecked(.chainOfTrustInvalid)
            }
            return .vehicleCertificateChecked(.ok)
        case .installVehicleCertificate(let der):
            installed = der
            return .vehicleCertificateInstalled(success: true)
        case .storeVerifier(let record, _):
            verifier = record
            return .verifierStored(success: true)
        }
    }
}

@Suite("Interop: the module's provisioning machine against the VOS")
struct ProvisioningInteropTests {
    @Test("TBM online: SP-02 then PP-01 complete; the VOS holds the drmUUID, subject id and installed [K]")
    func pp01() throws {
        let bench = try InteropBench()
        try bench.drive(.tbmWentOnline)
        #expect(bench.ended.map(\.0) == [.sp02, .pp01])
        #expect(bench.ended.allSatisfy { $0.1 == .ok })
        #expect(bench.rejected.isEmpty)
        let line = try #require(try bench.vos.summary().ecus.first)
        #expect(line.drmUUID != nil && line.certificateStatus == 0)
        let k = try Certificate(derEncoded: try #require(bench.installed))
        #expect(k.subject.commonName == line.subjectId)
    }

    @Test("Owner key termination from the KTS, then PP-03 and a PP-02 push: verifiers stored, password handed out")
    func verifiers() throws {
        let bench = try InteropBench()
        try bench.drive(.tbmWentOnline)
        try bench.push(try bench.vos.terminateOwnerKey(serial: testSerial, date: testDate))
        #expect(bench.ended.last.map { $0.0 == .pp03 && $0.1 == .ok } == true)
        let pp03 = try #require(bench.verifier)
        #expect(try bench.vos.summary().ecus.first?.verifierStatus == 0)
        #expect(try bench.vos.handOutPassword(serial: testSerial, date: testDate).count == 8)

        try bench.push(try bench.vos.pushVerifier(serial: testSerial, date: testDate))
        #expect(bench.ended.last.map { $0.0 == .pp02 && $0.1 == .ok } == true)
        #expect(bench.verifier != pp03)
        #expect(try bench.vos.summary().ecus.first?.verifiers == 2)
        #expect(bench.rejected.isEmpty)
    }

    @Test("Faults: a corrupted signature is rejected by the module (code 2), a wrong type too (code 8)")
    func faultsSeenByModule() throws {
        let bench = try InteropBench()
        bench.vos.faults.arm(.corruptSignature)
        try bench.drive(.tbmWentOnline)
        #expect(bench.rejected == [.signatureInvalid])
        bench.vos.faults.arm(.wrongType)
        try bench.push(try bench.vos.pushVerifier(serial: testSerial, date: testDate))
        #expect(bench.rejected.last == .unexpectedMessage)
    }

    @Test("A dropped answer: the module repeats the request after 5 s with the same transaction id and gets the same subject id")
    func dropAndRetry() throws {
        let bench = try InteropBench()
        bench.machine = ProvisioningMachine(facts: ProvisioningFacts(drmUUIDPresent: true))
        bench.vos.faults.arm(.drop)
        try bench.drive(.tbmWentOnline)
        #expect(bench.ended.isEmpty)
        #expect(try bench.vos.summary().ecus.first?.subjectId != nil)
        let issued = try bench.vos.summary().ecus.first?.subjectId
        try bench.advance(to: .milliseconds(5000))
        #expect(bench.ended.map(\.0) == [.pp01] && bench.ended.first?.1 == .ok)
        let k = try Certificate(derEncoded: try #require(bench.installed))
        #expect(k.subject.commonName == issued)
    }
}
