import Testing
import SpaakCore
@testable import ISOTP

@Suite struct ReceiveTests {
    /// The peer's CF `sn` for `data` from `offset` (7 bytes, unpadded).
    func cf(_ sn: Int, _ data: [UInt8], from offset: Int) -> CANFrame {
        peer([0x20 | UInt8(sn & 0x0F)] + data[offset..<min(data.count, offset + 7)])
    }

    func ff(_ data: [UInt8]) -> CANFrame {
        peer([0x10 | UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data[0..<6])
    }

    @Test func firstFrameAnsweredWithConfiguredFlowControl() {
        var channel = ISOTPChannel(configuration: config())
        let data = payload(10)
        let out = channel.handle(ff(data), now: t(0))
        #expect(out == [.transmit(CANFrame(id: txID, data: [0x30, 0x00, 0x00, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]))])
        #expect(channel.isReceiving && channel.nextDeadline == t(1000))
        #expect(channel.handle(cf(1, data, from: 6), now: t(5)) == [.received(data)])
        #expect(!channel.isReceiving && channel.nextDeadline == nil)

        var custom = ISOTPChannel(configuration: config(padding: 0x22, blockSize: 5, separationTime: 2))
        #expect(custom.handle(ff(data), now: t(0)).sent == [[0x30, 0x05, 0x02, 0x22, 0x22, 0x22, 0x22, 0x22]])
    }

    @Test func blockSizeSendsFlowControlAfterEachBlock() {
        for bs in 1...9 {
            var channel = ISOTPChannel(configuration: config(blockSize: UInt8(bs), separationTime: 2))
            let data = payload(4095)
            let expectedFC: [UInt8] = [0x30, UInt8(bs), 0x02, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]
            #expect(channel.handle(ff(data), now: t(0)).sent == [expectedFC])
            var offset = 6
            var sn = 1
            var last: [ISOTPOutput] = []
            while offset < 4095 {
                last = channel.handle(cf(sn, data, from: offset), now: t(1))
                offset += 7
                if offset < 4095 {
                    #expect(last.sent == (sn % bs == 0 ? [expectedFC] : []), "bs \(bs) sn \(sn)")
                }
                sn += 1
            }
            #expect(last == [.received(data)])
        }
    }

    @Test func consecutiveFrameTimeout() {
        var channel = ISOTPChannel(configuration: config(blockSize: 2))
        let data = payload(50)
        _ = channel.handle(ff(data), now: t(0))
        _ = channel.handle(cf(1, data, from: 6), now: t(900))
        #expect(channel.nextDeadline == t(1900))
        #expect(channel.handle(cf(2, data, from: 13), now: t(1800)).sent.count == 1) // FC after block
        #expect(channel.handleTimeout(now: t(2799)).isEmpty)
        #expect(channel.handleTimeout(now: t(2800)) == [.failed(.timeoutCr)])
        #expect(!channel.isReceiving)
        // A late CF is ignored; a fresh message is received normally.
        #expect(channel.handle(cf(3, data, from: 20), now: t(2801)).isEmpty)
        let small = payload(10)
        _ = channel.handle(ff(small), now: t(3000))
        // A CF arriving after N_Cr without a timer call: timeout first, then the CF is ignored.
        #expect(channel.handle(cf(1, small, from: 6), now: t(4000)) == [.failed(.timeoutCr)])
        #expect(channel.counters.receiveErrors == 2)
        #expect(channel.counters.framesIgnored == 2)
    }

    @Test func wrongSequenceNumberAborts() {
        var channel = ISOTPChannel(configuration: config(blockSize: 1))
        let data = payload(20)
        _ = channel.handle(ff(data), now: t(0))
        #expect(channel.handle(cf(2, data, from: 6), now: t(1)) == [.failed(.wrongSequenceNumber(expected: 1, received: 2))])
        #expect(!channel.isReceiving && channel.nextDeadline == nil)
        #expect(channel.handle(cf(1, data, from: 6), now: t(2)).isEmpty)
    }

    @Test func newFirstFrameRestartsReception() {
        var channel = ISOTPChannel(configuration: config())
        let first = payload(20, seed: 1)
        let second = payload(10, seed: 2)
        _ = channel.handle(ff(first), now: t(0))
        _ = channel.handle(cf(1, first, from: 6), now: t(1))
        let out = channel.handle(ff(second), now: t(2))
        #expect(out.errors == [.receptionInterrupted(receivedBytes: 13, messageLength: 20)])
        #expect(out.sent == [padded([0x30, 0x00, 0x00])])
        #expect(channel.handle(cf(1, second, from: 6), now: t(3)) == [.received(second)])
    }

    @Test func singleFrameDuringReception() {
        var channel = ISOTPChannel(configuration: config())
        let long = payload(16, seed: 1)
        _ = channel.handle(ff(long), now: t(0))
        _ = channel.handle(cf(1, long, from: 6), now: t(1))
        let out = channel.handle(peer([0x03, 0xAA, 0xBB, 0xCC]), now: t(2))
        #expect(out == [.failed(.receptionInterrupted(receivedBytes: 13, messageLength: 16)), .received([0xAA, 0xBB, 0xCC])])
        #expect(channel.handle(cf(2, long, from: 13), now: t(3)).isEmpty)
        // Recovery with a new message.
        let next = payload(16, seed: 2)
        _ = channel.handle(ff(next), now: t(4))
        _ = channel.handle(cf(1, next, from: 6), now: t(5))
        #expect(channel.handle(cf(2, next, from: 13), now: t(6)) == [.received(next)])
    }

    @Test func oversizedFirstFrameGetsOverflow() {
        var channel = ISOTPChannel(configuration: config(maxMessageLength: 32))
        let data = payload(33)
        let out = channel.handle(ff(data), now: t(0))
        #expect(out.sent == [padded([0x32, 0x00, 0x00])])
        #expect(out.errors == [.messageTooLarge(length: 33, maximum: 32)])
        #expect(!channel.isReceiving)
        #expect(channel.handle(cf(1, data, from: 6), now: t(1)).isEmpty)
        // 32-bit escape on classic (accepted form), too large for 4095.
        var classic = ISOTPChannel(configuration: config())
        let escaped = classic.handle(peer([0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 1, 2]), now: t(0))
        #expect(escaped.sent == [padded([0x32, 0x00, 0x00])])
        // Within the limit: normal flow control.
        #expect(channel.handle(ff(payload(32)), now: t(2)).sent == [padded([0x30, 0x00, 0x00])])
    }

    @Test func escapedFirstFrameReceivedOnClassicWhenAllowed() {
        var channel = ISOTPChannel(configuration: config(maxMessageLength: 100))
        let data = payload(33)
        #expect(channel.handle(peer([0x10, 0, 0, 0, 0, 33] + data[0..<2]), now: t(0)).sent.count == 1)
        var offset = 2
        var sn = 1
        var out: [ISOTPOutput] = []
        while offset < 33 { out = channel.handle(cf(sn, data, from: offset), now: t(1)); offset += 7; sn += 1 }
        #expect(out == [.received(data)])
    }

    @Test func malformedFramesIgnoredWithoutCrash() {
        var channel = ISOTPChannel(configuration: config())
        let frames: [[UInt8]] = [
            [],                                      // empty
            [0x21, 1, 2, 3, 4, 5, 6, 7],             // CF before any FF
            [0x10, 0x14, 1, 2, 3, 4, 5],             // FF with DLC 7
            [0x10],                                  // FF with DLC 1
            [0x10, 0x07, 1, 2, 3, 4, 5, 6],          // FF_DL 7 fits an SF
            [0x10, 0x00, 0x00, 0x00, 0x00, 0x07, 1, 2], // escaped FF_DL 7
            [0x30],                                  // FC with DLC 1, nothing to control anyway
            [0x40, 0, 0], [0xF0, 1, 2, 3],           // reserved N_PCI types
        ]
        for data in frames { #expect(channel.handle(peer(data), now: t(0)).isEmpty) }
        #expect(channel.counters.framesIgnored == frames.count)
        #expect(channel.nextDeadline == nil)
    }

    @Test func consecutiveFrameLengthRules() {
        var channel = ISOTPChannel(configuration: config())
        let data = payload(20)
        _ = channel.handle(ff(data), now: t(0))
        // A short CF that is not the last one is ignored (the reception continues).
        #expect(channel.handle(peer([0x21, 1, 2, 3]), now: t(1)).isEmpty)
        #expect(channel.isReceiving)
        #expect(channel.handle(cf(1, data, from: 6), now: t(2)).isEmpty)
        // The last CF may be short, or padded.
        #expect(channel.handle(peer(padded([0x22] + data[13..<20])), now: t(3)) == [.received(data)])
    }

    @Test func fdReceptionKeepsRxDataLength() {
        var channel = ISOTPChannel(configuration: config(fd: true))
        let data = payload(100)
        // FF of 32 bytes: RX_DL = 32.
        #expect(channel.handle(peer([0x10, 100] + data[0..<30], fd: true), now: t(0)).sent == [padded([0x30, 0, 0])])
        #expect(channel.handle(peer([0x21] + data[30..<61], fd: true), now: t(1)).isEmpty)
        // A CF of 20 bytes while RX_DL is 32 and more than 19 bytes remain: ignored.
        #expect(channel.handle(peer([0x22] + data[61..<80], fd: true), now: t(2)).isEmpty)
        // A CF longer than RX_DL: ignored.
        #expect(channel.handle(peer([0x22] + data[61..<100] + [UInt8](repeating: 0xCC, count: 8), fd: true), now: t(3)).isEmpty)
        #expect(channel.handle(peer([0x22] + data[61..<92], fd: true), now: t(4)).isEmpty)
        #expect(channel.handle(peer([0x23] + data[92..<100] + [UInt8](repeating: 0xCC, count: 3), fd: true), now: t(5)) == [.received(data)])
        #expect(channel.counters.framesIgnored == 2)
    }

    @Test func fdReceiveEscapedFirstFrame() {
        var channel = ISOTPChannel(configuration: config(fd: true, blockSize: 2, separationTime: 5))
        let data = payload(0x120)
        #expect(channel.handle(peer([0x10, 0, 0, 0, 0x01, 0x20] + data[0..<58], fd: true), now: t(0)).sent == [padded([0x30, 2, 5])])
        #expect(channel.handle(peer([0x21] + data[58..<121], fd: true), now: t(1)).isEmpty)
        #expect(channel.handle(peer([0x22] + data[121..<184], fd: true), now: t(2)).sent == [padded([0x30, 2, 5])])
        #expect(channel.handle(peer([0x23] + data[184..<247], fd: true), now: t(3)).isEmpty)
        #expect(channel.handle(peer([0x24] + data[247..<288] + [UInt8](repeating: 0xCC, count: 6), fd: true), now: t(4)) == [.received(data)])
        // An FD first frame of an invalid length (11 bytes) is ignored.
        #expect(channel.handle(peer([0x10, 20] + payload(9), fd: true), now: t(5)).isEmpty)
    }
}
