import CloudProtocol
import Crypto
import Testing

/// ICD 7.4: each rule violated alone gives that rule and its code, and nothing else.
@Suite("C2V verification (ICD 7.4)")
struct C2VVerifierTests {
    /// PP-01 waiting for the subject id; PP-02 pushes and owner key termination allowed.
    static let step = C2VExpectation(
        responseTypes: [.vehicleSubjectIdResponse, .errorResponse],
        outstandingTransactionID: Fixtures.transactionID,
        pushTypes: [.spake2VerifierProvisioning, .ownerKeyTermination])
    static let subjectID = CloudPayload.vehicleSubjectIdResponse(subjectID: "CCC-SUBJECT-0001")

    static func verify(_ bytes: [UInt8], expectation: C2VExpectation = step, lastCounter: UInt32? = 6,
                       trust: ClosureSignerTrust = Fixtures.trust()) -> C2VVerdict {
        C2VVerifier.verify(bytes, expectation: expectation, lastCounter: lastCounter, serial: Fixtures.serial, trust: trust)
    }

    static func expectRejected(_ verdict: C2VVerdict, _ rule: C2VRule, _ status: CloudStatus,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .rejected(let r, let s, let reason) = verdict else {
            Issue.record("accepted, expected \(rule)", sourceLocation: sourceLocation)
            return
        }
        #expect(r == rule, "\(reason)", sourceLocation: sourceLocation)
        #expect(s == status, sourceLocation: sourceLocation)
        #expect(!reason.isEmpty, sourceLocation: sourceLocation)
    }

    @Test("a good response, a push and an owner key termination are accepted")
    func accepted() throws {
        let verdict = Self.verify(try Fixtures.c2v(Self.subjectID))
        #expect(verdict.message?.payload == Self.subjectID)
        #expect(verdict.failedRule == nil)
        let push = Self.verify(try Fixtures.c2v(.spake2VerifierProvisioning(Fixtures.vectorRecord),
                                                transactionID: Fixtures.otherTransactionID))
        #expect(push.message?.transactionID == Fixtures.otherTransactionID)
        #expect(Self.verify(try Fixtures.c2v(.ownerKeyTermination, transactionID: Fixtures.otherTransactionID)).message != nil)
        #expect(Self.verify(try Fixtures.c2v(.errorResponse(resultCode: 9))).message?.payload == .errorResponse(resultCode: 9))
        // No counter accepted yet: any counter, even 0.
        #expect(Self.verify(try Fixtures.c2v(Self.subjectID, counter: 0), lastCounter: nil).message != nil)
    }

    @Test("rule 1: malformed, or a V2C type")
    func wellFormed() throws {
        let good = try Fixtures.c2v(Self.subjectID)
        Self.expectRejected(Self.verify(Array(good.dropLast())), .wellFormed, .malformed)
        Self.expectRejected(Self.verify([]), .wellFormed, .malformed)
        let v2c = try SpaakRequest.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 9,
                                         useCase: .pp01, payload: .vehicleSubjectIdRequest, signer: CloudSigning.signer(Fixtures.vosKey))
        Self.expectRejected(Self.verify(v2c), .wellFormed, .malformed)
    }

    @Test("rule 2: signature")
    func signature() throws {
        let forged = try Fixtures.c2v(Self.subjectID, key: P256.Signing.PrivateKey())
        Self.expectRejected(Self.verify(forged), .signature, .signatureInvalid)
        // A tampered payload under the original signature.
        var elements = Fixtures.elements(try Fixtures.c2v(Self.subjectID))
        elements[7].value[0] ^= 0x01
        Self.expectRejected(Self.verify(CloudTLV.encode(elements)), .signature, .signatureInvalid)
        // A signature that is not DER.
        elements = Fixtures.elements(try Fixtures.c2v(Self.subjectID))
        elements[elements.count - 1].value = [0x01, 0x02, 0x03]
        Self.expectRejected(Self.verify(CloudTLV.encode(elements)), .signature, .signatureInvalid)
        // A signer certificate without a usable key.
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, certificate: Fixtures.garbageCertificate)),
                            .signature, .signatureInvalid)
        // OwnerKeyTermination signed by the VOS, not [ZZ2].
        Self.expectRejected(Self.verify(try Fixtures.c2v(.ownerKeyTermination, key: Fixtures.vosKey)), .signature, .signatureInvalid)
    }

    @Test("rule 3: signer certificate policy, [ZZ2] for OwnerKeyTermination")
    func signerCertificate() throws {
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, certificate: Fixtures.untrustedCertificate)),
                            .signerCertificate, .chainOfTrustInvalid)
        Self.expectRejected(Self.verify(try Fixtures.c2v(.ownerKeyTermination), trust: Fixtures.trust(zz2Installed: false)),
                            .signerCertificate, .chainOfTrustInvalid)
        // [ZZ2] plays no part for VOS messages.
        #expect(Self.verify(try Fixtures.c2v(Self.subjectID), trust: Fixtures.trust(zz2Installed: false)).message != nil)
    }

    @Test("rule 4: ECU serial")
    func serial() throws {
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, serial: "SPK0000000002")), .ecuSerial, .unexpectedMessage)
    }

    @Test("rule 5: counter strictly above the last accepted")
    func counter() throws {
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, counter: 6)), .counter, .replayedCounter)
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, counter: 0)), .counter, .replayedCounter)
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, counter: .max), lastCounter: .max), .counter, .replayedCounter)
        #expect(Self.verify(try Fixtures.c2v(Self.subjectID, counter: 7)).message != nil)
    }

    @Test("rule 6: transaction id of the outstanding request")
    func transactionID() throws {
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID, transactionID: Fixtures.otherTransactionID)),
                            .transactionID, .unexpectedMessage)
        let idle = C2VExpectation.idle(pushTypes: [.spake2VerifierProvisioning])
        Self.expectRejected(Self.verify(try Fixtures.c2v(Self.subjectID), expectation: idle), .transactionID, .unexpectedMessage)
        // 0x0A is a response, not a push, when pushes are not allowed (PP-03 waiting).
        let pp03 = C2VExpectation(responseTypes: [.spake2VerifierProvisioning], outstandingTransactionID: Fixtures.transactionID,
                                  pushTypes: [])
        let record = CloudPayload.spake2VerifierProvisioning(Fixtures.vectorRecord)
        Self.expectRejected(Self.verify(try Fixtures.c2v(record, transactionID: Fixtures.otherTransactionID), expectation: pp03),
                            .transactionID, .unexpectedMessage)
        #expect(Self.verify(try Fixtures.c2v(record), expectation: pp03).message != nil)
    }

    @Test("rule 7: type expected by the step")
    func messageType() throws {
        Self.expectRejected(Self.verify(try Fixtures.c2v(.c2vUsecaseCompletionAck)), .messageType, .unexpectedMessage)
        Self.expectRejected(Self.verify(try Fixtures.c2v(.vehicleIdentityCSRResponse(certificate: Fixtures.certificateK))),
                            .messageType, .unexpectedMessage)
        let noPush = C2VExpectation(responseTypes: [.vehicleSubjectIdResponse], outstandingTransactionID: Fixtures.transactionID,
                                    pushTypes: [])
        Self.expectRejected(Self.verify(try Fixtures.c2v(.ownerKeyTermination), expectation: noPush), .messageType, .unexpectedMessage)
    }

    @Test("the first failing rule is reported, in ICD order")
    func order() throws {
        // Bad signature + wrong serial + replayed counter + wrong transaction id + wrong type → signature.
        let everything = try Fixtures.c2v(.c2vUsecaseCompletionAck, counter: 1, transactionID: Fixtures.otherTransactionID,
                                          serial: "OTHER", key: P256.Signing.PrivateKey())
        Self.expectRejected(Self.verify(everything), .signature, .signatureInvalid)
        let untrusted = try Fixtures.c2v(.c2vUsecaseCompletionAck, counter: 1, transactionID: Fixtures.otherTransactionID,
                                         serial: "OTHER", certificate: Fixtures.untrustedCertificate)
        Self.expectRejected(Self.verify(untrusted), .signerCertificate, .chainOfTrustInvalid)
        let other = try Fixtures.c2v(.c2vUsecaseCompletionAck, counter: 1, transactionID: Fixtures.otherTransactionID, serial: "OTHER")
        Self.expectRejected(Self.verify(other), .ecuSerial, .unexpectedMessage)
        let replay = try Fixtures.c2v(.c2vUsecaseCompletionAck, counter: 1, transactionID: Fixtures.otherTransactionID)
        Self.expectRejected(Self.verify(replay), .counter, .replayedCounter)
        let stale = try Fixtures.c2v(.c2vUsecaseCompletionAck, transactionID: Fixtures.otherTransactionID)
        Self.expectRejected(Self.verify(stale), .transactionID, .unexpectedMessage)
        #expect(C2VRule.allCases.map(\.status) == [.malformed, .signatureInvalid, .chainOfTrustInvalid, .unexpectedMessage,
                                                   .replayedCounter, .unexpectedMessage, .unexpectedMessage])
    }
}

/// ICD 7.4 for OwnerPairingModeRequest 0x0E: a VOS push, verified under [Z1] like every VOS message.
@Suite("C2V verification of 0x0E (ICD 7.4, 8.5)")
struct C2VOwnerPairingVerifierTests {
    static let idle = C2VExpectation.idle(pushTypes: CloudMessageType.pushTypes)

    static func push(certificate: [UInt8]? = Fixtures.vosCertificate, key: P256.Signing.PrivateKey? = nil,
                     counter: UInt32 = 7) throws -> [UInt8] {
        try Fixtures.c2v(.ownerPairingModeRequest, counter: counter, transactionID: Fixtures.otherTransactionID,
                         certificate: certificate, key: key)
    }

    @Test("accepted as a push with any transaction id when the step takes it")
    func accepted() throws {
        let verdict = C2VVerifierTests.verify(try Self.push(), expectation: Self.idle)
        #expect(verdict.message?.payload == .ownerPairingModeRequest)
        #expect(verdict.message?.transactionID == Fixtures.otherTransactionID)
    }

    @Test("verified under the VOS signer certificate and [Z1], never with [ZZ2]")
    func chain() throws {
        C2VVerifierTests.expectRejected(C2VVerifierTests.verify(try Self.push(key: Fixtures.ktsKey), expectation: Self.idle),
                                        .signature, .signatureInvalid)
        C2VVerifierTests.expectRejected(
            C2VVerifierTests.verify(try Self.push(certificate: Fixtures.untrustedCertificate), expectation: Self.idle),
            .signerCertificate, .chainOfTrustInvalid)
        // Without [ZZ2] a 0x0E still verifies (it does not depend on the KTS key).
        #expect(C2VVerifierTests.verify(try Self.push(), expectation: Self.idle, trust: Fixtures.trust(zz2Installed: false))
            .message != nil)
    }

    @Test("rules 5 and 7: a replayed counter; a step that takes no 0x0E")
    func rules() throws {
        C2VVerifierTests.expectRejected(C2VVerifierTests.verify(try Self.push(counter: 6), expectation: Self.idle),
                                        .counter, .replayedCounter)
        C2VVerifierTests.expectRejected(C2VVerifierTests.verify(try Self.push()), .transactionID, .unexpectedMessage)
        let idleWithoutPush = C2VExpectation.idle(pushTypes: [.ownerKeyTermination])
        C2VVerifierTests.expectRejected(C2VVerifierTests.verify(try Self.push(), expectation: idleWithoutPush),
                                        .transactionID, .unexpectedMessage)
    }
}
