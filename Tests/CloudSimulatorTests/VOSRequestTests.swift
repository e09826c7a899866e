import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import SpaakCore
import Testing
import TestPKI
import X509

@Suite("VOS: each request and its response")
struct VOSRequestTests {
    @Test("SP-02 and PP-01 end to end: 0x07→0x08, 0x01→0x02, 0x03→0x04, 0x05→0x06", arguments: RepositoryKind.allCases)
    func pp01(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)

        let txn1 = Array(repeating: UInt8(0x11), count: 16)
        let sp02 = try #require(try exchange(vos, module.request(.remoteServiceProvisioningRequest, useCase: .sp02, transactionID: txn1)))
        #expect(sp02.signatureValid)
        #expect(sp02.message.type == .remoteServiceProvisioningResponse)
        #expect(sp02.message.transactionID == txn1)
        #expect(sp02.message.serial == testSerial)
        #expect(sp02.message.vin == module.vin)
        #expect(sp02.message.useCase == .sp02)
        #expect(sp02.message.counter == 1)
        #expect(sp02.message.signerCertificate == sharedPKI[.vos].der)
        guard case .remoteServiceProvisioningResponse(let drmUUID) = sp02.message.payload else { Issue.record("payload"); return }
        #expect(drmUUID.count == 16)

        let txn2 = Array(repeating: UInt8(0x22), count: 16)
        let subject = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest, transactionID: txn2)))
        #expect(subject.message.counter == 2)
        #expect(subject.message.transactionID == txn2)
        guard case .vehicleSubjectIdResponse(let subjectId) = subject.message.payload else { Issue.record("payload"); return }
        #expect(subjectId.count == 16 && subjectId.allSatisfy(\.isHexDigit))

        let vehicleKey = P256.Signing.PrivateKey()
        let csr = try module.csr(commonName: subjectId, key: vehicleKey)
        let k = try #require(try exchange(vos, module.request(.vehicleIdentityCSRRequest(csr: csr))))
        #expect(k.signatureValid)
        guard case .vehicleIdentityCSRResponse(let der) = k.message.payload else { Issue.record("payload \(k.message.type)"); return }
        let certificate = try Certificate(derEncoded: der)
        #expect(certificate.subject.commonName == subjectId)
        #expect(certificate.issuer == sharedPKI[.j1].certificate.subject)
        #expect(sharedPKI[.j1].certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        #expect(P256.Signing.PublicKey(certificate.publicKey)?.x963Representation == vehicleKey.publicKey.x963Representation)

        let ack = try #require(try exchange(vos, module.request(.vehicleIdentityCertStatus(.ok))))
        #expect(ack.message.type == .c2vUsecaseCompletionAck)
        #expect(ack.message.counter == 4)

        let line = try #require(try vos.summary().ecus.first)
        #expect(line.vin == module.vin)
        #expect(line.drmUUID == drmUUID)
        #expect(line.subjectId == subjectId)
        #expect(line.certificateStatus == 0)
        #expect(line.v2cCounter == 4 && line.c2vCounter == 4)
    }

    @Test("A retried VehicleSubjectIdRequest (same transaction id) gets the same subject id; a new one a new id")
    func subjectIdRetry() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let txn = Array(repeating: UInt8(0x33), count: 16)
        let first = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest, transactionID: txn)))
        let retry = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest, transactionID: txn)))
        let fresh = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest, transactionID: Array(repeating: 0x34, count: 16))))
        #expect(first.message.payload == retry.message.payload)
        #expect(first.message.payload != fresh.message.payload)
        #expect(retry.message.counter > first.message.counter)
    }

    @Test("PP-03: 0x09→0x0A with a valid verifier record, 0x0B→0x06", arguments: RepositoryKind.allCases)
    func pp03(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        let txn = Array(repeating: UInt8(0x44), count: 16)
        let answer = try #require(try exchange(vos, module.request(.spake2VerifierRequest(.verifierMissingAtPairing),
                                                                    useCase: .pp03, transactionID: txn)))
        #expect(answer.signatureValid)
        #expect(answer.message.transactionID == txn)
        guard case .spake2VerifierProvisioning(let record) = answer.message.payload else { Issue.record("payload"); return }
        #expect(record.n == 1024 && record.r == 8 && record.p == 1)
        #expect(record.validationStatus == .ok)

        let ack = try #require(try exchange(vos, module.request(.spake2VerifierStatus(.ok), useCase: .pp03,
                                                                 transactionID: Array(repeating: 0x45, count: 16))))
        #expect(ack.message.type == .c2vUsecaseCompletionAck)
        let line = try #require(try vos.summary().ecus.first)
        #expect(line.verifierStatus == 0 && line.verifiers == 1 && line.passwordPending)
    }

    @Test("The verifier record matches the ICD 7.6 test vector for its password, salt and N = 4096")
    func scryptVector() throws {
        let module = try FakeModule()
        // pushVerifier draws: transaction id (16), password digits (26, the first 13 used), salt (16).
        let random = ScriptedRandom(script: [Array(repeating: 0x77, count: 16), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2],
                                             Array(0...15)])
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: InMemoryCloudRepository(),
                                   configuration: VOSConfiguration(scryptN: 4096, passwordDigits: 13), randomBytes: random.bytes)
        try vos.registerECU(certificate: module.certificateDER, date: testDate)
        let push = try #require(try vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first)
        let c2v = try C2V(push.bytes)
        #expect(c2v.message.useCase == .pp02)
        #expect(c2v.message.transactionID == Array(repeating: 0x77, count: 16))
        guard case .spake2VerifierProvisioning(let record) = c2v.message.payload else { Issue.record("payload"); return }
        #expect(record.salt == Array(0...15))
        #expect(record.n == 4096)
        #expect(record.w0.hexString.lowercased() == "b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b")
        #expect(record.l.hexString.lowercased() == "0438186240a99f81034d718c162bb8404dcce6e0d1a1414b6ac36288db9a6d8d05d63e4ce30346"
                + "3331668c445773d17d2d3842f2d3bc2d008dfd73ffa79eaae04a")
        // The module confirms the push (echoing its transaction id); then the password is the vector's.
        _ = try #require(try exchange(vos, module.request(.spake2VerifierStatus(.ok), useCase: .pp02,
                                                           transactionID: Array(repeating: 0x77, count: 16))))
        #expect(try vos.handOutPassword(serial: testSerial, date: testDate) == "0123456789012")
    }

    @Test("A status without anything outstanding and a C2V type sent V2C are answered with ErrorResponse 8")
    func unexpected() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let status = try #require(try exchange(vos, module.request(.vehicleIdentityCertStatus(.ok))))
        #expect(status.message.payload == .errorResponse(resultCode: 8))
        let verifier = try #require(try exchange(vos, module.request(.spake2VerifierStatus(.ok), useCase: .pp03)))
        #expect(verifier.message.payload == .errorResponse(resultCode: 8))
        // A C2V payload in a V2C envelope cannot be built by SpaakRequest: assemble it by hand.
        module.counter += 1
        let message = CloudMessage(serial: testSerial, vin: nil, transactionID: Array(repeating: 1, count: 16), counter: module.counter,
                                   useCase: .pp01, payload: .c2vUsecaseCompletionAck, signerCertificate: sharedPKI[.vos].der)
        let bytes = try message.encode(signature: CloudSigning.signer(module.key)(message.encodeUnsigned()))
        let answer = try #require(try exchange(vos, bytes))
        #expect(answer.message.payload == .errorResponse(resultCode: 8))
    }
}
