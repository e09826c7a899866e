import APDU
import Testing

@Suite("APDUs and BER-TLV of ICD 8.3")
struct APDUTests {
    @Test("Extended-length command forms, both ways")
    func commandForms() throws {
        let select = PairingCommand.select.apdu
        #expect(select.bytes == [0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x0D] + PairingCommand.aid + [0x00, 0x00])
        #expect(try CommandAPDU(bytes: select.bytes) == select)
        let get = PairingCommand.getData.apdu
        #expect(get.bytes == [0x80, 0xCA, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(try PairingCommand(apdu: CommandAPDU(bytes: get.bytes)) == .getData)
        #expect(throws: APDUError.self) { try CommandAPDU(bytes: [0x80, 0xCA, 0x00, 0x00, 0x00]) }
        #expect(throws: APDUError.self) { try CommandAPDU(bytes: [0x80, 0xCA, 0, 0, 0, 0, 2, 1, 0, 0]) }  // Lc 2, 1 byte
        #expect(throws: APDUError.self) { try CommandAPDU(bytes: [0x80, 0xCA, 0, 0, 1, 0, 0]) }
    }

    @Test("BER-TLV lengths 00-7F, 81 xx, 82 xx xx; the strict parser refuses the rest")
    func berLengths() throws {
        for size in [0, 1, 127, 128, 255, 256, 1000] {
            let tlv = BERTLV([(0x70, [UInt8](repeating: 7, count: size))])
            #expect(try BERTLV(parsing: tlv.bytes) == tlv)
        }
        #expect(BERTLV.length(127) == [0x7F])
        #expect(BERTLV.length(128) == [0x81, 0x80])
        #expect(BERTLV.length(256) == [0x82, 0x01, 0x00])
        #expect(throws: APDUError.self) { try BERTLV(parsing: [0x50, 0x05, 1, 2]) }          // longer than the data
        #expect(throws: APDUError.self) { try BERTLV(parsing: [0x50, 0x83, 0, 0, 1, 0]) }   // length form 83
        #expect(throws: APDUError.self) { try BERTLV(parsing: [0x50, 0x80]) }               // indefinite
        #expect(throws: APDUError.self) { try BERTLV(parsing: [0x50, 0x82, 0xFF]) }         // truncated length
        #expect(throws: APDUError.self) { try BERTLV(parsing: [0x50, 0x01, 1, 0x50, 0x01, 2]) }  // tag twice
        #expect(throws: APDUError.self) { try BERTLV(parsing: [0x50]) }
    }

    @Test("Every pairing command round-trips through its APDU")
    func commandsRoundTrip() throws {
        let parameters = SPAKE2RequestParameters(salt: Array(0..<16), n: 32768, r: 8, p: 1, vin: Array("VF3ABCDEF12345678".utf8))
        let commands: [PairingCommand] = [
            .select, .spake2Request(parameters),
            .spake2Verify(shareV: [4] + [UInt8](repeating: 1, count: 64), confirmV: [UInt8](repeating: 2, count: 32)),
            .writeData(encrypted: [UInt8](repeating: 3, count: 600)), .getData,
            .auth0(vehicleEphemeralKey: [4] + [UInt8](repeating: 5, count: 64), transactionID: [UInt8](repeating: 6, count: 16)),
            .auth1(vehicleSignature: [0x30] + [UInt8](repeating: 7, count: 69)),
        ]
        for command in commands {
            #expect(try PairingCommand(apdu: CommandAPDU(bytes: command.apdu.bytes)) == command)
        }
        #expect(parameters.tlv.bytes.prefix(4) == [0x5B, 0x02, 0x01, 0x00])
        #expect(parameters.tlv.bytes.contains(0xC1))
    }

    @Test("Responses: exact tags and sizes; friendly name over 32 bytes or not UTF-8 is malformed")
    func responses() throws {
        #expect(try PairingResponse.versions([0x5C, 0x04, 0x01, 0x00, 0x02, 0x00]) == [[1, 0], [2, 0]])
        #expect(throws: APDUError.self) { try PairingResponse.versions([0x5C, 0x03, 0x01, 0x00, 0x02]) }
        let shareP = [UInt8(4)] + [UInt8](repeating: 9, count: 64)
        #expect(try PairingResponse.shareP(BERTLV([(0x50, shareP)]).bytes) == shareP)
        #expect(throws: APDUError.self) { try PairingResponse.shareP(BERTLV([(0x50, Array(shareP.dropLast()))]).bytes) }
        #expect(throws: APDUError.self) { try PairingResponse.shareP(BERTLV([(0x50, shareP), (0x51, [])]).bytes) }
        let key = [UInt8(4)] + [UInt8](repeating: 1, count: 64)
        let ok = try PairingResponse.endpoint(BERTLV([(0x73, key), (0x75, Array("Alice's phone".utf8))]).bytes)
        #expect(ok.key == key && ok.friendlyName == "Alice's phone")
        #expect(throws: APDUError.self) {
            try PairingResponse.endpoint(BERTLV([(0x73, key), (0x75, [UInt8](repeating: 0x41, count: 33))]).bytes)
        }
        #expect(throws: APDUError.self) { try PairingResponse.endpoint(BERTLV([(0x73, key), (0x75, [0xFF, 0xFE])]).bytes) }
        #expect(try ResponseAPDU(bytes: [1, 2, 0x69, 0x82]) == ResponseAPDU(data: [1, 2], status: .securityStatusNotSatisfied))
        #expect(throws: APDUError.self) { try ResponseAPDU(bytes: [0x90]) }
    }
}
