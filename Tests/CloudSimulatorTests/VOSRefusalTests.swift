import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import SpaakCore
import Testing
import TestPKI
import X509

@Suite("VOS: refused requests")
struct VOSRefusalTests {
    @Test("An unknown ECU gets no answer and the log says to add it to the PKI", arguments: RepositoryKind.allCases)
    func unknownECU(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let stranger = try FakeModule(serial: "SPK0000000099")
        let vos = try makeVOS(kind, module: module)
        let result = vos.handleV2C(try stranger.request(.vehicleSubjectIdRequest), date: testDate)
        #expect(result.transmissions.isEmpty)
        let event = try #require(result.events.first)
        #expect(event.outcome == .refused)
        #expect(event.serial == "SPK0000000099")
        #expect(event.detail?.contains("add ECU ids to the PKI before doing anything") == true)
        #expect(try vos.summary().ecus.map(\.serial) == [testSerial])
    }

    @Test("An unknown serial's certificate is registered from the certificate source, then answered")
    func autoRegister() throws {
        let module = try FakeModule(serial: "SPK0000000007")
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: InMemoryCloudRepository(),
                                   configuration: VOSConfiguration(scryptN: 1024), randomBytes: ScriptedRandom().bytes)
        vos.ecuCertificateSource = { $0 == "SPK0000000007" ? module.certificateDER : nil }
        let result = vos.handleV2C(try module.request(.vehicleSubjectIdRequest), date: testDate)
        #expect(result.transmissions.count == 1)
        #expect(result.events.first?.detail?.contains("registered") == true)
    }

    @Test("A signature by another key gets no answer and does not use up the counter", arguments: RepositoryKind.allCases)
    func badSignature(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        let forged = try module.request(.vehicleSubjectIdRequest, counter: 5, signer: P256.Signing.PrivateKey())
        let result = vos.handleV2C(forged, date: testDate)
        #expect(result.transmissions.isEmpty)
        #expect(result.events.first?.detail?.contains("signature invalid") == true)
        // The genuine message with the same counter is still accepted.
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 5)) != nil)
    }

    @Test("A flipped byte in the covered part breaks the signature")
    func tampered() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        var bytes = try module.request(.vehicleSubjectIdRequest)
        bytes[12] ^= 0x01  // inside the serial
        let result = vos.handleV2C(bytes, date: testDate)
        #expect(result.transmissions.isEmpty)
        #expect(result.events.first?.outcome == .refused)
    }

    @Test("A replayed or older counter gets no answer", arguments: RepositoryKind.allCases)
    func replay(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        let request = try module.request(.vehicleSubjectIdRequest, counter: 10)
        #expect(try exchange(vos, request) != nil)
        let again = vos.handleV2C(request, date: testDate)
        #expect(again.transmissions.isEmpty)
        #expect(again.events.first?.detail?.contains("replayed counter 10") == true)
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 9)) == nil)
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 11)) != nil)
    }

    @Test("reset-counter lets a module with a wiped store (counter from 1 again) be heard")
    func resetCounter() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 50)) != nil)
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 1)) == nil)
        try vos.resetCounter(serial: testSerial)
        #expect(try exchange(vos, module.request(.vehicleSubjectIdRequest, counter: 1)) != nil)
    }

    @Test("A CSR whose CN is not the issued subject id is answered with ErrorResponse 9, no [K] issued",
          arguments: RepositoryKind.allCases)
    func csrWrongCN(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        _ = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest)))
        let csr = try module.csr(commonName: "NOT-THE-SUBJECT-ID", key: P256.Signing.PrivateKey())
        let answer = try #require(try exchange(vos, module.request(.vehicleIdentityCSRRequest(csr: csr))))
        #expect(answer.signatureValid)
        #expect(answer.message.payload == .errorResponse(resultCode: 9))
        #expect(try vos.summary().ecus.first?.certificates == 0)
    }

    @Test("A CSR before any subject id is ErrorResponse 8; a CSR that is not PKCS#10 is ErrorResponse 9")
    func csrOutOfOrderOrGarbage() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let csr = try module.csr(commonName: "X", key: P256.Signing.PrivateKey())
        let early = try #require(try exchange(vos, module.request(.vehicleIdentityCSRRequest(csr: csr))))
        #expect(early.message.payload == .errorResponse(resultCode: 8))
        _ = try #require(try exchange(vos, module.request(.vehicleSubjectIdRequest)))
        let garbage = try #require(try exchange(vos, module.request(.vehicleIdentityCSRRequest(csr: [0x30, 0x03, 0x02, 0x01, 0x00]))))
        #expect(garbage.message.payload == .errorResponse(resultCode: 9))
    }

    @Test("Malformed bytes are discarded without an answer")
    func malformed() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        var truncated = try module.request(.vehicleSubjectIdRequest)
        truncated.removeLast(5)
        for bytes in [[], [0x01], truncated, Array(repeating: 0xFF, count: 40)] as [[UInt8]] {
            let result = vos.handleV2C(bytes, date: testDate)
            #expect(result.transmissions.isEmpty)
            #expect(result.events.first?.detail?.contains("malformed") == true)
        }
    }

    @Test("Only certificates issued by this PKI's [J1] can be registered")
    func registration() throws {
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: InMemoryCloudRepository())
        let otherPKI = try TestPKIHierarchy.generate(now: testDate, validityDays: 365)
        let foreign = try FakeModule(serial: "SPK0000000002", pki: otherPKI)
        #expect(throws: VOSCommandError.self) { try vos.registerECU(certificate: foreign.certificateDER, date: testDate) }
        #expect(throws: VOSCommandError.self) { try vos.registerECU(certificate: [0x30, 0x00], date: testDate) }
        // PEM is accepted as well as DER.
        let module = try FakeModule(serial: "SPK0000000003")
        let pem = try Certificate(derEncoded: module.certificateDER).pemString()
        #expect(try vos.registerECU(certificate: Array(pem.utf8), date: testDate) == "SPK0000000003")
    }
}
