import CloudProtocol
import SpaakCore
import Testing

@Suite("Cloud message codec: round trips and byte layout (ICD 7.1, 7.2)")
struct CloudCodecTests {
    static let signature: [UInt8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]

    @Test("every message type round-trips, with and without VIN", arguments: Fixtures.payloads)
    func roundTrip(payload: CloudPayload) throws {
        for vin in [Fixtures.vin, nil] {
            var message = Fixtures.message(payload, vin: vin, counter: 0xDEAD_BEEF)
            let bytes = try message.encode(signature: Self.signature)
            message.signature = Self.signature
            let decoded = try CloudMessage.decode(bytes)
            #expect(decoded == message)
            #expect(decoded.type == payload.type)
            #expect(try decoded.encode() == bytes)  // canonical
            #expect(try Array(bytes.prefix(bytes.count - 3 - Self.signature.count)) == message.encodeUnsigned())
            #expect(Array(bytes.suffix(Self.signature.count + 3)) == [0xFF, 0x00, 0x08] + Self.signature)
        }
    }

    @Test("the types, tags and names of ICD 7.2")
    func typeTable() {
        #expect(CloudMessageType.allCases.map(\.rawValue) == Array(0x01...0x0E) + [0x7F])
        #expect(Set(Fixtures.payloads.map(\.type)) == Set(CloudMessageType.allCases))
        #expect(CloudMessageType.spake2VerifierProvisioning.description == "Spake2VerifierProvisioning")
        #expect(CloudMessageType.c2vUsecaseCompletionAck.description == "C2VUsecaseCompletionAck")
        let v2c = CloudMessageType.allCases.filter { $0.direction == .vehicleToCloud }.map(\.rawValue)
        #expect(v2c == [0x01, 0x03, 0x05, 0x07, 0x09, 0x0B, 0x0D])
        #expect(CloudMessageType.allCases.filter(\.carriesSignerCertificate).map(\.rawValue)
                == [0x02, 0x04, 0x06, 0x08, 0x0A, 0x0E, 0x7F])
        #expect(UseCase.cloudUseCases.map(\.rawValue) == [3, 4, 5, 6, 7])
        #expect(CloudStatus.allCases.map(\.rawValue) == Array(0...9))
        #expect(PP03Reason.allCases.map(\.rawValue) == [1, 2, 3])
    }

    @Test("VehicleSubjectIdRequest: exact bytes")
    func exactBytes() throws {
        let message = CloudMessage(
            serial: "SPK0000000001", vin: "VF1AB000000000001", transactionID: Array(0xA0...0xAF),
            counter: 0x0102_0304, useCase: .pp01, payload: .vehicleSubjectIdRequest)
        let expected = "010001" + "01" + "020001" + "01"
            + "03000D" + Array("SPK0000000001".utf8).hexString
            + "040011" + Array("VF1AB000000000001".utf8).hexString
            + "050010" + "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
            + "060004" + "01020304"
            + "070001" + "03"
        #expect(try message.encodeUnsigned().hexString == expected)
        #expect(try message.encode(signature: [0x30, 0x00]).hexString == expected + "FF00023000")
    }

    @Test("payload bytes: verifier record, status, reason, result code, drmUUID")
    func payloadBytes() throws {
        func payloadTLV(_ payload: CloudPayload) throws -> [UInt8] {
            let unsigned = try Fixtures.message(payload).encodeUnsigned()
            let header = try Fixtures.message(.vehicleSubjectIdRequest).encodeUnsigned()
            return Array(unsigned.dropFirst(header.count))
        }
        #expect(try payloadTLV(.spake2VerifierStatus(.malformed)) == [0x13, 0x00, 0x01, 0x01])
        #expect(try payloadTLV(.spake2VerifierRequest(.verifierMissingAtPairing)) == [0x16, 0x00, 0x01, 0x03])
        #expect(try payloadTLV(.remoteServiceProvisioningResponse(drmUUID: Fixtures.drmUUID)).prefix(4 + 16)
                == [0x14, 0x00, 0x10] + Fixtures.drmUUID + [0x20])
        let record = try payloadTLV(.spake2VerifierProvisioning(Fixtures.vectorRecord))
        #expect(Array(record.prefix(3 + 121)) == [0x15, 0x00, 0x79] + Fixtures.vectorRecord.bytes)
        #expect(Array(record.suffix(3 + Fixtures.vosCertificate.count)) == [0x20, 0x00, 0x06] + Fixtures.vosCertificate)
    }

    @Test("the encoder refuses what the decoder would refuse")
    func encoderChecks() {
        func fails(_ message: CloudMessage, _ error: CloudMessageError) {
            #expect(throws: error) { try message.encode(signature: Self.signature) }
        }
        var m = Fixtures.message(.vehicleSubjectIdRequest)
        m.transactionID = Array(0..<15)
        fails(m, .wrongLength(.transactionID, length: 15, allowed: 16...16))
        m = Fixtures.message(.vehicleSubjectIdRequest, vin: "VF1AB00000000001")
        fails(m, .wrongLength(.vin, length: 16, allowed: 17...17))
        m = Fixtures.message(.vehicleSubjectIdRequest, serial: "SPK-é")
        fails(m, .notASCII(.serial))
        m = Fixtures.message(.vehicleSubjectIdRequest, serial: "")
        fails(m, .wrongLength(.serial, length: 0, allowed: 1...32))
        m = Fixtures.message(.vehicleSubjectIdResponse(subjectID: String(repeating: "S", count: 65)))
        fails(m, .wrongLength(.subjectID, length: 65, allowed: 1...64))
        m = Fixtures.message(.vehicleIdentityCSRResponse(certificate: Fixtures.certificateK))
        m.signerCertificate = nil
        fails(m, .missingTag(.signerCertificate, type: .vehicleIdentityCSRResponse))
        m = Fixtures.message(.vehicleIdentityCSRRequest(csr: Fixtures.csr))
        m.signerCertificate = Fixtures.vosCertificate
        fails(m, .tagNotAllowed(.signerCertificate, type: .vehicleIdentityCSRRequest))
        m = Fixtures.message(.ownerKeyTermination)
        m.signerCertificate = Fixtures.vosCertificate
        fails(m, .tagNotAllowed(.signerCertificate, type: .ownerKeyTermination))
        m = Fixtures.message(.remoteServiceProvisioningResponse(drmUUID: Array(0..<15)))
        fails(m, .wrongLength(.drmUUID, length: 15, allowed: 16...16))
        m = Fixtures.message(.vehicleIdentityCSRRequest(csr: []))
        fails(m, .wrongLength(.csr, length: 0, allowed: 1...4095))
        #expect(throws: CloudMessageError.wrongLength(.signature, length: 0, allowed: 1...4095)) {
            try Fixtures.message(.vehicleSubjectIdRequest).encode(signature: [])
        }
    }

    @Test("size limit: 4095 bytes fit, 4096 do not")
    func sizeLimit() throws {
        let base = try Fixtures.message(.vehicleIdentityCSRRequest(csr: [0x30])).encode(signature: [0x30])
        let room = 4095 - base.count + 1  // CSR length giving exactly 4095 bytes
        let fits = try Fixtures.message(.vehicleIdentityCSRRequest(csr: [UInt8](repeating: 0x30, count: room))).encode(signature: [0x30])
        #expect(fits.count == 4095)
        #expect(try CloudMessage.decode(fits).type == .vehicleIdentityCSRRequest)
        let big = Fixtures.message(.vehicleIdentityCSRRequest(csr: [UInt8](repeating: 0x30, count: room + 1)))
        #expect(throws: CloudMessageError.tooLarge(count: 4096)) { try big.encode(signature: [0x30]) }
        let raw = Fixtures.elements(fits)
        var grown = raw
        grown[7].value.append(0x30)
        #expect(throws: CloudMessageError.tooLarge(count: 4096)) { try CloudMessage.decode(CloudTLV.encode(grown)) }
    }
}
