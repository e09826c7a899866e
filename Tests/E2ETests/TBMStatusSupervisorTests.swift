import E2E
import SpaakCore
import Testing

@Suite("TBM_Status receiver (ICD 3)")
struct TBMStatusSupervisorTests {
    private func ready(_ counter: UInt8) -> CANFrame { TBMStatusEncoder.frame(counter: counter, signals: .ready) }

    @Test("Online at the first ready frame; 999 ms later still online, at 1000 ms offline")
    func timeoutBoundary() {
        let clock = VirtualClock(start: .milliseconds(5_000))
        var supervisor = TBMStatusSupervisor()
        #expect(!supervisor.isOnline)
        #expect(supervisor.nextDeadline == nil)
        #expect(supervisor.receive(ready(0), now: clock.now) == [.wentOnline])
        #expect(supervisor.isOnline)
        #expect(supervisor.nextDeadline == .milliseconds(6_000))

        clock.advance(by: .milliseconds(999))
        #expect(supervisor.handleTimeout(now: clock.now) == [])
        #expect(supervisor.isOnline)
        #expect(supervisor.isOnline(at: clock.now))
        #expect(!supervisor.isOnline(at: .milliseconds(6_000)))

        clock.advance(by: .milliseconds(1))
        #expect(supervisor.handleTimeout(now: clock.now) == [.wentOffline(.timeout)])
        #expect(!supervisor.isOnline)
        #expect(supervisor.nextDeadline == nil)
        #expect(supervisor.handleTimeout(now: clock.now) == [])
    }

    @Test("Each ready frame pushes the deadline; 100 ms cycle stays online without transitions")
    func cyclicRefresh() {
        let clock = VirtualClock()
        var supervisor = TBMStatusSupervisor()
        var encoder = TBMStatusEncoder()
        var transitions: [TBMStatusSupervisor.Transition] = []
        for _ in 0..<40 {
            transitions += supervisor.handleTimeout(now: clock.now)
            transitions += supervisor.receive(encoder.nextFrame(.ready), now: clock.now)
            clock.advance(by: .milliseconds(100))
        }
        #expect(transitions == [.wentOnline])
        #expect(supervisor.counters.valid == 40)
        #expect(supervisor.counters.lost == 0)
        #expect(supervisor.nextDeadline == .milliseconds(3_900 + 1_000))
    }

    @Test("A frame received after an unserviced deadline first expires, then comes back online")
    func lateFrameFlaps() {
        var supervisor = TBMStatusSupervisor()
        _ = supervisor.receive(ready(0), now: .zero)
        let transitions = supervisor.receive(ready(1), now: .milliseconds(1_000))
        #expect(transitions == [.wentOffline(.timeout), .wentOnline])
    }

    @Test("Bad CRC is discarded and counted, and does not refresh the online timer")
    func badCRC() {
        var supervisor = TBMStatusSupervisor()
        var bad = ready(0)
        bad.data[0] ^= 0x01
        #expect(supervisor.receive(bad, now: .zero) == [])
        #expect(!supervisor.isOnline)
        #expect(supervisor.counters.discardedCRC == 1)
        #expect(supervisor.counters.valid == 0)

        _ = supervisor.receive(ready(0), now: .milliseconds(100))
        var bad2 = ready(1)
        bad2.data[2] = 0x01  // bit cleared, CRC now wrong: must not go offline
        #expect(supervisor.receive(bad2, now: .milliseconds(200)) == [])
        #expect(supervisor.isOnline)
        #expect(supervisor.nextDeadline == .milliseconds(1_100))
        #expect(supervisor.counters.discardedCRC == 2)
        #expect(supervisor.lastCheckStatus == .wrongCRC)
    }

    @Test("Wrong DLC is discarded and counted", arguments: [0, 7, 9, 64])
    func wrongDLC(count: Int) {
        var supervisor = TBMStatusSupervisor()
        let good = ready(0).data
        let data = Array(good.prefix(count)) + [UInt8](repeating: 0, count: max(0, count - 8))
        #expect(supervisor.receive(CANFrame(id: 0x3A0, data: data, isFD: count > 8), now: .zero) == [])
        #expect(supervisor.counters.discardedLength == 1)
        #expect(supervisor.counters.discardedCRC == 0)
        #expect(!supervisor.isOnline)
    }

    @Test("Other ids and extended frames are ignored, not counted; the id is configurable")
    func filtering() {
        var supervisor = TBMStatusSupervisor()
        #expect(supervisor.receive(CANFrame(id: 0x3A8, data: ready(0).data), now: .zero) == [])
        #expect(supervisor.receive(CANFrame(id: 0x3A0, data: ready(0).data, isExtended: true), now: .zero) == [])
        #expect(supervisor.counters == TBMStatusSupervisor.Counters())

        var other = TBMStatusSupervisor(configuration: .init(canID: 0x3B0))
        #expect(other.receive(ready(0), now: .zero) == [])  // data id 0x3A0 ≠ 0x3B0 but filtered first
        #expect(other.counters == TBMStatusSupervisor.Counters())
        let frame = TBMStatusEncoder.frame(canID: 0x3B0, counter: 0, signals: .ready)
        #expect(other.receive(frame, now: .zero) == [.wentOnline])
        // A 0x3B0 frame protected with data id 0x3A0 fails the CRC.
        #expect(other.receive(CANFrame(id: 0x3B0, data: ready(1).data), now: .zero) == [])
        #expect(other.counters.discardedCRC == 1)
    }

    @Test("Counter jumps count lost frames, also across the 14 → 0 wrap, and are never errors")
    func lostFrames() {
        var supervisor = TBMStatusSupervisor()
        _ = supervisor.receive(ready(3), now: .milliseconds(0))
        _ = supervisor.receive(ready(6), now: .milliseconds(100))  // 4, 5 lost
        #expect(supervisor.counters.lost == 2)
        #expect(supervisor.lastCheckStatus == .lost(2))
        _ = supervisor.receive(ready(13), now: .milliseconds(200))  // 7...12 lost
        #expect(supervisor.counters.lost == 8)
        _ = supervisor.receive(ready(1), now: .milliseconds(300))  // 14, 0 lost
        #expect(supervisor.counters.lost == 10)
        _ = supervisor.receive(ready(2), now: .milliseconds(400))
        #expect(supervisor.counters.lost == 10)
        #expect(supervisor.counters.valid == 5)
        #expect(supervisor.isOnline)
        #expect(supervisor.nextDeadline == .milliseconds(1_400))
    }

    @Test("A repeated counter is stale: counted, data not used, online timer not refreshed")
    func repeatedCounter() {
        var supervisor = TBMStatusSupervisor()
        _ = supervisor.receive(ready(4), now: .zero)
        let notReadySame = TBMStatusEncoder.frame(counter: 4, signals: .init(gsdpConnected: false, spaakTopicSubscribed: true))
        #expect(supervisor.receive(notReadySame, now: .milliseconds(100)) == [])
        #expect(supervisor.receive(ready(4), now: .milliseconds(200)) == [])
        #expect(supervisor.isOnline)
        #expect(supervisor.lastSignals == .ready)
        #expect(supervisor.counters.repeated == 2)
        #expect(supervisor.counters.valid == 1)
        #expect(supervisor.nextDeadline == .milliseconds(1_000))
        // A TBM stuck on counter 4 goes offline and does not come back by resynchronising.
        #expect(supervisor.handleTimeout(now: .milliseconds(1_000)) == [.wentOffline(.timeout)])
        for t in stride(from: UInt64(1_100), through: 3_000, by: 100) {
            #expect(supervisor.receive(ready(4), now: .milliseconds(t)) == [])
        }
        #expect(!supervisor.isOnline)
        #expect(supervisor.receive(ready(5), now: .milliseconds(3_100)) == [.wentOnline])
    }

    @Test("Counter 15 with a valid CRC is discarded as invalid")
    func counter15() {
        var supervisor = TBMStatusSupervisor()
        var data = [UInt8](repeating: 0, count: 8)
        data[1] = 0x0F
        data[2] = 0x03
        data[0] = E2EProfile.crc(dataID: 0x3A0, data: data)
        #expect(supervisor.receive(CANFrame(id: 0x3A0, data: data), now: .zero) == [])
        #expect(supervisor.counters.discardedInvalidCounter == 1)
        #expect(supervisor.counters.discardedCRC == 0)
        #expect(!supervisor.isOnline)
    }

    @Test("A valid frame with either bit cleared makes the TBM offline at once")
    func bitCleared() {
        for signals in [TBMStatusSignals(gsdpConnected: false, spaakTopicSubscribed: true),
                        TBMStatusSignals(gsdpConnected: true, spaakTopicSubscribed: false),
                        TBMStatusSignals(gsdpConnected: false, spaakTopicSubscribed: false)] {
            var supervisor = TBMStatusSupervisor()
            var encoder = TBMStatusEncoder()
            #expect(supervisor.receive(encoder.nextFrame(.ready), now: .zero) == [.wentOnline])
            #expect(supervisor.receive(encoder.nextFrame(signals), now: .milliseconds(100))
                == [.wentOffline(.notReady(signals))])
            #expect(!supervisor.isOnline)
            #expect(supervisor.nextDeadline == nil)
            #expect(supervisor.lastSignals == signals)
            // Staying not ready: no further transitions; the first ready frame is online again.
            #expect(supervisor.receive(encoder.nextFrame(signals), now: .milliseconds(200)) == [])
            #expect(supervisor.handleTimeout(now: .milliseconds(5_000)) == [])
            #expect(supervisor.receive(encoder.nextFrame(.ready), now: .milliseconds(300)) == [.wentOnline])
            #expect(supervisor.counters.valid == 4)
        }
    }

    @Test("After a silence of the timeout the counter resynchronises (no lost frames counted)")
    func resyncAfterSilence() {
        var supervisor = TBMStatusSupervisor()
        _ = supervisor.receive(ready(2), now: .zero)
        _ = supervisor.receive(ready(5), now: .milliseconds(999))  // within: 2 lost
        #expect(supervisor.counters.lost == 2)
        #expect(supervisor.handleTimeout(now: .milliseconds(1_999)) == [.wentOffline(.timeout)])
        #expect(supervisor.receive(ready(11), now: .milliseconds(1_999)) == [.wentOnline])
        #expect(supervisor.counters.lost == 2)
        #expect(supervisor.lastCheckStatus == .ok)
    }
}
