import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import SpaakCore
import Testing
import TestPKI

@Suite("VOS: pushes, KTS, pairing password, restart")
struct VOSCommandTests {
    /// PP-02 push confirmed by the module (echoing the push's transaction id).
    func pushAndConfirm(_ vos: VehicleOEMServer, _ module: FakeModule, status: CloudStatus = .ok) throws -> C2V {
        let push = try C2V(try #require(try vos.pushVerifier(serial: module.serial, date: testDate).transmissions.first).bytes)
        _ = try #require(try exchange(vos, module.request(.spake2VerifierStatus(status), useCase: .pp02,
                                                           transactionID: push.message.transactionID)))
        return push
    }

    @Test("The pairing password is handed out once, only after the vehicle confirmed its verifier", arguments: RepositoryKind.allCases)
    func passwordOnce(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: testSerial, date: testDate) }
        let push = try C2V(try #require(try vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first).bytes)
        #expect(push.message.type == .spake2VerifierProvisioning && push.signatureValid)
        #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: testSerial, date: testDate) }  // not confirmed
        _ = try #require(try exchange(vos, module.request(.spake2VerifierStatus(.ok), useCase: .pp02,
                                                           transactionID: push.message.transactionID)))
        let password = try vos.handOutPassword(serial: testSerial, date: testDate)
        #expect(password.count == 8 && password.allSatisfy(\.isNumber))
        #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: testSerial, date: testDate) }
        #expect(try vos.summary().ecus.first?.passwordPending == false)
        // A verifier the module refused (status 1) has no password to hand out.
        _ = try pushAndConfirm(vos, module, status: .malformed)
        #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: testSerial, date: testDate) }
        // A new verifier brings a new password.
        _ = try pushAndConfirm(vos, module)
        #expect(try vos.handOutPassword(serial: testSerial, date: testDate).count == 8)
    }

    @Test("The KTS termination is signed by [ZZ2] without a signer certificate, shares the counter, revokes the verifier")
    func ownerKeyTermination() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let push = try pushAndConfirm(vos, module)
        let termination = try C2V(try #require(try vos.terminateOwnerKey(serial: testSerial, date: testDate).transmissions.first).bytes)
        #expect(termination.message.type == .ownerKeyTermination)
        #expect(termination.signatureValid)  // under the [ZZ2] key
        #expect(termination.message.signerCertificate == nil)
        #expect(termination.message.counter == push.message.counter + 2)  // push, ack, termination
        #expect(termination.message.transactionID != push.message.transactionID)
        #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: testSerial, date: testDate) }
        // PP-03 follows: a fresh verifier.
        let answer = try #require(try exchange(vos, module.request(.spake2VerifierRequest(.ownerKeyTermination), useCase: .pp03)))
        #expect(answer.message.type == .spake2VerifierProvisioning)
        #expect(answer.message.counter == termination.message.counter + 1)
    }

    @Test("A verifier made in advance is used when its scrypt parameters match, ignored otherwise")
    func preparedVerifier() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let matching = try VehicleOEMServer.makeVerifier(configuration: VOSConfiguration(scryptN: 1024), randomBytes: ScriptedRandom(seed: 5).bytes)
        let other = try VehicleOEMServer.makeVerifier(configuration: VOSConfiguration(scryptN: 2048), randomBytes: ScriptedRandom(seed: 6).bytes)
        var pool = [other, matching]
        vos.verifierSource = { pool.isEmpty ? nil : pool.removeLast() }
        let first = try C2V(try #require(try vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first).bytes)
        #expect(first.message.payload == .spake2VerifierProvisioning(matching.record))
        let second = try C2V(try #require(try vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first).bytes)
        guard case .spake2VerifierProvisioning(let record) = second.message.payload else { Issue.record("payload"); return }
        #expect(record.n == 1024 && record != other.record)
    }

    @Test("Commands for an unknown ECU are refused")
    func unknownECUCommands() throws {
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: InMemoryCloudRepository())
        #expect(throws: VOSCommandError.self) { try vos.pushVerifier(serial: "SPK9", date: testDate) }
        #expect(throws: VOSCommandError.self) { try vos.terminateOwnerKey(serial: "SPK9", date: testDate) }
        #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: "SPK9", date: testDate) }
    }

    @Test("The SQLite database keeps ECUs, counters, subject ids, verifiers and passwords across a restart")
    func restart() throws {
        let path = temporaryPath("restart.sqlite")
        let module = try FakeModule()
        let txn = Array(repeating: UInt8(0x66), count: 16)
        var subjectResponse: CloudPayload?
        var lastC2V: UInt32 = 0
        var drm: CloudPayload?
        do {
            let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try GRDBCloudRepository(path: path),
                                       configuration: VOSConfiguration(scryptN: 1024), randomBytes: ScriptedRandom(seed: 1).bytes)
            try vos.registerECU(certificate: module.certificateDER, date: testDate)
            drm = try #require(try exchange(vos, module.request(.remoteServiceProvisioningRequest, useCase: .sp02))).message.payload
            subjectResponse = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest, transactionID: txn))).message.payload
            _ = try pushAndConfirm(vos, module)
            lastC2V = try #require(try vos.summary().ecus.first?.c2vCounter)
        }
        // A new process: same file, a different random source.
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try GRDBCloudRepository(path: path),
                                   configuration: VOSConfiguration(scryptN: 1024), randomBytes: ScriptedRandom(seed: 99).bytes)
        let line = try #require(try vos.summary().ecus.first)
        #expect(line.serial == testSerial && line.vin == module.vin && line.verifierStatus == 0 && line.passwordPending)
        // The counter of the module is remembered: an old counter is still a replay.
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 1)) == nil)
        // The same transaction id gets the same subject id; the drmUUID is the same; the cloud counter goes on.
        let again = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest, transactionID: txn)))
        #expect(again.message.payload == subjectResponse)
        #expect(again.message.counter == lastC2V + 1)
        #expect(try exchange(vos, module.request(.remoteServiceProvisioningRequest, useCase: .sp02))?.message.payload == drm)
        // The password survives and is still handed out once.
        #expect(try vos.handOutPassword(serial: testSerial, date: testDate).count == 8)
        let reopened = VehicleOEMServer(hierarchy: sharedPKI, repository: try GRDBCloudRepository(path: path))
        #expect(throws: VOSCommandError.self) { try reopened.handOutPassword(serial: testSerial, date: testDate) }
    }
}
