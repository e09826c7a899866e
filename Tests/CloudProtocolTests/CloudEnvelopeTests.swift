import CloudProtocol
import Crypto
import SpaakCore
import Testing

@Suite("Envelopes: SpaakRequest and SpaakResponse (ICD 7.3)")
struct CloudEnvelopeTests {
    struct SignerDown: Error {}

    @Test("a SpaakRequest is signed over every byte before 0xFF with the ECU key")
    func requestSignature() throws {
        for payload in Fixtures.payloads where payload.type.direction == .vehicleToCloud {
            var covered: [UInt8] = []
            let bytes = try SpaakRequest.build(
                serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 42,
                useCase: .pp03, payload: payload,
                signer: { data in
                    covered = data
                    return try CloudSigning.signer(Fixtures.ecuKey)(data)
                })
            let message = try CloudMessage.decode(bytes)
            #expect(message.type == payload.type && message.payload == payload)
            #expect(message.counter == 42 && message.useCase == .pp03 && message.vin == nil)
            #expect(message.signerCertificate == nil)
            #expect(covered == Array(bytes.prefix(covered.count)))
            #expect(bytes.count == covered.count + 3 + message.signature.count)
            let ecdsa = try P256.Signing.ECDSASignature(derRepresentation: message.signature)
            #expect(Fixtures.ecuKey.publicKey.isValidSignature(ecdsa, for: SHA256.hash(data: covered)))
            #expect(!Fixtures.vosKey.publicKey.isValidSignature(ecdsa, for: SHA256.hash(data: covered)))
        }
    }

    @Test("a SpaakResponse carries the signer certificate, covered by the signature")
    func responseSignature() throws {
        let bytes = try Fixtures.c2v(.vehicleIdentityCSRResponse(certificate: Fixtures.certificateK))
        let message = try CloudMessage.decode(bytes)
        #expect(message.signerCertificate == Fixtures.vosCertificate)
        let covered = try message.encodeUnsigned()
        #expect(covered.suffix(Fixtures.vosCertificate.count + 3) == ArraySlice([0x20, 0x00, 0x06] + Fixtures.vosCertificate))
        #expect(CloudSigning.isValid(signature: message.signature, of: covered, key: Fixtures.vosKey.publicKey))
        // OwnerKeyTermination: no certificate, signed by the KTS key.
        let okt = try CloudMessage.decode(try Fixtures.c2v(.ownerKeyTermination))
        #expect(okt.signerCertificate == nil)
        #expect(CloudSigning.isValid(signature: okt.signature, of: try okt.encodeUnsigned(), key: Fixtures.ktsKey.publicKey))
    }

    @Test("the builders refuse the wrong direction, bad fields and a failing signer")
    func refusals() {
        #expect(throws: CloudEnvelopeError.wrongDirection(.c2vUsecaseCompletionAck)) {
            try SpaakRequest.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                   useCase: .pp01, payload: .c2vUsecaseCompletionAck, signer: CloudSigning.signer(Fixtures.ecuKey))
        }
        #expect(throws: CloudEnvelopeError.wrongDirection(.vehicleSubjectIdRequest)) {
            try SpaakResponse.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                    useCase: .pp01, payload: .vehicleSubjectIdRequest, signerCertificate: nil,
                                    signer: CloudSigning.signer(Fixtures.vosKey))
        }
        #expect(throws: CloudEnvelopeError.invalidMessage(.wrongLength(.transactionID, length: 4, allowed: 16...16))) {
            try SpaakRequest.build(serial: Fixtures.serial, vin: nil, transactionID: [1, 2, 3, 4], counter: 1,
                                   useCase: .pp01, payload: .vehicleSubjectIdRequest, signer: CloudSigning.signer(Fixtures.ecuKey))
        }
        #expect(throws: CloudEnvelopeError.invalidMessage(.missingTag(.signerCertificate, type: .c2vUsecaseCompletionAck))) {
            try SpaakResponse.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                    useCase: .pp01, payload: .c2vUsecaseCompletionAck, signerCertificate: nil,
                                    signer: CloudSigning.signer(Fixtures.vosKey))
        }
        #expect(throws: CloudEnvelopeError.self) {
            try SpaakRequest.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                   useCase: .pp01, payload: .vehicleSubjectIdRequest, signer: { _ in throw SignerDown() })
        }
        #expect(throws: CloudEnvelopeError.invalidMessage(.wrongLength(.signature, length: 0, allowed: 1...4095))) {
            try SpaakRequest.build(serial: Fixtures.serial, vin: nil, transactionID: Fixtures.transactionID, counter: 1,
                                   useCase: .pp01, payload: .vehicleSubjectIdRequest, signer: { _ in [] })
        }
    }

    @Test("transaction ids come from the caller's generator")
    func transactionIDs() {
        var a = SplitMix64(state: 1), b = SplitMix64(state: 1)
        let first = CloudSigning.transactionID(using: &a)
        #expect(first.count == 16)
        #expect(first == CloudSigning.transactionID(using: &b))
        #expect(first != CloudSigning.transactionID(using: &a))
    }
}
