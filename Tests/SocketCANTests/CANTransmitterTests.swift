import CanSM
import SpaakCore
import Testing

@testable import SocketCAN

/// A kernel that answers each batch write from a script, then takes everything; what it
/// took is the bus, in order.
final class FakeKernel {
    enum Answer {
        /// Takes everything offered.
        case all
        /// Takes the first `n` frames (at most what is offered) and stops for `stop`.
        case take(Int, CANSendStop?)
        /// The interface is lost.
        case fail(CANSocketError)
    }

    var script: [Answer]
    /// The frames taken, in order.
    private(set) var bus: [CANFrame] = []
    /// The number of frames offered by each write.
    private(set) var offered: [Int] = []

    init(_ script: [Answer] = []) { self.script = script }

    var writes: Int { offered.count }

    func send(_ batch: ArraySlice<CANFrame>) throws -> CANSendOutcome {
        offered.append(batch.count)
        let answer = script.isEmpty ? .all : script.removeFirst()
        switch answer {
        case .all:
            bus += batch
            return CANSendOutcome(sent: batch.count, stop: nil)
        case .take(let n, let stop):
            let taken = min(n, batch.count)
            bus += batch.prefix(taken)
            return CANSendOutcome(sent: taken, stop: taken == batch.count && stop == nil ? nil : stop)
        case .fail(let error):
            throw error
        }
    }
}

/// `n` distinct frames on 0x7A8 (the UDS answer's identifier), numbered from `first`.
private func frames(_ n: Int, from first: Int = 0, id: UInt32 = 0x7A8) -> [CANFrame] {
    (first..<(first + n)).map { CANFrame(id: id, data: [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)]) }
}

private func status(_ counter: UInt8) -> CANFrame { CANFrame(id: 0x3A8, data: [counter, 0, 0, 0, 0, 0, 0, 0]) }

@Suite("CANTransmitter: order, back-pressure, bus-off, cyclic frames")
struct CANTransmitterTests {
    let clock = VirtualClock(start: .milliseconds(1000))

    @Test("frames go out at once in one batch write; idle after")
    func immediate() throws {
        let kernel = FakeKernel()
        var tx = CANTransmitter()
        #expect(tx.isIdle)
        try tx.submit(frames(20), now: clock.now, send: kernel.send)
        #expect(kernel.offered == [20])
        #expect(kernel.bus == frames(20))
        #expect(tx.isIdle && !tx.wantsWritable && tx.nextDeadline == nil)
        #expect(tx.counters.sent == 20 && tx.counters.refusedWrites == 0)
    }

    @Test("EAGAIN: the rest waits for POLLOUT, new frames go behind it, order kept")
    func socketBufferFull() throws {
        let kernel = FakeKernel([.take(2, .socketBufferFull)])
        var tx = CANTransmitter()
        try tx.submit(frames(5), now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(2))
        #expect(tx.wantsWritable && tx.nextDeadline == nil && tx.count == 3)
        // While blocked, a submission does not write.
        try tx.submit(frames(3, from: 5), now: clock.now, send: kernel.send)
        #expect(kernel.writes == 1 && tx.count == 6)
        // A timeout is not POLLOUT.
        try tx.handleTimeout(now: clock.now + .seconds(1), send: kernel.send)
        #expect(kernel.writes == 1)
        try tx.writable(now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(8))
        #expect(tx.isIdle && !tx.wantsWritable)
        #expect(tx.counters.refusedWrites == 1 && tx.counters.deviceQueueFull == 0 && tx.counters.sent == 8)
    }

    @Test("ENOBUFS: no POLLOUT interest, a retry after a pause, order kept")
    func deviceQueueFull() throws {
        let kernel = FakeKernel([.take(10, .deviceQueueFull)])
        var tx = CANTransmitter()
        try tx.submit(frames(30), now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(10))
        #expect(!tx.wantsWritable)
        #expect(tx.nextDeadline == clock.now + .milliseconds(1))
        // POLLOUT would lie here: even if the loop reports it, nothing is written.
        try tx.writable(now: clock.now, send: kernel.send)
        try tx.submit(frames(5, from: 30), now: clock.now, send: kernel.send)
        try tx.handleTimeout(now: clock.now + .microseconds(999), send: kernel.send)
        #expect(kernel.writes == 1 && tx.count == 25)
        clock.advance(by: .milliseconds(1))
        try tx.handleTimeout(now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(35))
        #expect(tx.isIdle && tx.nextDeadline == nil)
        #expect(tx.counters.refusedWrites == 1 && tx.counters.deviceQueueFull == 1)
    }

    @Test("ENOBUFS retries back off while they move fewer than a few frames, up to the maximum; reset when drained")
    func backoff() throws {
        let kernel = FakeKernel([
            .take(10, .deviceQueueFull),  // first: 1 ms
            .take(1, .deviceQueueFull),   // too few: 2 ms
            .take(0, .deviceQueueFull),   // 4 ms
            .take(2, .deviceQueueFull),   // 8 ms
            .take(5, .deviceQueueFull),   // enough: stays 8 ms
            .take(0, .deviceQueueFull),   // 16 ms
            .take(0, .deviceQueueFull),   // 16 ms (maximum)
            .all,
            .take(0, .deviceQueueFull),   // a new spell: 1 ms again
        ])
        var tx = CANTransmitter()
        try tx.submit(frames(100), now: clock.now, send: kernel.send)
        var pauses: [Int] = []
        while let deadline = tx.nextDeadline {
            pauses.append(Int((deadline - clock.now).milliseconds))
            clock.advance(to: deadline)
            try tx.handleTimeout(now: clock.now, send: kernel.send)
        }
        #expect(pauses == [1, 2, 4, 8, 8, 16, 16])
        #expect(kernel.bus == frames(100))
        try tx.submit(frames(1, from: 100), now: clock.now, send: kernel.send)
        #expect(tx.nextDeadline == clock.now + .milliseconds(1))
        #expect(tx.counters.refusedWrites == 8)
    }

    @Test("a device queue that stays full for a second costs a few dozen writes, never a busy loop")
    func noBusyLoop() throws {
        let kernel = FakeKernel(Array(repeating: .take(0, .deviceQueueFull), count: 10_000))
        var tx = CANTransmitter()
        let start = clock.now
        try tx.submit(frames(50), now: clock.now, send: kernel.send)
        while clock.now < start + .seconds(1) {
            #expect(!tx.wantsWritable)
            guard let deadline = tx.nextDeadline else { Issue.record("no retry deadline"); return }
            #expect(deadline > clock.now)
            clock.advance(to: deadline)
            try tx.handleTimeout(now: clock.now, send: kernel.send)
            // New frames while the device is full do not cause writes.
            try tx.submit(frames(1, from: 50 + kernel.writes), now: clock.now, send: kernel.send)
        }
        // 1 + 2 + 4 + 8 ms, then every 16 ms: 4 + 62 retries and the first write.
        #expect(kernel.writes <= 70)
        #expect(kernel.bus.isEmpty)
    }

    @Test("bus-off: nothing is written while halted, the queue is kept in order and goes out on resume")
    func halt() throws {
        let kernel = FakeKernel([.take(1, .deviceQueueFull)])
        var tx = CANTransmitter()
        try tx.submit(frames(3), now: clock.now, send: kernel.send)
        #expect(tx.nextDeadline != nil)
        tx.halt()
        #expect(tx.isHalted && tx.nextDeadline == nil && !tx.wantsWritable)
        try tx.submit(frames(4, from: 3), now: clock.now, send: kernel.send)
        try tx.handleTimeout(now: clock.now + .seconds(5), send: kernel.send)
        try tx.writable(now: clock.now, send: kernel.send)
        #expect(kernel.writes == 1 && tx.count == 6 && !tx.isIdle)
        try tx.resume(now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(7))
        #expect(!tx.isHalted && tx.isIdle)
    }

    @Test("EAGAIN before bus-off: no POLLOUT interest while halted")
    func haltAfterEAGAIN() throws {
        let kernel = FakeKernel([.take(0, .socketBufferFull)])
        var tx = CANTransmitter()
        try tx.submit(frames(2), now: clock.now, send: kernel.send)
        #expect(tx.wantsWritable)
        tx.halt()
        #expect(!tx.wantsWritable)
        try tx.writable(now: clock.now, send: kernel.send)
        #expect(kernel.writes == 1)
        try tx.resume(now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(2) && tx.isIdle)
    }

    @Test("a full queue drops its oldest frames, counted")
    func bounded() throws {
        let kernel = FakeKernel()
        var tx = CANTransmitter(capacity: 4)
        tx.halt()
        try tx.submit(frames(6), now: clock.now, send: kernel.send)
        #expect(tx.count == 4 && tx.counters.dropped == 2)
        #expect(Array(tx.queued) == Array(frames(6)[2...]))
        try tx.resume(now: clock.now, send: kernel.send)
        #expect(kernel.bus == Array(frames(6)[2...]))
    }

    @Test("a newer cyclic frame replaces a queued older one in place; one sent from the queue is late")
    func cyclicReplacement() throws {
        let kernel = FakeKernel()
        var tx = CANTransmitter(cyclicIDs: [0x3A8])
        tx.halt()
        try tx.submit([frames(1)[0], status(1), frames(1, from: 1)[0]], now: clock.now, send: kernel.send)
        try tx.submit([status(2), frames(1, from: 2)[0]], now: clock.now, send: kernel.send)
        try tx.submit([status(3)], now: clock.now, send: kernel.send)
        #expect(Array(tx.queued) == [frames(1)[0], status(3), frames(1, from: 1)[0], frames(1, from: 2)[0]])
        #expect(tx.counters.statusSkipped == 2)
        try tx.resume(now: clock.now, send: kernel.send)
        #expect(kernel.bus == [frames(1)[0], status(3), frames(1, from: 1)[0], frames(1, from: 2)[0]])
        #expect(tx.counters.statusLate == 1)
        // Sent at once: neither late nor skipped; the next one is not replaced by anything.
        try tx.submit([status(4)], now: clock.now, send: kernel.send)
        try tx.submit([status(5)], now: clock.now, send: kernel.send)
        #expect(kernel.bus.suffix(2) == [status(4), status(5)])
        #expect(tx.counters.statusLate == 1 && tx.counters.statusSkipped == 2)
    }

    @Test("a cyclic frame held back by EAGAIN is sent late, and a frame of another id is never replaced")
    func cyclicLate() throws {
        let kernel = FakeKernel([.take(1, .socketBufferFull)])
        var tx = CANTransmitter(cyclicIDs: [0x3A8])
        try tx.submit([frames(1)[0], status(1)], now: clock.now, send: kernel.send)
        try tx.submit([frames(1, from: 1)[0], frames(1, from: 1)[0]], now: clock.now, send: kernel.send)
        #expect(tx.count == 3)
        try tx.writable(now: clock.now, send: kernel.send)
        #expect(kernel.bus == [frames(1)[0], status(1), frames(1, from: 1)[0], frames(1, from: 1)[0]])
        #expect(tx.counters.statusLate == 1 && tx.counters.statusSkipped == 0)
        // A status frame in the same call as a short write that took it: not late.
        let second = FakeKernel([.take(2, .socketBufferFull)])
        var other = CANTransmitter(cyclicIDs: [0x3A8])
        try other.submit([status(7), frames(1)[0], frames(1, from: 1)[0]], now: clock.now, send: second.send)
        try other.writable(now: clock.now, send: second.send)
        #expect(second.bus == [status(7), frames(1)[0], frames(1, from: 1)[0]])
        #expect(other.counters.statusLate == 0)
    }

    @Test("a cyclic frame dropped as the oldest of a full queue is counted skipped")
    func cyclicDropped() throws {
        let kernel = FakeKernel()
        var tx = CANTransmitter(capacity: 3, cyclicIDs: [0x3A8])
        tx.halt()
        try tx.submit([status(1)] + frames(3), now: clock.now, send: kernel.send)
        #expect(tx.counters.dropped == 1 && tx.counters.statusSkipped == 1)
        // The next status frame is queued anew (nothing to replace).
        try tx.submit([status(2)], now: clock.now, send: kernel.send)
        try tx.resume(now: clock.now, send: kernel.send)
        #expect(kernel.bus == Array(frames(3)[1...]) + [status(2)])
        #expect(tx.counters.statusLate == 1)
    }

    @Test("an unsendable frame in the middle of a batch is dropped and counted; the rest goes on at once")
    func unsendable() throws {
        let kernel = FakeKernel([.take(2, .unsendable(reason: "invalid identifier or length"))])
        var tx = CANTransmitter()
        try tx.submit(frames(5), now: clock.now, send: kernel.send)
        #expect(kernel.bus == [frames(5)[0], frames(5)[1], frames(5)[3], frames(5)[4]])
        #expect(kernel.offered == [5, 2])
        #expect(tx.isIdle && tx.counters.unsendable == 1 && tx.counters.sent == 4)
        #expect(tx.lastUnsendable?.frame == frames(5)[2])
        #expect(tx.lastUnsendable?.reason == "invalid identifier or length")
        #expect(tx.counters.refusedWrites == 0)
    }

    @Test("interface loss propagates; the shell discards the queue, the counters stay")
    func interfaceLost() throws {
        let kernel = FakeKernel([.take(2, .socketBufferFull), .fail(.interfaceDown("can0"))])
        var tx = CANTransmitter()
        try tx.submit(frames(5), now: clock.now, send: kernel.send)
        #expect(throws: CANSocketError.interfaceDown("can0")) {
            try tx.writable(now: clock.now, send: kernel.send)
        }
        #expect(tx.count == 3)
        #expect(tx.removeAll() == 3)
        #expect(tx.isIdle && !tx.wantsWritable && tx.nextDeadline == nil)
        try tx.submit(frames(1, from: 9), now: clock.now, send: kernel.send)
        #expect(kernel.bus == frames(2) + frames(1, from: 9))
        #expect(tx.counters.sent == 3 && tx.counters.refusedWrites == 1)
    }

    @Test("a write that takes nothing and gives no reason is retried after a pause, not at once")
    func noReason() throws {
        let kernel = FakeKernel([.take(0, nil)])
        var tx = CANTransmitter()
        try tx.submit(frames(2), now: clock.now, send: kernel.send)
        #expect(kernel.writes == 1 && tx.nextDeadline == clock.now + .milliseconds(1))
    }

    @Test("the counters go into the DID 0xD130 record")
    func diagnostics() throws {
        let kernel = FakeKernel([.take(0, .deviceQueueFull)])
        var tx = CANTransmitter(cyclicIDs: [0x3A8])
        try tx.submit([status(1)], now: clock.now, send: kernel.send)
        try tx.submit([status(2)], now: clock.now, send: kernel.send)
        clock.advance(by: .milliseconds(1))
        try tx.handleTimeout(now: clock.now, send: kernel.send)
        var record = CANBusDiagnostics()
        record.state = .virtual
        tx.diagnostics(into: &record)
        #expect(record.refusedWrites == 1 && record.statusLate == 1 && record.statusSkipped == 1)
        #expect(record.state == .virtual)
    }

    @Test("order is kept under any mix of EAGAIN, ENOBUFS, unsendable frames, halts and resumes", arguments: [UInt64](1...20))
    func orderUnderStress(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var script: [FakeKernel.Answer] = []
        for _ in 0..<400 {
            switch Int.random(in: 0..<6, using: &random) {
            case 0: script.append(.all)
            case 1: script.append(.take(Int.random(in: 0...5, using: &random), .socketBufferFull))
            case 2: script.append(.take(Int.random(in: 0...5, using: &random), .deviceQueueFull))
            case 3: script.append(.take(Int.random(in: 0...5, using: &random), .unsendable(reason: "test")))
            default: script.append(.take(Int.random(in: 0...3, using: &random), nil))
            }
        }
        let kernel = FakeKernel(script)
        var tx = CANTransmitter(capacity: 100_000)
        var next = 0
        for _ in 0..<300 {
            switch Int.random(in: 0..<6, using: &random) {
            case 0, 1:
                let n = Int.random(in: 1...8, using: &random)
                try tx.submit(frames(n, from: next), now: clock.now, send: kernel.send)
                next += n
            case 2: try tx.writable(now: clock.now, send: kernel.send)
            case 3:
                clock.advance(by: .milliseconds(Int64.random(in: 0...20, using: &random)))
                try tx.handleTimeout(now: clock.now, send: kernel.send)
            case 4: tx.halt()
            default: try tx.resume(now: clock.now, send: kernel.send)
            }
            // POLLOUT only after EAGAIN; a retry deadline only after ENOBUFS; neither while halted.
            #expect(!(tx.wantsWritable && tx.nextDeadline != nil))
            if tx.isHalted { #expect(!tx.wantsWritable && tx.nextDeadline == nil) }
        }
        kernel.script = []
        try tx.resume(now: clock.now, send: kernel.send)
        try tx.writable(now: clock.now, send: kernel.send)
        clock.advance(by: .seconds(1))
        try tx.handleTimeout(now: clock.now, send: kernel.send)
        #expect(tx.isIdle)
        // Every frame reached the bus or was counted unsendable; those on the bus are in
        // submission order, each once.
        #expect(kernel.bus.count + tx.counters.unsendable == next)
        #expect(tx.counters.sent == kernel.bus.count)
        let numbers = kernel.bus.map { Int($0.data[0]) << 8 | Int($0.data[1]) }
        #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 })
    }
}
