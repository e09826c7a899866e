import E2E
import SpaakCore
import Testing

@Suite("NFC_Status receiver and HU_Request (ICD 8.1)")
struct NFCStatusSupervisorTests {
    @Test("A tap starts a session; removal ends it; a new tap starts the next")
    func tapAndRemove() {
        let clock = VirtualClock(start: .milliseconds(1_000))
        var encoder = NFCStatusEncoder()
        var supervisor = NFCStatusSupervisor()
        #expect(supervisor.receive(encoder.nextFrame(.idle), now: clock.now) == [])
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [.sessionStarted])
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [])
        #expect(supervisor.inSession)
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(.idle), now: clock.now) == [.sessionEnded(.deviceRemoved)])
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [.sessionStarted])
    }

    @Test("Frames stopping for 1000 ms end the session; the next valid tap starts one")
    func silence() {
        let clock = VirtualClock(start: .zero)
        var encoder = NFCStatusEncoder()
        var supervisor = NFCStatusSupervisor()
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [.sessionStarted])
        #expect(supervisor.nextDeadline == .milliseconds(1_000))
        clock.advance(by: .milliseconds(999))
        #expect(supervisor.handleTimeout(now: clock.now) == [])
        clock.advance(by: .milliseconds(1))
        #expect(supervisor.handleTimeout(now: clock.now) == [.sessionEnded(.timeout)])
        clock.advance(by: .milliseconds(500))
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [.sessionStarted])
    }

    @Test("A device that stays in the field starts no second session; ReaderReady dropping keeps the session")
    func stayingDevice() {
        let clock = VirtualClock(start: .zero)
        var encoder = NFCStatusEncoder()
        var supervisor = NFCStatusSupervisor()
        #expect(supervisor.receive(encoder.nextFrame(NFCStatusSignals(devicePresent: true, readerReady: false)), now: clock.now) == [])
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [.sessionStarted])
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(NFCStatusSignals(devicePresent: true, readerReady: false)), now: clock.now) == [])
        #expect(supervisor.inSession)
        clock.advance(by: .milliseconds(100))
        #expect(supervisor.receive(encoder.nextFrame(.tapped), now: clock.now) == [])
    }

    @Test("Bad CRC, wrong length and repeated counters are discarded, counted, and start nothing")
    func badFrames() {
        var supervisor = NFCStatusSupervisor()
        var encoder = NFCStatusEncoder()
        let good = encoder.nextFrame(.tapped)
        var bad = good
        bad.data[0] ^= 0xFF
        #expect(supervisor.receive(bad, now: .zero) == [])
        #expect(supervisor.receive(CANFrame(id: 0x3B0, data: [0, 0, 3]), now: .zero) == [])
        #expect(supervisor.counters.discardedCRC == 1)
        #expect(supervisor.counters.discardedLength == 1)
        #expect(supervisor.receive(good, now: .zero) == [.sessionStarted])
        var sameCounter = NFCStatusEncoder()
        #expect(supervisor.receive(sameCounter.nextFrame(.idle), now: .milliseconds(100)) == [])
        #expect(supervisor.counters.repeated == 1)
        #expect(supervisor.inSession)
    }

    @Test("HU_Request: accepted once per counter; bad CRC, repeats and unknown codes are discarded")
    func huRequest() {
        var receiver = HURequestReceiver()
        #expect(receiver.receive(HURequest.startOwnerPairing.frame(counter: 0)) == .startOwnerPairing)
        #expect(receiver.receive(HURequest.startOwnerPairing.frame(counter: 0)) == nil)
        #expect(receiver.counters.repeated == 1)
        var bad = HURequest.startOwnerPairing.frame(counter: 1)
        bad.data[0] ^= 1
        #expect(receiver.receive(bad) == nil)
        #expect(receiver.counters.discardedCRC == 1)
        #expect(receiver.receive(HURequest.startOwnerPairing.frame(counter: 1)) == .startOwnerPairing)
        let unknown = CANFrame(id: 0x3C0, data: E2EProfile.protect(dataID: 0x3C0, counter: 2, signals: [0x02]))
        #expect(receiver.receive(unknown) == nil)
        #expect(receiver.counters.unknownRequest == 1)
        #expect(receiver.receive(HURequest.startOwnerPairing.frame(counter: 7)) == .startOwnerPairing)
        #expect(receiver.counters.accepted == 3)
    }
}
