import Testing
@testable import SpaakCore

@Suite struct CoreTests {
    @Test func hexRoundTrip() {
        #expect([UInt8](hex: "0x50 03:00")! == [0x50, 0x03, 0x00])
        #expect([UInt8](hex: "5") == nil)
        #expect([UInt8](hex: "zz") == nil)
        #expect([UInt8]([0xAB, 0x01]).hexString == "AB01")
    }

    @Test func instantArithmetic() {
        let t = Instant.milliseconds(100)
        #expect((t + .milliseconds(50)).milliseconds == 150)
        #expect((t + .milliseconds(-200)) == .zero)
        #expect(((t + .seconds(1)) - t) == .seconds(1))
        #expect(Optional(t).earliest(nil) == t)
        #expect(Optional<Instant>.none.earliest(.zero) == .zero)
    }

    @Test func frameValidityAndText() {
        #expect(CANFrame(id: 0x3A8, data: [1, 2]).description == "3A8#0102")
        #expect(!CANFrame(id: 0x800, data: []).isValid)
        #expect(!CANFrame(id: 0x100, data: Array(repeating: 0, count: 9)).isValid)
        #expect(CANFrame(id: 0x100, data: Array(repeating: 0, count: 12), isFD: true).isValid)
        #expect(CANFrame.validLength(atLeast: 9) == 12)
    }

    @Test func standardIdentifierInHex() {
        #expect(CANFrame.standardIdentifier(hex: "7A0") == 0x7A0)
        #expect(CANFrame.standardIdentifier(hex: "0x6a8") == 0x6A8)
        #expect(CANFrame.standardIdentifier(hex: "7FF") == 0x7FF)
        for bad in ["800", "", "0x", "G12", "-1", "1 2"] { #expect(CANFrame.standardIdentifier(hex: bad) == nil) }
    }

    @Test func splitMix64IsReproducible() {
        var a = SplitMix64(seed: 7), b = SplitMix64(state: 7)
        #expect((0..<4).map { _ in a.next() } == (0..<4).map { _ in b.next() })
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test func virtualClock() {
        let clock = VirtualClock()
        clock.advance(by: .milliseconds(5))
        clock.advance(to: .milliseconds(1))
        #expect(clock.now == .milliseconds(5))
    }
}
