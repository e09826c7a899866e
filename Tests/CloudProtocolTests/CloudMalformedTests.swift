import CloudProtocol
import SpaakCore
import Testing

/// Each malformed form alone, built from a valid message by one change.
@Suite("Cloud message codec: malformed input (ICD 7.1, 7.2)")
struct CloudMalformedTests {
    static let signature: [UInt8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]
    /// A 0x0D with an owner key pending.
    static let pending = CloudPayload.ownerPairingStatus(state: .ownerKeyPending, ownerKeyID: Fixtures.ownerKeyID, status: .ok)

    /// The TLVs of a valid message of `payload`.
    static func valid(_ payload: CloudPayload, vin: String? = Fixtures.vin) -> [CloudTLV] {
        let bytes = (try? Fixtures.message(payload, vin: vin).encode(signature: signature)) ?? []
        return Fixtures.elements(bytes)
    }

    /// The TLVs of `payload` with `change` applied to the element with `tag`.
    static func changed(_ payload: CloudPayload, _ tag: CloudTag, _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var elements = valid(payload)
        for i in elements.indices where elements[i].tag == tag.rawValue { change(&elements[i].value) }
        return CloudTLV.encode(elements)
    }

    static func removing(_ payload: CloudPayload, _ tag: UInt8) -> [UInt8] {
        CloudTLV.encode(valid(payload).filter { $0.tag != tag })
    }

    static func inserting(_ payload: CloudPayload, _ element: CloudTLV) -> [UInt8] {
        var elements = valid(payload)
        let index = elements.firstIndex { $0.tag > element.tag } ?? elements.count
        elements.insert(element, at: index)
        return CloudTLV.encode(elements)
    }

    static func expect(_ bytes: [UInt8], _ error: CloudMessageError, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) { try CloudMessage.decode(bytes) }
    }

    @Test("the base messages are valid")
    func baseIsValid() throws {
        for payload in Fixtures.payloads {
            _ = try CloudMessage.decode(CloudTLV.encode(Self.valid(payload)))
        }
    }

    @Test("framing: empty, truncation, trailing bytes, missing signature")
    func framing() {
        let good = CloudTLV.encode(Self.valid(.vehicleSubjectIdRequest))
        Self.expect([], .empty)
        Self.expect(Array(good.prefix(5)), .truncatedHeader(offset: 4))
        Self.expect(Array(good.prefix(6)), .truncatedHeader(offset: 4))
        Self.expect(Array(good.dropLast()), .truncatedValue(tag: 0xFF, declared: 8, available: 7))
        Self.expect(Array(good.prefix(8)), .missingSignature)
        Self.expect(Array(good.prefix(9)), .truncatedHeader(offset: 8))
        Self.expect(good + [0x00], .bytesAfterSignature(count: 1))
        Self.expect(good + [0xFF, 0x00, 0x01, 0x30], .bytesAfterSignature(count: 4))
        Self.expect(Self.removing(.vehicleSubjectIdRequest, 0xFF), .missingSignature)
    }

    @Test("tag order: duplicate, descending, unknown")
    func tagOrder() {
        var elements = Self.valid(.vehicleSubjectIdRequest)
        elements.insert(elements[2], at: 3)
        Self.expect(CloudTLV.encode(elements), .duplicateTag(.serial))
        elements = Self.valid(.vehicleSubjectIdRequest)
        elements.swapAt(4, 5)  // 0x05 ↔ 0x06
        Self.expect(CloudTLV.encode(elements), .tagOutOfOrder(.transactionID, after: .counter))
        for unknown: UInt8 in [0x00, 0x08, 0x0F, 0x1A, 0x21, 0xFE] {
            Self.expect(Self.inserting(.vehicleSubjectIdRequest, CloudTLV(tag: unknown, value: [1])), .unknownTag(unknown))
        }
    }

    @Test("fixed and bounded sizes of every field")
    func sizes() {
        let cases: [(CloudPayload, CloudTag, Int)] = [
            (.vehicleSubjectIdRequest, .messageType, 2), (.vehicleSubjectIdRequest, .messageType, 0),
            (.vehicleSubjectIdRequest, .version, 2), (.vehicleSubjectIdRequest, .vin, 16),
            (.vehicleSubjectIdRequest, .vin, 18), (.vehicleSubjectIdRequest, .transactionID, 15),
            (.vehicleSubjectIdRequest, .transactionID, 17), (.vehicleSubjectIdRequest, .counter, 3),
            (.vehicleSubjectIdRequest, .counter, 5), (.vehicleSubjectIdRequest, .useCase, 2),
            (.vehicleSubjectIdRequest, .serial, 0), (.vehicleSubjectIdRequest, .serial, 33),
            (.vehicleIdentityCertStatus(.ok), .status, 2), (.spake2VerifierStatus(.ok), .status, 0),
            (.remoteServiceProvisioningResponse(drmUUID: Fixtures.drmUUID), .drmUUID, 15),
            (.spake2VerifierProvisioning(Fixtures.vectorRecord), .verifierRecord, 120),
            (.spake2VerifierProvisioning(Fixtures.vectorRecord), .verifierRecord, 122),
            (.spake2VerifierRequest(.ownerKeyTermination), .pp03Reason, 2),
            (.errorResponse(resultCode: 0), .resultCode, 2),
            (Self.pending, .ownerKeyID, 7), (Self.pending, .ownerKeyID, 9),
            (Self.pending, .ownerPairingState, 2), (Self.pending, .ownerPairingState, 0),
            (.vehicleSubjectIdResponse(subjectID: "S"), .subjectID, 0),
            (.vehicleSubjectIdResponse(subjectID: "S"), .subjectID, 65),
            (.vehicleIdentityCSRRequest(csr: Fixtures.csr), .csr, 0),
            (.vehicleIdentityCSRResponse(certificate: Fixtures.certificateK), .certificate, 0),
            (.vehicleIdentityCSRResponse(certificate: Fixtures.certificateK), .signerCertificate, 0),
            (.vehicleSubjectIdRequest, .signature, 0),
        ]
        for (payload, tag, length) in cases {
            let bytes = Self.changed(payload, tag) { $0 = [UInt8](repeating: 0x41, count: length) }
            Self.expect(bytes, .wrongLength(tag, length: length, allowed: tag.allowedLengths))
        }
        // The upper bounds themselves are fine.
        #expect(throws: Never.self) {
            _ = try CloudMessage.decode(Self.changed(.vehicleSubjectIdRequest, .serial) { $0 = [UInt8](repeating: 0x41, count: 32) })
            _ = try CloudMessage.decode(Self.changed(.vehicleSubjectIdResponse(subjectID: "S"), .subjectID) {
                $0 = [UInt8](repeating: 0x41, count: 64)
            })
        }
    }

    @Test("values: version, type, use case, status, reason")
    func values() throws {
        Self.expect(Self.changed(.vehicleSubjectIdRequest, .version) { $0 = [2] }, .unsupportedVersion(2))
        Self.expect(Self.changed(.vehicleSubjectIdRequest, .version) { $0 = [0] }, .unsupportedVersion(0))
        for type: UInt8 in [0x00, 0x0F, 0x7E, 0x80, 0xFF] {
            Self.expect(Self.changed(.vehicleSubjectIdRequest, .messageType) { $0 = [type] }, .unknownMessageType(type))
        }
        for useCase: UInt8 in [0, 1, 2, 8, 0xFF] {
            Self.expect(Self.changed(.vehicleSubjectIdRequest, .useCase) { $0 = [useCase] }, .unknownUseCase(useCase))
        }
        Self.expect(Self.changed(.vehicleIdentityCertStatus(.ok), .status) { $0 = [10] }, .unknownStatus(10))
        Self.expect(Self.changed(.spake2VerifierStatus(.ok), .status) { $0 = [0xFF] }, .unknownStatus(0xFF))
        Self.expect(Self.changed(.spake2VerifierRequest(.ownerKeyTermination), .pp03Reason) { $0 = [0] }, .unknownPP03Reason(0))
        Self.expect(Self.changed(.spake2VerifierRequest(.ownerKeyTermination), .pp03Reason) { $0 = [4] }, .unknownPP03Reason(4))
        // Any result code is carried.
        #expect(try CloudMessage.decode(Self.changed(.errorResponse(resultCode: 0), .resultCode) { $0 = [0xEE] }).payload
                == .errorResponse(resultCode: 0xEE))
    }

    @Test("text fields are printable ASCII")
    func ascii() {
        for (tag, payload) in [(CloudTag.serial, CloudPayload.vehicleSubjectIdRequest), (.vin, .vehicleSubjectIdRequest),
                               (.subjectID, .vehicleSubjectIdResponse(subjectID: "SUBJECT"))] {
            for bad: UInt8 in [0x00, 0x0A, 0x1F, 0x7F, 0x80, 0xC3] {
                Self.expect(Self.changed(payload, tag) { $0[0] = bad }, .notASCII(tag))
            }
        }
    }

    @Test("mandatory tags per type; the VIN is optional")
    func mandatory() {
        Self.expect(Self.removing(.vehicleSubjectIdRequest, 0x01), .missingMessageType)
        for tag: CloudTag in [.version, .serial, .transactionID, .counter, .useCase] {
            Self.expect(Self.removing(.vehicleSubjectIdRequest, tag.rawValue), .missingTag(tag, type: .vehicleSubjectIdRequest))
        }
        for payload in Fixtures.payloads {
            for tag in payload.type.payloadTags where !payload.type.optionalPayloadTags.contains(tag) {
                Self.expect(Self.removing(payload, tag.rawValue), .missingTag(tag, type: payload.type))
            }
            if payload.type.carriesSignerCertificate {
                Self.expect(Self.removing(payload, 0x20), .missingTag(.signerCertificate, type: payload.type))
            }
            #expect(throws: Never.self) { _ = try CloudMessage.decode(Self.removing(payload, 0x04)) }
            #expect((try? CloudMessage.decode(Self.removing(payload, 0x04)))?.vin == nil)
        }
    }

    @Test("tags not allowed for the type")
    func notAllowed() {
        Self.expect(Self.inserting(.vehicleSubjectIdRequest, CloudTLV(.subjectID, [0x41])),
                    .tagNotAllowed(.subjectID, type: .vehicleSubjectIdRequest))
        Self.expect(Self.inserting(.vehicleSubjectIdResponse(subjectID: "S"), CloudTLV(.csr, [0x30])),
                    .tagNotAllowed(.csr, type: .vehicleSubjectIdResponse))
        Self.expect(Self.inserting(.vehicleIdentityCertStatus(.ok), CloudTLV(.resultCode, [0])),
                    .tagNotAllowed(.resultCode, type: .vehicleIdentityCertStatus))
        Self.expect(Self.inserting(.c2vUsecaseCompletionAck, CloudTLV(.status, [0])),
                    .tagNotAllowed(.status, type: .c2vUsecaseCompletionAck))
        Self.expect(Self.inserting(.vehicleIdentityCSRRequest(csr: Fixtures.csr), CloudTLV(.signerCertificate, [0x30])),
                    .tagNotAllowed(.signerCertificate, type: .vehicleIdentityCSRRequest))
        Self.expect(Self.inserting(.ownerKeyTermination, CloudTLV(.signerCertificate, [0x30])),
                    .tagNotAllowed(.signerCertificate, type: .ownerKeyTermination))
        // A payload of another type in place of the right one.
        let swapped = Self.changed(.spake2VerifierStatus(.ok), .messageType) { $0 = [0x09] }
        Self.expect(swapped, .tagNotAllowed(.status, type: .spake2VerifierRequest))
    }
}
