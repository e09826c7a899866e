import SpaakCore
import Testing

@testable import EventLoop

/// A stand-in for a supervised cyclic frame (TBM_Status): each frame keeps the peer online
/// for 1000 ms; the timeout makes it offline. Records every transition.
private final class Supervision {
    var onlineUntil: Instant?
    var transitions: [String] = []
    var handled: [Instant] = []

    var nextDeadline: Instant? { onlineUntil }

    func receive(_ frame: Int, at now: Instant) {
        timeout(now)
        handled.append(now)
        if onlineUntil == nil { transitions.append("online@\(now.milliseconds)") }
        onlineUntil = now + .milliseconds(1000)
    }

    func timeout(_ now: Instant) {
        guard let until = onlineUntil, now >= until else { return }
        onlineUntil = nil
        transitions.append("offline@\(now.milliseconds)")
    }
}

/// Issue 7, defect 9: what was received before a deadline is handled before its timeout.
@Suite("Receive ordering after a stall")
struct ReceiveOrderingTests {
    private func deliver(_ ordering: inout ReceiveOrdering, _ machine: Supervision,
                         _ frames: [(Int, Instant?)], now: Instant) {
        ordering.deliver(frames, now: now, nextDeadline: { machine.nextDeadline },
                         input: { machine.receive($0, at: $1) }, timeout: { machine.timeout($0) })
    }

    @Test("Frames queued before the deadline but read after it cause no offline transition")
    func stalledLoopNoFlap() {
        let machine = Supervision()
        var ordering = ReceiveOrdering()
        deliver(&ordering, machine, [(0, .milliseconds(1000))], now: .milliseconds(1000))
        #expect(machine.transitions == ["online@1000"])
        // The host stalls from 1050 ms to 3000 ms; frames kept arriving every 100 ms.
        let queued = (1...19).map { (i: Int) -> (Int, Instant?) in (i, .milliseconds(1000 + UInt64(i) * 100)) }
        deliver(&ordering, machine, queued, now: .milliseconds(3000))
        #expect(machine.transitions == ["online@1000"])
        #expect(machine.handled.last == .milliseconds(2900))
        #expect(machine.onlineUntil == .milliseconds(3900))
    }

    @Test("A frame received after the deadline comes after the timeout")
    func lateFrameAfterTimeout() {
        let machine = Supervision()
        var ordering = ReceiveOrdering()
        deliver(&ordering, machine, [(0, .milliseconds(0))], now: .milliseconds(0))
        deliver(&ordering, machine, [(1, .milliseconds(1500))], now: .milliseconds(1600))
        #expect(machine.transitions == ["online@0", "offline@1500", "online@1500"])
    }

    @Test("Instants never go backwards and never pass now; unknown ones are now")
    func clamped() {
        let machine = Supervision()
        var ordering = ReceiveOrdering()
        deliver(&ordering, machine, [(0, .milliseconds(500))], now: .milliseconds(500))
        deliver(&ordering, machine, [(1, .milliseconds(100)), (2, .milliseconds(9000)), (3, nil)], now: .milliseconds(800))
        #expect(machine.handled == [.milliseconds(500), .milliseconds(500), .milliseconds(800), .milliseconds(800)])
        #expect(ordering.lastInstant == .milliseconds(800))
    }

    @Test("With nothing received, an expired deadline is applied at now")
    func timeoutOnly() {
        let machine = Supervision()
        var ordering = ReceiveOrdering()
        deliver(&ordering, machine, [(0, .milliseconds(0))], now: .milliseconds(0))
        deliver(&ordering, machine, [], now: .milliseconds(999))
        #expect(machine.transitions == ["online@0"])
        deliver(&ordering, machine, [], now: .milliseconds(1000))
        #expect(machine.transitions == ["online@0", "offline@1000"])
    }
}
