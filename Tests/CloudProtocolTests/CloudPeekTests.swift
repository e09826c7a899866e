import CloudProtocol
import SpaakCore
import Testing

/// `CloudMessageCodec.peekMessageType`: the type from the first TLV, nothing else checked.
@Suite("Cloud message codec: peeking the message type")
struct CloudPeekTests {
    static func bytes(_ payload: CloudPayload) -> [UInt8] {
        CloudTLV.encode(CloudMalformedTests.valid(payload))
    }

    @Test("a valid message of every type: the type it decodes to", arguments: Fixtures.payloads)
    func valid(payload: CloudPayload) throws {
        let bytes = Self.bytes(payload)
        #expect(CloudMessageCodec.peekMessageType(bytes) == payload.type)
        #expect(CloudMessageCodec.peekRawMessageType(bytes) == payload.type.rawValue)
        #expect(try CloudMessage.decode(bytes).type == payload.type)
    }

    @Test("truncated: only a whole type TLV is read")
    func truncated() {
        let good = Self.bytes(.spake2VerifierRequest(.verifierDeletedAfterFailedPairings))
        #expect(CloudMessageCodec.peekMessageType(Array(good.prefix(4))) == .spake2VerifierRequest)
        for count in 0..<4 {
            #expect(CloudMessageCodec.peekRawMessageType(Array(good.prefix(count))) == nil)
        }
    }

    @Test("not a type TLV first: another tag, or a type TLV of another length")
    func notATypeTLV() {
        #expect(CloudMessageCodec.peekRawMessageType([0x02, 0x00, 0x01, 0x01]) == nil)
        #expect(CloudMessageCodec.peekRawMessageType([0x01, 0x00, 0x02, 0x09, 0x09]) == nil)
        #expect(CloudMessageCodec.peekRawMessageType([0x01, 0x01, 0x01, 0x09]) == nil)
        #expect(CloudMessageCodec.peekRawMessageType([0x01, 0x00, 0x00, 0x09]) == nil)
    }

    @Test("wrong version: the peek reads the type, decode refuses the message")
    func wrongVersion() {
        let bytes = CloudMalformedTests.changed(.vehicleSubjectIdRequest, .version) { $0 = [2] }
        #expect(CloudMessageCodec.peekMessageType(bytes) == .vehicleSubjectIdRequest)
        #expect(throws: CloudMessageError.unsupportedVersion(2)) { try CloudMessage.decode(bytes) }
    }

    @Test("unknown type: the raw byte, no type")
    func unknownType() {
        let bytes = CloudMalformedTests.changed(.vehicleSubjectIdRequest, .messageType) { $0 = [0x55] }
        #expect(CloudMessageCodec.peekRawMessageType(bytes) == 0x55)
        #expect(CloudMessageCodec.peekMessageType(bytes) == nil)
        #expect(throws: CloudMessageError.unknownMessageType(0x55)) { try CloudMessage.decode(bytes) }
    }
}
