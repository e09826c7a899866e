@testable import CloudPostgres
import CloudProtocol
import CloudSimulator
import Crypto
import Foundation
import SpaakCore
import TestPKI
import XCTest

/// The module's side of a short exchange: its ECU identity key and certificate (issued by the
/// test PKI), its counter, signed V2C requests.
final class TestModule {
    let serial: String
    let key = P256.Signing.PrivateKey()
    let certificateDER: [UInt8]
    let vin = "VF3ABCDEF12345678"
    private var counter: UInt32 = 0

    init(serial: String = "SPK0000000001") throws {
        self.serial = serial
        let csr = try TestPKICSR.make(commonName: serial, key: key)
        certificateDER = try sharedPKI.issueECUIdentityCertificate(csr: csr, now: testDate).derBytes()
    }

    /// A signed V2C request with the next counter.
    func request(_ payload: CloudPayload, useCase: UseCase = .pp01, transactionID: [UInt8]) throws -> [UInt8] {
        counter += 1
        return try SpaakRequest.build(serial: serial, vin: vin, transactionID: transactionID, counter: counter, useCase: useCase,
                                      payload: payload, signer: CloudSigning.signer(key))
    }
}

/// A `VehicleOEMServer` on PostgreSQL through PP-01 (subject id, [K] CSR, install status),
/// with the second half answered by another instance on the same database.
final class PostgresVOSTests: PostgresTestCase {
    func testPP01AcrossTwoInstances() throws {
        let module = try TestModule()
        let first = VehicleOEMServer(hierarchy: sharedPKI, repository: try PostgresCloudRepository(url: url))
        let second = VehicleOEMServer(hierarchy: sharedPKI, repository: try PostgresCloudRepository(url: url))
        _ = try first.registerECU(certificate: module.certificateDER, date: testDate)
        _ = try second.registerECU(certificate: module.certificateDER, date: testDate)  // both instances register: an upsert

        func exchange(_ vos: VehicleOEMServer, _ request: [UInt8]) throws -> CloudMessage {
            let result = vos.handleV2C(request, date: testDate)
            guard let answer = result.transmissions.first else { throw PostgresTestError("no answer: \(result.events)") }
            let decoded = try CloudMessageCodec.decode(answer.bytes)
            XCTAssertTrue(CloudSigning.isValid(signature: decoded.message.signature, of: decoded.signedBytes,
                                               key: sharedPKI[.vos].key.publicKey))
            return decoded.message
        }

        let txn = Array(repeating: UInt8(0x22), count: 16)
        let subject = try exchange(first, module.request(.vehicleSubjectIdRequest, transactionID: txn))
        guard case .vehicleSubjectIdResponse(let subjectId) = subject.payload else { return XCTFail("\(subject.type)") }
        XCTAssertEqual(subject.counter, 1)
        // A resent request (same transaction id) on the other instance: the same subject id.
        let again = try exchange(second, module.request(.vehicleSubjectIdRequest, transactionID: txn))
        XCTAssertEqual(again.payload, subject.payload)

        let vehicleKey = P256.Signing.PrivateKey()
        let csr = try TestPKICSR.make(commonName: subjectId, key: vehicleKey).derBytes()
        let k = try exchange(second, module.request(.vehicleIdentityCSRRequest(csr: csr), transactionID: Array(repeating: 0x33, count: 16)))
        guard case .vehicleIdentityCSRResponse(let der) = k.payload else { return XCTFail("\(k.type)") }
        XCTAssertFalse(der.isEmpty)
        let ack = try exchange(first, module.request(.vehicleIdentityCertStatus(.ok), transactionID: Array(repeating: 0x33, count: 16)))
        XCTAssertEqual(ack.type, .c2vUsecaseCompletionAck)
        XCTAssertEqual(ack.counter, 4)

        let line = try XCTUnwrap(try first.summary().ecus.first)
        XCTAssertEqual(line.subjectId, subjectId)
        XCTAssertEqual(line.certificateStatus, 0)
        XCTAssertEqual(line.v2cCounter, 4)
        XCTAssertEqual(line.c2vCounter, 4)
        XCTAssertEqual(line.vin, module.vin)
    }
}
