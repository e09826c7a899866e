import Testing
import SpaakCore
@testable import ISOTP

@Suite struct TransmitTests {
    /// The expected CF for `data` at `offset` (7 bytes per classic CF), padded.
    func cf(_ sn: Int, _ data: [UInt8], from offset: Int) -> [UInt8] {
        padded([0x20 | UInt8(sn & 0x0F)] + data[offset..<min(data.count, offset + 7)])
    }

    @Test func firstFrameThenWholeMessageWithBS0STmin0() {
        var channel = ISOTPChannel(configuration: config())
        let data = payload(20)
        let ff = channel.send(data, now: t(0))
        #expect(ff == [.transmit(CANFrame(id: txID, data: [0x10, 20] + data[0..<6]))])
        #expect(channel.isTransmitting)
        #expect(channel.nextDeadline == t(1000))
        #expect(channel.handleTimeout(now: t(999)).isEmpty)
        let out = channel.handle(fc(0), now: t(10))
        #expect(out.sent == [cf(1, data, from: 6), cf(2, data, from: 13)])
        #expect(out.last == .transmitCompleted)
        #expect(!channel.isTransmitting && channel.nextDeadline == nil)
        #expect(channel.counters.framesTransmitted == 3 && channel.counters.messagesTransmitted == 1)
    }

    @Test func lastConsecutiveFrameUnpaddedWhenPaddingOff() {
        var channel = ISOTPChannel(configuration: config(padding: nil))
        let data = payload(10)
        #expect(channel.send(data, now: t(0)).sent == [[0x10, 0x0A] + data[0..<6]])
        #expect(channel.handle(fc(0), now: t(1)).sent == [[0x21] + data[6..<10]])
    }

    @Test func blockSize2AndSTmin5() {
        var channel = ISOTPChannel(configuration: config())
        let data = payload(50) // FF 6 + 7 CFs (44 bytes)
        _ = channel.send(data, now: t(0))
        var out = channel.handle(fc(0, bs: 2, st: 5), now: t(10))
        #expect(out.sent == [cf(1, data, from: 6)])
        channel.transmissionConfirmed(now: t(10))
        #expect(channel.nextDeadline == t(15))
        #expect(channel.handleTimeout(now: Instant(nanoseconds: 14_999_999)).isEmpty)
        out = channel.handleTimeout(now: t(15))
        #expect(out.sent == [cf(2, data, from: 13)])
        // Block of 2 done: now waiting for FC with N_Bs, nothing is sent at STmin.
        #expect(channel.nextDeadline == t(1015))
        #expect(channel.handleTimeout(now: t(16)).isEmpty)
        // FC arrives before STmin since the last CF has elapsed: the CF waits for STmin.
        #expect(channel.handle(fc(0, bs: 2, st: 5), now: t(17)).isEmpty)
        #expect(channel.nextDeadline == t(20))
        #expect(channel.handleTimeout(now: t(20)).sent == [cf(3, data, from: 20)])
        channel.transmissionConfirmed(now: t(20))
        // An FC in the middle of a block (not waiting for one) is ignored.
        #expect(channel.handle(fc(0, bs: 0, st: 0), now: t(22)).isEmpty)
        #expect(channel.counters.framesIgnored == 1)
        #expect(channel.handleTimeout(now: t(25)).sent == [cf(4, data, from: 27)])
        // Next block: FC long after the last CF → first CF immediately.
        #expect(channel.handle(fc(0, bs: 2, st: 5), now: t(100)).sent == [cf(5, data, from: 34)])
        channel.transmissionConfirmed(now: t(100))
        #expect(channel.handleTimeout(now: t(105)).sent == [cf(6, data, from: 41)])
        #expect(channel.handle(fc(0, bs: 2, st: 5), now: t(200)).sent == [cf(7, data, from: 48)])
        #expect(channel.handleTimeout(now: t(200)).isEmpty)
        #expect(!channel.isTransmitting)
    }

    @Test func blockSizeWithSTmin0SendsBlocksInBursts() {
        var channel = ISOTPChannel(configuration: config())
        let data = payload(4095)
        _ = channel.send(data, now: t(0))
        var offset = 6
        var sn = 1
        var rounds = 0
        while channel.isTransmitting {
            let out = channel.handle(fc(0, bs: 5), now: t(UInt64(rounds)))
            for frame in out.sent {
                #expect(frame == cf(sn, data, from: offset))
                offset += 7
                sn += 1
            }
            #expect(out.sent.count == 5 || out.completed)
            rounds += 1
        }
        #expect(offset >= 4095)
        #expect(rounds == 117) // 585 CFs in blocks of 5
    }

    @Test func sequenceNumberWraps() {
        var channel = ISOTPChannel(configuration: config())
        _ = channel.send(payload(200), now: t(0))
        let pcis = channel.handle(fc(0), now: t(0)).frames.map { $0.data[0] }
        #expect(pcis.count == 28)
        #expect(Array(pcis[0..<17]) == [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x20, 0x21])
    }

    @Test func microsecondSTmin() {
        var channel = ISOTPChannel(configuration: config())
        _ = channel.send(payload(30), now: t(0))
        #expect(channel.handle(fc(0, st: 0xF3), now: t(1)).sent.count == 1)
        channel.transmissionConfirmed(now: t(1))
        #expect(channel.nextDeadline == t(1) + .microseconds(300))
        #expect(channel.handleTimeout(now: t(1) + .microseconds(299)).isEmpty)
        #expect(channel.handleTimeout(now: t(1) + .microseconds(300)).sent.count == 1)
        channel.transmissionConfirmed(now: t(1) + .microseconds(300))
        #expect(channel.nextDeadline == t(1) + .microseconds(600))
    }

    @Test func reservedSTminMeans127ms() {
        for reserved: UInt8 in [0x80, 0xF0, 0xFA, 0xFF] {
            var channel = ISOTPChannel(configuration: config())
            _ = channel.send(payload(30), now: t(0))
            #expect(channel.handle(fc(0, st: reserved), now: t(0)).sent.count == 1)
            channel.transmissionConfirmed(now: t(0))
            #expect(channel.nextDeadline == t(127))
        }
    }

    @Test func firstFlowControlParametersHoldForTheMessage() {
        var channel = ISOTPChannel(configuration: config())
        _ = channel.send(payload(40), now: t(0))
        #expect(channel.handle(fc(0, bs: 1, st: 10), now: t(0)).sent.count == 1)
        // A later FC asking for BS 0 / STmin 0 does not change the running message.
        #expect(channel.handle(fc(0, bs: 0, st: 0), now: t(50)).sent.count == 1)
        #expect(channel.nextDeadline == t(1050))
    }

    @Test func tenWaitFramesAcceptedEleventhAborts() {
        var channel = ISOTPChannel(configuration: config())
        let data = payload(20)
        _ = channel.send(data, now: t(0))
        for i in 1...10 {
            #expect(channel.handle(fc(1), now: t(UInt64(i) * 900)).isEmpty)
            // Each WAIT restarts N_Bs.
            #expect(channel.nextDeadline == t(UInt64(i) * 900 + 1000))
        }
        var copy = channel
        #expect(copy.handle(fc(0), now: t(9500)).sent.count == 2)
        #expect(channel.handle(fc(1), now: t(9500)) == [.failed(.waitFrameOverrun(limit: 10))])
        #expect(!channel.isTransmitting && channel.nextDeadline == nil)
        #expect(channel.handle(fc(0), now: t(9501)).isEmpty)
        #expect(channel.counters.transmitErrors == 1)
    }

    @Test func waitCountRestartsAfterClearToSend() {
        var channel = ISOTPChannel(configuration: config(maxWaitFrames: 2))
        _ = channel.send(payload(30), now: t(0))
        _ = channel.handle(fc(1), now: t(0))
        _ = channel.handle(fc(1), now: t(0))
        #expect(channel.handle(fc(0, bs: 1), now: t(0)).sent.count == 1)
        _ = channel.handle(fc(1), now: t(0))
        _ = channel.handle(fc(1), now: t(0))
        #expect(channel.handle(fc(0, bs: 1), now: t(0)).sent.count == 1)
        #expect(channel.isTransmitting)
        var zero = ISOTPChannel(configuration: config(maxWaitFrames: 0))
        _ = zero.send(payload(30), now: t(0))
        #expect(zero.handle(fc(1), now: t(0)).errors == [.waitFrameOverrun(limit: 0)])
    }

    @Test func overflowAbortsAndInvalidFlowStatusAborts() {
        var channel = ISOTPChannel(configuration: config())
        _ = channel.send(payload(48), now: t(0))
        #expect(channel.handle(fc(2), now: t(5)) == [.failed(.bufferOverflow)])
        #expect(!channel.isTransmitting)
        _ = channel.send(payload(48), now: t(10))
        #expect(channel.handle(fc(3), now: t(11)) == [.failed(.invalidFlowStatus(3))])
        // A truncated FC is ignored, not an abort.
        _ = channel.send(payload(48), now: t(20))
        #expect(channel.handle(peer([0x30, 0x00]), now: t(21)).isEmpty)
        #expect(channel.isTransmitting)
    }

    @Test func flowControlTimeout() {
        var channel = ISOTPChannel(configuration: config())
        _ = channel.send(payload(10), now: t(100))
        #expect(channel.handleTimeout(now: t(1099)).isEmpty)
        #expect(channel.handleTimeout(now: t(1100)) == [.failed(.timeoutBs)])
        #expect(!channel.isTransmitting && channel.nextDeadline == nil)
        // A late FC is ignored; a new send works.
        #expect(channel.handle(fc(0), now: t(1200)).isEmpty)
        #expect(channel.send(payload(10), now: t(1300)).sent.count == 1)
        // A frame handled after the deadline sees the timeout first.
        #expect(channel.handle(fc(0), now: t(2400)) == [.failed(.timeoutBs)])
    }

    @Test func sendRefusals() {
        var channel = ISOTPChannel(configuration: config())
        #expect(channel.send([], now: t(0)) == [.failed(.emptyPayload)])
        #expect(channel.send(payload(4096), now: t(0)) == [.failed(.payloadTooLong(length: 4096, maximum: 4095))])
        let data = payload(20)
        _ = channel.send(data, now: t(0))
        #expect(channel.send(payload(3), now: t(1)) == [.failed(.busy)])
        // The ongoing transmission is intact.
        #expect(channel.handle(fc(0), now: t(2)).sent == [cf(1, data, from: 6), cf(2, data, from: 13)])
        // Classic CAN never exceeds 4095, whatever maxMessageLength says.
        var big = ISOTPChannel(configuration: config(maxMessageLength: 100_000))
        #expect(big.send(payload(4096), now: t(0)).errors == [.payloadTooLong(length: 4096, maximum: 4095)])
    }

    @Test func fdMultiFrameWith32BitEscape() {
        var channel = ISOTPChannel(configuration: config(fd: true))
        let data = payload(5000)
        let ff = channel.send(data, now: t(0)).frames
        #expect(ff.count == 1)
        #expect(ff[0].data == [0x10, 0x00, 0x00, 0x00, 0x13, 0x88] + data[0..<58])
        #expect(ff[0].isFD && ff[0].bitRateSwitch)
        let out = channel.handle(fc(0), now: t(1))
        let frames = out.frames
        // 4942 bytes left: 78 full CFs of 63 bytes, then 28 bytes in a 32-byte frame.
        #expect(frames.count == 79)
        #expect(frames.dropLast().allSatisfy { $0.data.count == 64 && $0.isFD })
        #expect(frames[0].data == [0x21] + data[58..<121])
        #expect(frames.last?.data == padded([0x2F] + data[4972..<5000], to: 32))
        #expect(out.completed)
    }

    @Test func fdTwelveBitFirstFrame() {
        var channel = ISOTPChannel(configuration: config(fd: true))
        let data = payload(100)
        #expect(channel.send(data, now: t(0)).sent == [[0x10, 100] + data[0..<62]])
        #expect(channel.handle(fc(0), now: t(0)).sent == [padded([0x21] + data[62..<100], to: 48)])
    }
}
