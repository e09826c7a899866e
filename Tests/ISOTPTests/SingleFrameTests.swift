import Testing
import SpaakCore
@testable import ISOTP

@Suite struct SingleFrameTests {
    @Test func sendSingleFramesPaddedTo8() {
        for length in 1...7 {
            var channel = ISOTPChannel(configuration: config())
            let data = payload(length, seed: UInt8(length))
            let out = channel.send(data, now: t(0))
            #expect(out.count == 2)
            #expect(out.frames.map(\.id) == [txID])
            #expect(out.sent == [padded([UInt8(length)] + data)])
            #expect(out.frames.first?.isFD == false)
            #expect(out.last == .transmitCompleted)
            #expect(!channel.isTransmitting)
            #expect(channel.nextDeadline == nil)
        }
    }

    @Test func sendSingleFrameCustomAndNoPadding() {
        var custom = ISOTPChannel(configuration: config(padding: 0xAA))
        #expect(custom.send([0x3E, 0x00], now: t(0)).sent == [[0x02, 0x3E, 0x00, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA]])
        var bare = ISOTPChannel(configuration: config(padding: nil))
        #expect(bare.send([0x3E, 0x00], now: t(0)).sent == [[0x02, 0x3E, 0x00]])
    }

    @Test func receiveSingleFrames() {
        var channel = ISOTPChannel(configuration: config())
        #expect(channel.handle(peer([0x05, 0x11, 0x22, 0x33, 0x44, 0x55]), now: t(0)) == [.received([0x11, 0x22, 0x33, 0x44, 0x55])])
        // Padding is not required, and padding bytes are not part of the message.
        #expect(channel.handle(peer([0x02, 0x10, 0x03, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]), now: t(1)) == [.received([0x10, 0x03])])
        #expect(channel.handle(peer([0x07, 1, 2, 3, 4, 5, 6, 7]), now: t(2)) == [.received([1, 2, 3, 4, 5, 6, 7])])
        #expect(channel.counters.messagesReceived == 3)
        #expect(channel.counters.framesIgnored == 0)
    }

    @Test func invalidSingleFramesIgnored() {
        var channel = ISOTPChannel(configuration: config())
        let bad: [[UInt8]] = [
            [],                                  // empty frame
            [0x00, 0x11],                        // SF_DL 0 on classic
            [0x05, 0x11, 0x22],                  // SF_DL beyond the data
            [0x08, 1, 2, 3, 4, 5, 6, 7],         // SF_DL 8 on classic
            [0x0F, 1, 2, 3, 4, 5, 6, 7],
            [0x01],                              // SF_DL 1 without data
        ]
        for data in bad { #expect(channel.handle(peer(data), now: t(0)).isEmpty) }
        #expect(channel.counters.framesIgnored == bad.count)
        #expect(channel.counters.framesReceived == bad.count)
    }

    @Test func framesOnOtherIdentifiersIgnored() {
        var channel = ISOTPChannel(configuration: config())
        #expect(channel.handle(peer([0x02, 0x10, 0x03], id: 0x7A1), now: t(0)).isEmpty)
        #expect(channel.handle(peer([0x02, 0x10, 0x03], id: txID), now: t(0)).isEmpty)
        #expect(channel.handle(CANFrame(id: rxID, data: [0x02, 0x10, 0x03], isExtended: true), now: t(0)).isEmpty)
        #expect(channel.counters.framesReceived == 0)
        // A classic channel ignores CAN FD frames even on its own identifier.
        #expect(channel.handle(peer([0x02, 0x10, 0x03], fd: true), now: t(0)).isEmpty)
        #expect(channel.counters.framesIgnored == 1)
    }

    @Test func extendedIdentifiers() {
        var cfg = config()
        cfg.extendedIDs = true
        cfg.txID = 0x18DA_F110
        cfg.rxID = 0x18DA_10F1
        var channel = ISOTPChannel(configuration: cfg)
        #expect(channel.handle(CANFrame(id: 0x18DA_10F1, data: [0x01, 0x3E]), now: t(0)).isEmpty)
        #expect(channel.handle(CANFrame(id: 0x18DA_10F1, data: [0x01, 0x3E], isExtended: true), now: t(0)) == [.received([0x3E])])
        let frame = channel.send([0x7E, 0x00], now: t(0)).frames.first
        #expect(frame?.id == 0x18DA_F110 && frame?.isExtended == true)
    }

    @Test func fdSingleFrames() {
        var channel = ISOTPChannel(configuration: config(fd: true))
        // Up to 7 bytes: classic SF layout, padded to 8, sent as FD with BRS.
        let small = channel.send([0x22, 0xF1, 0x90], now: t(0)).frames
        #expect(small.map(\.data) == [padded([0x03, 0x22, 0xF1, 0x90])])
        #expect(small.first?.isFD == true && small.first?.bitRateSwitch == true)
        // 8..62 bytes: escape sequence, padded to the next valid FD length.
        let nine = payload(9)
        #expect(channel.send(nine, now: t(0)).sent == [[0x00, 9] + nine + [0xCC]])
        let ten = payload(10)
        #expect(channel.send(ten, now: t(0)).sent == [[0x00, 10] + ten])
        let max = payload(62)
        let out = channel.send(max, now: t(0))
        #expect(out.sent == [[0x00, 62] + max])
        #expect(out.completed)
        let sixteen = payload(16)
        #expect(channel.send(sixteen, now: t(0)).sent == [padded([0x00, 16] + sixteen, to: 20)])
    }

    @Test func fdReceiveSingleFrames() {
        var channel = ISOTPChannel(configuration: config(fd: true))
        let data = payload(60)
        #expect(channel.handle(peer([0x00, 60] + data + [0xAA, 0xBB], fd: true), now: t(0)) == [.received(data)])
        #expect(channel.handle(peer([0x00, 10] + payload(10), fd: true), now: t(0)) == [.received(payload(10))])
        // Classic-length frames from the peer are accepted too.
        #expect(channel.handle(peer([0x02, 0x10, 0x03]), now: t(0)) == [.received([0x10, 0x03])])
        // CAN_DL > 8 without the escape sequence, or escape on CAN_DL <= 8: ignored.
        #expect(channel.handle(peer([0x0B] + payload(11), fd: true), now: t(0)).isEmpty)
        #expect(channel.handle(peer([0x05] + payload(5) + [UInt8](repeating: 0xCC, count: 10), fd: true), now: t(0)).isEmpty)
        #expect(channel.handle(peer([0x00, 0x03, 1, 2, 3], fd: true), now: t(0)).isEmpty)
        // Escaped SF_DL beyond the frame, and an invalid FD length.
        #expect(channel.handle(peer([0x00, 11] + payload(10), fd: true), now: t(0)).isEmpty)
        #expect(channel.handle(peer([0x00, 9] + payload(9), fd: true), now: t(0)).isEmpty)
        #expect(channel.counters.framesIgnored == 5)
    }

    @Test func singleFrameOnlyChannel() {
        var channel = ISOTPChannel(configuration: config(singleFrameOnly: true))
        #expect(channel.handle(peer([0x02, 0x3E, 0x00]), now: t(0)) == [.received([0x3E, 0x00])])
        // A first frame gets no flow control and starts nothing.
        #expect(channel.handle(peer([0x10, 0x0A] + payload(6)), now: t(0)).isEmpty)
        #expect(channel.nextDeadline == nil)
        #expect(channel.send(payload(8), now: t(0)) == [.failed(.payloadTooLong(length: 8, maximum: 7))])
        #expect(channel.send(payload(7), now: t(0)).completed)
    }

    @Test func separationTimeDecoding() {
        #expect(SeparationTime.duration(0x00) == .zero)
        #expect(SeparationTime.duration(0x05) == .milliseconds(5))
        #expect(SeparationTime.duration(0x7F) == .milliseconds(127))
        #expect(SeparationTime.duration(0xF1) == .microseconds(100))
        #expect(SeparationTime.duration(0xF3) == .microseconds(300))
        #expect(SeparationTime.duration(0xF9) == .microseconds(900))
        for reserved: UInt8 in [0x80, 0xA0, 0xF0, 0xFA, 0xFF] {
            #expect(SeparationTime.duration(reserved) == .milliseconds(127))
        }
    }

    @Test func errorDescriptionsAndDirection() {
        #expect(ISOTPError.timeoutBs.isTransmitError)
        #expect(!ISOTPError.timeoutCr.isTransmitError)
        #expect(ISOTPError.wrongSequenceNumber(expected: 2, received: 3).description == "wrong sequence number 3, expected 2")
        #expect(ISOTPError.payloadTooLong(length: 4096, maximum: 4095).description.contains("4096"))
    }
}
