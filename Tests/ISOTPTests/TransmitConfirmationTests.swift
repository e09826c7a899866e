import ISOTP
import SpaakCore
import Testing

/// STmin runs from the transmit confirmation, so a late shell never shortens the gap.
@Suite struct TransmitConfirmationTests {
    @Test func separationTimeRunsFromConfirmation() {
        var channel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x7A8, rxID: 0x7A0))
        let t0 = Instant.milliseconds(100)
        _ = channel.send(Array(repeating: 0x55, count: 30), now: t0)
        let cts = CANFrame(id: 0x7A0, data: [0x30, 0x00, 0x05, 0, 0, 0, 0, 0])
        let first = channel.handle(cts, now: t0)
        #expect(first.count == 1)
        // Until the frame is confirmed, the next CF waits for it (N_As).
        #expect(channel.nextDeadline == t0 + .milliseconds(1000))
        // The frame only reached the bus 2 ms later: the next CF waits until then + 5 ms.
        channel.transmissionConfirmed(now: t0 + .milliseconds(2))
        #expect(channel.nextDeadline == t0 + .milliseconds(7))
        #expect(channel.handleTimeout(now: t0 + .milliseconds(6)).isEmpty)
        #expect(channel.handleTimeout(now: t0 + .milliseconds(7)).count == 1)
    }

    @Test func consecutiveFrameNeverConfirmedFailsByNAs() {
        // A halted bus (bus-off) or a transmit queue that does not drain: the CF handed out
        // with an STmin gap is never confirmed; the next one never goes, and N_As ends it.
        var channel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x7A8, rxID: 0x7A0))
        _ = channel.send(Array(repeating: 0x55, count: 30), now: .zero)
        #expect(channel.handle(CANFrame(id: 0x7A0, data: [0x30, 0x00, 0x05, 0, 0, 0, 0, 0]), now: .zero).count == 1)
        #expect(channel.handleTimeout(now: .milliseconds(5)).isEmpty)
        #expect(channel.handleTimeout(now: .milliseconds(999)).isEmpty)
        #expect(channel.handleTimeout(now: .milliseconds(1000)) == [.failed(.timeoutAs)])
        #expect(!channel.isTransmitting)
    }

    @Test func confirmationWithoutSeparationTimeChangesNothing() {
        var channel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x7A8, rxID: 0x7A0))
        _ = channel.send(Array(repeating: 0x55, count: 30), now: .zero)
        _ = channel.handle(CANFrame(id: 0x7A0, data: [0x30, 0x00, 0x00]), now: .zero)
        #expect(!channel.isTransmitting)
        channel.transmissionConfirmed(now: .milliseconds(3))
        #expect(channel.nextDeadline == nil)
    }
}
