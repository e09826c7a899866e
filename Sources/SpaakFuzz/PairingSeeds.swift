import APDU

/// Seeds of the owner-pairing targets, from the messages of ICD 8.3 and the operations each
/// harness reads: every command and response of both phases (`apdu`); honest and attacked
/// sessions, timeouts, queued store work and a pending key from before a restart
/// (`pairing`); taps, removals, silences and head-unit requests (`nfc`).
enum PairingSeeds {
    /// RFC 9383 appendix C shareP: a valid point for answers written into an input.
    static let point = hexBytes("04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1"
                                + "de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727")

    static func corpora() -> [FuzzTarget: [[UInt8]]] {
        [.apdu: apdu(), .pairing: pairing(), .nfc: nfc()]
    }

    static func apdu() -> [[UInt8]] {
        let parameters = SPAKE2RequestParameters(salt: Array(0..<16), n: 32768, r: 8, p: 1, vin: Array("VF3ABCDEF12345678".utf8))
        let commands: [PairingCommand] = [
            .select, .spake2Request(parameters), .spake2Verify(shareV: point, confirmV: Array(repeating: 0x57, count: 32)),
            .writeData(encrypted: Array(repeating: 0x70, count: 300)), .getData,
            .auth0(vehicleEphemeralKey: point, transactionID: Array(repeating: 0x4C, count: 16)),
            .auth1(vehicleSignature: [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]),
        ]
        var seeds = commands.map(\.apdu.bytes)
        let responses: [[UInt8]] = [
            BERTLV([(PairingTag.versions, [0x01, 0x00, 0x02, 0x00])]).bytes,
            BERTLV([(PairingTag.shareP, point)]).bytes,
            BERTLV([(PairingTag.confirmP, Array(repeating: 0x58, count: 32))]).bytes,
            BERTLV([(PairingTag.encrypted, Array(repeating: 0x70, count: 140))]).bytes,
            BERTLV([(PairingTag.deviceEphemeralKey, point)]).bytes,
            BERTLV([(PairingTag.signature, [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])]).bytes,
            BERTLV([(PairingTag.endpointKey, point), (PairingTag.friendlyName, Array("Phone".utf8))]).bytes,
        ]
        seeds += responses.map { $0 + [0x90, 0x00] }
        seeds += [[0x69, 0x82], [0x90, 0x00], [0x5C, 0x81, 0x02, 0x01, 0x00, 0x90, 0x00], [0x5C, 0x82, 0x00, 0x02, 0x01, 0x00]]
        seeds.append(BERTLV([(PairingTag.friendlyName, Array("Phone".utf8)), (PairingTag.endpointKey, point)]).bytes)
        return seeds
    }

    /// A response operation of the `pairing` target: one TLV with `90 00`.
    static func tlv(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] {
        [0x80 | UInt8(value.count), tag] + value
    }

    static func pairing() -> [[UInt8]] {
        let honest: UInt8 = 0x1A
        let window: [UInt8] = [0x10]
        let select = tlv(PairingTag.versions, [0x01, 0x00])
        return [
            // Honest device: phase 2, removal, phase 3.
            [0x80, 1] + window + [0x14] + Array(repeating: honest, count: 5) + [0x15, 0x14] + Array(repeating: honest, count: 3) + [0x15],
            // Honest phase 2 with one answer changed (confirmP, then the GET DATA data).
            [0x80, 2] + window + [0x14, honest, honest, 0x20, 0x05, 0x01],
            [0x80, 3] + window + [0x14, honest, honest, honest, honest, 0x20, 0x30, 0x80],
            // The window from the cloud; store work queued and completed one by one.
            [0xA0, 4, 0x12] + Array(repeating: 0x0E, count: 16) + [0x14, 0x19, 0x00, honest, honest, honest, honest, honest, 0x19, 0x00],
            // Answers from the input only: SELECT, a valid point, a confirmP that cannot verify, a timeout.
            [0x00, 5] + window + [0x14] + select + tlv(PairingTag.shareP, point) + tlv(PairingTag.confirmP, Array(repeating: 0x58, count: 32)),
            [0x00, 6] + window + [0x14] + select + tlv(PairingTag.shareP, point) + [0x04, 0x14] + select + [0x42, 0x69, 0x82],
            // No answer, the device leaves, the window ends.
            [0x80, 7] + window + [0x14, honest, honest, 0x04, 0x15, 0x14, honest, 0x15, 0x07],
            // A pending key from before a restart, then phase 3 (honest, then with a changed signature).
            [0x81, 8, 0x00] + window + [0x14, honest, honest, honest],
            [0x81, 9] + window + [0x14, honest, honest, 0x21, 0x40, 0x04],
            // Key termination and a verifier change in a session; conditions change; store failures.
            [0x80, 10] + window + [0x14, honest, honest, 0x17, 0x16, 0x18, 0x03, 0x10, 0x14],
            [0xC0, 11] + window + [0x14] + Array(repeating: honest, count: 5) + [0x15],
            [0x90, 12] + window + [0x14, 0x15],
        ]
    }

    static func nfc() -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        // A ready reader, a tap, the device stays, leaves; every counter in turn.
        var tapThenLeave: [UInt8] = []
        for counter in 0..<15 { tapThenLeave += [0x20 | UInt8(counter), counter < 2 ? 0x02 : counter < 9 ? 0x03 : 0x02, 0x01, 0x40] }
        seeds.append(tapThenLeave)
        // A tap and silence (timeout), the device still present, a repeated counter, counter 15.
        seeds.append([0x20, 0x02, 0x21, 0x03, 0x10, 0x00, 0x11, 0x00, 0x22, 0x03, 0x22, 0x03, 0x2F, 0x03, 0x23, 0x01,
                      0x24, 0x02, 0x25, 0x03])
        // Head-unit requests: in order, repeated, an unknown code, raw bytes.
        seeds.append([0x60, 0x01, 0x61, 0x01, 0x61, 0x01, 0x62, 0x02, 0x6F, 0x01, 0x63, 0x01, 0xA1, 1, 2, 3, 4, 5, 6, 7, 8])
        seeds.append([0xA0, 0x53, 0x00, 0x03, 0, 0, 0, 0, 0, 0xA3, 0, 0, 0x03, 0, 0, 0, 0, 0])
        return seeds
    }
}
