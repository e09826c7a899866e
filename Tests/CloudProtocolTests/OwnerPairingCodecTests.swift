import CloudProtocol
import SpaakCore
import Testing

/// OwnerPairingStatus 0x0D and OwnerPairingModeRequest 0x0E (ICD 7.1, 7.2, 8.5).
@Suite("Cloud message codec: owner pairing 0x0D / 0x0E (ICD 8.5)")
struct OwnerPairingCodecTests {
    static let signature: [UInt8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]
    static let active = CloudPayload.ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: Fixtures.ownerKeyID, status: .ok)

    /// A 0x0D or 0x0E with use case 7.
    static func message(_ payload: CloudPayload) -> CloudMessage {
        var message = Fixtures.message(payload)
        message.useCase = .ownerPairing
        return message
    }

    /// The TLVs of a valid 0x0D (state 3) with `change` applied to the element with `tag`.
    static func changed(_ tag: CloudTag, _ change: (inout [UInt8]) -> Void) throws -> [UInt8] {
        var elements = Fixtures.elements(try message(active).encode(signature: signature))
        for i in elements.indices where elements[i].tag == tag.rawValue { change(&elements[i].value) }
        return CloudTLV.encode(elements)
    }

    static func elements(_ payload: CloudPayload) throws -> [CloudTLV] {
        Fixtures.elements(try message(payload).encode(signature: signature))
    }

    @Test("0x0D: exact payload bytes, 0x13 then 0x18 then 0x19; use case 7")
    func statusBytes() throws {
        let unsigned = try Self.message(Self.active).encodeUnsigned()
        let header = try Self.message(.vehicleSubjectIdRequest).encodeUnsigned()
        #expect(Array(header.suffix(4)) == [0x07, 0x00, 0x01, 0x07])
        #expect(Array(unsigned.dropFirst(header.count)).hexString
                == "130001" + "00" + "180008" + "5A11223344556677" + "190001" + "03")
        #expect(unsigned.first.map { _ in unsigned[3] } == 0x0D)
        let windowRefused = CloudPayload.ownerPairingStatus(state: .noOwnerKey, ownerKeyID: nil, status: .unexpectedMessage)
        let refused = try Self.message(windowRefused).encodeUnsigned()
        #expect(Array(refused.dropFirst(header.count)).hexString == "130001" + "08" + "190001" + "00")
    }

    @Test("0x0D round-trips in every state, with the key id exactly when a key exists")
    func roundTrips() throws {
        for state in OwnerPairingState.allCases {
            for status in [CloudStatus.ok, .unexpectedMessage] {
                let payload = CloudPayload.ownerPairingStatus(
                    state: state, ownerKeyID: state.hasOwnerKey ? Fixtures.ownerKeyID : nil, status: status)
                var message = Self.message(payload)
                let bytes = try message.encode(signature: Self.signature)
                message.signature = Self.signature
                let decoded = try CloudMessage.decode(bytes)
                #expect(decoded == message)
                #expect(decoded.useCase == .ownerPairing)
                #expect(decoded.type == .ownerPairingStatus)
                #expect(decoded.type.direction == .vehicleToCloud)
                #expect(try decoded.encode() == bytes)
            }
        }
        #expect(OwnerPairingState.allCases.map(\.rawValue) == [0, 1, 2, 3])
        #expect(OwnerPairingState.allCases.filter(\.hasOwnerKey) == [.ownerKeyPending, .ownerKeyActive])
    }

    @Test("0x0D: strict sizes of 0x18 (8 bytes) and 0x19 (1 byte)")
    func sizes() throws {
        for length in [0, 1, 7, 9, 16] {
            #expect(throws: CloudMessageError.wrongLength(.ownerKeyID, length: length, allowed: 8...8)) {
                try CloudMessage.decode(try Self.changed(.ownerKeyID) { $0 = Array(repeating: 0xAB, count: length) })
            }
        }
        for length in [0, 2, 8] {
            #expect(throws: CloudMessageError.wrongLength(.ownerPairingState, length: length, allowed: 1...1)) {
                try CloudMessage.decode(try Self.changed(.ownerPairingState) { $0 = Array(repeating: 0x03, count: length) })
            }
        }
        // The encoder refuses the same.
        for length in [7, 9] {
            let payload = CloudPayload.ownerPairingStatus(
                state: .ownerKeyPending, ownerKeyID: Array(repeating: 1, count: length), status: .ok)
            #expect(throws: CloudMessageError.wrongLength(.ownerKeyID, length: length, allowed: 8...8)) {
                try Self.message(payload).encode(signature: Self.signature)
            }
        }
    }

    @Test("0x0D: unknown state or status, missing state or status")
    func values() throws {
        #expect(throws: CloudMessageError.unknownOwnerPairingState(4)) {
            try CloudMessage.decode(try Self.changed(.ownerPairingState) { $0 = [4] })
        }
        #expect(throws: CloudMessageError.unknownStatus(10)) {
            try CloudMessage.decode(try Self.changed(.status) { $0 = [10] })
        }
        for tag in [CloudTag.status, .ownerPairingState] {
            let bytes = CloudTLV.encode(try Self.elements(Self.active).filter { $0.tag != tag.rawValue })
            #expect(throws: CloudMessageError.missingTag(tag, type: .ownerPairingStatus)) { try CloudMessage.decode(bytes) }
        }
        // 0x0D carries no signer certificate and no other payload tag.
        var elements = try Self.elements(Self.active)
        elements.insert(CloudTLV(.signerCertificate, Fixtures.vosCertificate), at: elements.count - 1)
        #expect(throws: CloudMessageError.tagNotAllowed(.signerCertificate, type: .ownerPairingStatus)) {
            try CloudMessage.decode(CloudTLV.encode(elements))
        }
        elements = try Self.elements(Self.active)
        elements.insert(CloudTLV(.pp03Reason, [1]), at: elements.firstIndex { $0.tag == 0x18 } ?? 0)
        #expect(throws: CloudMessageError.tagNotAllowed(.pp03Reason, type: .ownerPairingStatus)) {
            try CloudMessage.decode(CloudTLV.encode(elements))
        }
    }

    @Test("0x0D: the key id is present exactly when the state has a key, both ways")
    func keyIDPresence() throws {
        // State 3 without the key id.
        let noKey = CloudTLV.encode(try Self.elements(Self.active).filter { $0.tag != 0x18 })
        #expect(throws: CloudMessageError.ownerKeyIDMismatch(state: .ownerKeyActive, present: false)) {
            try CloudMessage.decode(noKey)
        }
        // States 0 and 1 with a key id.
        for state: UInt8 in [0, 1] {
            #expect(throws: CloudMessageError.ownerKeyIDMismatch(state: OwnerPairingState(rawValue: state)!, present: true)) {
                try CloudMessage.decode(try Self.changed(.ownerPairingState) { $0 = [state] })
            }
        }
        // The encoder refuses both.
        #expect(throws: CloudMessageError.ownerKeyIDMismatch(state: .ownerKeyPending, present: false)) {
            try Self.message(.ownerPairingStatus(state: .ownerKeyPending, ownerKeyID: nil, status: .ok)).encodeUnsigned()
        }
        #expect(throws: CloudMessageError.ownerKeyIDMismatch(state: .windowOpen, present: true)) {
            try Self.message(.ownerPairingStatus(state: .windowOpen, ownerKeyID: Fixtures.ownerKeyID, status: .ok))
                .encodeUnsigned()
        }
        #expect(!CloudMessageError.ownerKeyIDMismatch(state: .windowOpen, present: true).description.isEmpty)
    }

    @Test("0x0E: C2V from the VOS, no payload, signer certificate mandatory")
    func modeRequest() throws {
        let message = Self.message(.ownerPairingModeRequest)
        #expect(message.signerCertificate == Fixtures.vosCertificate)
        let bytes = try message.encode(signature: Self.signature)
        #expect(try CloudMessage.decode(bytes).payload == .ownerPairingModeRequest)
        #expect(CloudMessageType.ownerPairingModeRequest.payloadTags.isEmpty)
        #expect(CloudMessageType.ownerPairingModeRequest.direction == .cloudToVehicle)
        #expect(CloudMessageType.ownerPairingModeRequest.carriesSignerCertificate)
        let noCertificate = CloudTLV.encode(Fixtures.elements(bytes).filter { $0.tag != 0x20 })
        #expect(throws: CloudMessageError.missingTag(.signerCertificate, type: .ownerPairingModeRequest)) {
            try CloudMessage.decode(noCertificate)
        }
        var withStatus = Fixtures.elements(bytes)
        withStatus.insert(CloudTLV(.ownerPairingState, [1]), at: withStatus.firstIndex { $0.tag == 0x20 } ?? 0)
        #expect(throws: CloudMessageError.tagNotAllowed(.ownerPairingState, type: .ownerPairingModeRequest)) {
            try CloudMessage.decode(CloudTLV.encode(withStatus))
        }
        // The envelopes keep the directions.
        #expect(throws: CloudEnvelopeError.wrongDirection(.ownerPairingModeRequest)) {
            try SpaakRequest.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                   useCase: .ownerPairing, payload: .ownerPairingModeRequest,
                                   signer: CloudSigning.signer(Fixtures.ecuKey))
        }
        #expect(throws: CloudEnvelopeError.wrongDirection(.ownerPairingStatus)) {
            try SpaakResponse.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                    useCase: .ownerPairing, payload: Self.active, signerCertificate: nil,
                                    signer: CloudSigning.signer(Fixtures.vosKey))
        }
    }

    @Test("use case 7 in tag 0x07; 0 and 8 are not cloud use cases; byte 3 of SPAAK_Status stays 1…6")
    func useCase() throws {
        #expect(UseCase.ownerPairing.rawValue == 7)
        #expect(UseCase.ownerPairing.isCloudUseCase)
        #expect(UseCase.ownerPairing.description == "OP")
        #expect(UseCase.ownerPairing.statusByte == 0)
        #expect(UseCase(statusByte: 7) == nil)
        #expect(UseCase.statusUseCases.map(\.statusByte) == [1, 2, 3, 4, 5, 6])
        #expect(UseCase(statusByte: 6) == .sp02)
        let bytes = try Self.message(Self.active).encode(signature: Self.signature)
        for bad: UInt8 in [0, 1, 2, 8] {
            var elements = Fixtures.elements(bytes)
            for i in elements.indices where elements[i].tag == 0x07 { elements[i].value = [bad] }
            #expect(throws: CloudMessageError.unknownUseCase(bad)) { try CloudMessage.decode(CloudTLV.encode(elements)) }
        }
    }

    @Test("pushes and answers: 0x0E is a push like 0x0A and 0x0C; 0x06 answers a 0x0D")
    func roles() {
        #expect(CloudMessageType.pushTypes == [.spake2VerifierProvisioning, .ownerKeyTermination, .ownerPairingModeRequest])
        #expect(CloudMessageType.allCases.filter(\.isPush).allSatisfy { $0.direction == .cloudToVehicle })
        #expect(CloudMessageType.ownerPairingStatus.answerType == .c2vUsecaseCompletionAck)
        #expect(CloudMessageType.vehicleIdentityCertStatus.answerType == .c2vUsecaseCompletionAck)
        #expect(CloudMessageType.spake2VerifierRequest.answerType == .spake2VerifierProvisioning)
        #expect(CloudMessageType.allCases.filter { $0.answerType != nil }
                == CloudMessageType.allCases.filter { $0.direction == .vehicleToCloud })
        let idle = C2VExpectation.idle(pushTypes: CloudMessageType.pushTypes)
        #expect(idle.role(of: .ownerPairingModeRequest, transactionID: Fixtures.otherTransactionID) == .push)
        let waiting = C2VExpectation(responseTypes: [CloudMessageType.ownerPairingStatus.answerType!, .errorResponse],
                                     outstandingTransactionID: Fixtures.transactionID, pushTypes: [.ownerKeyTermination])
        #expect(waiting.role(of: .c2vUsecaseCompletionAck, transactionID: Fixtures.transactionID) == .response)
        #expect(waiting.role(of: .c2vUsecaseCompletionAck, transactionID: Fixtures.otherTransactionID) == nil)
        #expect(waiting.role(of: .ownerPairingModeRequest, transactionID: Fixtures.otherTransactionID) == nil)
    }
}
