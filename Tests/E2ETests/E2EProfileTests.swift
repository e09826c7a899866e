import E2E
import SpaakCore
import Testing

@Suite("CRC-8/SAE-J1850 and the E2E profile")
struct E2EProfileTests {
    @Test("CRC check value 0x4B for \"123456789\"")
    func crcCheckValue() {
        #expect(CRC8SAEJ1850.checksum(Array("123456789".utf8)) == 0x4B)
    }

    @Test("CRC table agrees with the bitwise definition and known entries")
    func crcTable() {
        #expect(CRC8SAEJ1850.table.count == 256)
        #expect(CRC8SAEJ1850.table[0] == 0x00)
        #expect(CRC8SAEJ1850.table[1] == 0x1D)
        #expect(CRC8SAEJ1850.table[2] == 0x3A)
        #expect(CRC8SAEJ1850.table[0x80] == 0x26)
        #expect(CRC8SAEJ1850.table[0xFF] == 0xC4)
        // Bitwise reference over a byte pattern.
        var crc: UInt8 = 0xFF
        let bytes: [UInt8] = (0..<64).map { UInt8(($0 * 37 + 11) & 0xFF) }
        for byte in bytes {
            crc ^= byte
            for _ in 0..<8 { crc = crc & 0x80 != 0 ? (crc << 1) ^ 0x1D : crc << 1 }
        }
        #expect(CRC8SAEJ1850.checksum(bytes) == crc ^ 0xFF)
        #expect(CRC8SAEJ1850.checksum([]) == 0x00)
    }

    @Test("The three ICD example TBM_Status frames, byte for byte", arguments: [
        (UInt8(0), "9B00030000000000"), (1, "C601030000000000"), (2, "2102030000000000"),
    ])
    func icdExamples(counter: UInt8, hex: String) {
        let expected = [UInt8](hex: hex)
        #expect(E2EProfile.protect(dataID: 0x03A0, counter: counter, signals: [0x03]) == expected)
        let frame = TBMStatusEncoder.frame(counter: counter, signals: .ready)
        #expect(frame.description == "3A0#" + hex)
        #expect(E2EProfile.check(dataID: 0x03A0, data: expected ?? [], previousCounter: nil) == .ok)
    }

    @Test("The encoder produces the ICD sequence and wraps 14 → 0, never 15")
    func counterWrap() {
        var encoder = TBMStatusEncoder()
        let first = encoder.nextFrame(.ready)
        #expect(first.data.hexString == "9B00030000000000")
        #expect(encoder.nextFrame(.ready).data.hexString == "C601030000000000")
        #expect(encoder.nextFrame(.ready).data.hexString == "2102030000000000")
        var counters: [UInt8] = [0, 1, 2]
        for _ in 0..<42 { counters.append(encoder.nextFrame(.ready).data[1]) }
        #expect(counters == (0..<45).map { UInt8($0 % 15) })
        #expect(!counters.contains(15))
        #expect(E2EProfile.nextCounter(after: 14) == 0)
        #expect(E2EProfile.nextCounter(after: 15) == 0)
        #expect(TBMStatusEncoder(firstCounter: 15).counter == 0)
        #expect(E2EProfile.protect(dataID: 0x3A0, counter: 15, signals: [])[1] == 0)
    }

    @Test("Signals are padded to 6 bytes and truncated after 6")
    func signalsPadding() {
        let short = E2EProfile.protect(dataID: 0x3A8, counter: 3, signals: [0xAA])
        #expect(Array(short[1...]) == [0x03, 0xAA, 0, 0, 0, 0, 0])
        let long = E2EProfile.protect(dataID: 0x3A8, counter: 3, signals: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(long.count == 8)
        #expect(Array(long[2...]) == [1, 2, 3, 4, 5, 6])
    }

    @Test("Any single bit flip or a wrong data id gives wrong CRC")
    func wrongCRC() {
        let good = [UInt8](hex: "9B00030000000000") ?? []
        for byteIndex in 0..<8 {
            for bit in 0..<8 {
                var bad = good
                bad[byteIndex] ^= UInt8(1 << bit)
                let status = E2EProfile.check(dataID: 0x3A0, data: bad, previousCounter: nil)
                // Flipping bits 4-7 of byte 1 is also a CRC error; a flip in the counter nibble too.
                #expect(status == .wrongCRC, "byte \(byteIndex) bit \(bit)")
            }
        }
        #expect(E2EProfile.check(dataID: 0x3A8, data: good, previousCounter: nil) == .wrongCRC)
    }

    @Test("Wrong length is reported before the CRC", arguments: [0, 1, 2, 7, 9, 12, 64])
    func wrongLength(count: Int) {
        let data = Array(([UInt8](hex: "9B00030000000000") ?? []).prefix(count)) + [UInt8](repeating: 0, count: max(0, count - 8))
        #expect(data.count == count)
        #expect(E2EProfile.check(dataID: 0x3A0, data: data, previousCounter: nil) == .wrongLength)
    }

    @Test("Counter relation: ok, repeated, lost n (across the wrap), invalid 15")
    func counterRelation() {
        func frame(_ counter: UInt8) -> [UInt8] {
            var data = [UInt8](repeating: 0, count: 8)
            data[1] = counter
            data[2] = 0x03
            data[0] = E2EProfile.crc(dataID: 0x3A0, data: data)
            return data
        }
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(5), previousCounter: 4) == .ok)
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(0), previousCounter: 14) == .ok)
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(5), previousCounter: 5) == .repeated)
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(8), previousCounter: 5) == .lost(2))
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(1), previousCounter: 13) == .lost(2))
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(4), previousCounter: 5) == .lost(13))
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(15), previousCounter: 14) == .invalidCounter)
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(15), previousCounter: nil) == .invalidCounter)
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(15 | 0x10), previousCounter: nil) == .invalidCounter)
        // Reserved high nibble is covered by the CRC but otherwise ignored.
        #expect(E2EProfile.check(dataID: 0x3A0, data: frame(0x56), previousCounter: 5) == .ok)
        #expect(E2ECheckStatus.lost(3).isNewData && E2ECheckStatus.ok.isNewData)
        #expect(!E2ECheckStatus.repeated.isNewData && !E2ECheckStatus.wrongCRC.isNewData)
    }
}
