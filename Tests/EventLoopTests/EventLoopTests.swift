import CSocketCAN
import Glibc
import SpaakCore
import Testing

@testable import EventLoop

/// A non-blocking pipe; closed by the caller.
private func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    try #require(pipe(&fds) == 0)
    for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    return (fds[0], fds[1])
}

/// Turns the loop until `handler` has seen an event matching `done` or `limit` passes.
private func runUntil(_ loop: EventLoop, limit: Duration = .seconds(5),
                      _ done: (LoopEvent) -> Bool) throws -> [LoopEvent] {
    var events: [LoopEvent] = []
    let giveUp = loop.clock.now + limit
    while loop.clock.now < giveUp {
        var finished = false
        let exit = try loop.runOnce(maxWait: .milliseconds(100)) { event in
            events.append(event)
            if done(event) { finished = true }
        }
        if finished || exit != nil { break }
    }
    return events
}

@Suite("EventLoop: timerfd, pipes, stop", .serialized)
struct EventLoopTests {
    @Test("the system clock is CLOCK_MONOTONIC and moves forward")
    func systemClock() {
        let clock = SystemClock()
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let reference = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        let a = clock.now
        usleep(2_000)
        let b = clock.now
        #expect(a.nanoseconds >= reference && a.nanoseconds - reference < 1_000_000_000)
        #expect(b - a >= .milliseconds(2))
    }

    @Test("the timer fires at the armed deadline, then is disarmed")
    func timerFires() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let start = loop.clock.now
        let deadline = start + .milliseconds(80)
        loop.arm(deadline)
        #expect(loop.deadline == deadline)
        let events = try runUntil(loop) { if case .timer = $0 { true } else { false } }
        guard case .timer(let firedAt)? = events.last else {
            Issue.record("no timer event: \(events)")
            return
        }
        #expect(firedAt >= deadline)
        #expect(firedAt - deadline < .milliseconds(500))
        #expect(loop.deadline == nil)
        #expect(try loop.runOnce(maxWait: .milliseconds(30)) { Issue.record("unexpected \($0)") } == nil)
    }

    @Test("re-arming moves the deadline; nil disarms")
    func rearm() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let start = loop.clock.now
        loop.arm(start + .milliseconds(40))
        loop.arm(nil)
        #expect(try loop.runOnce(maxWait: .milliseconds(120)) { Issue.record("disarmed timer fired: \($0)") } == nil)
        loop.arm(start + .seconds(30))
        loop.arm(loop.clock.now + .milliseconds(20))
        let events = try runUntil(loop) { if case .timer = $0 { true } else { false } }
        #expect(events.count == 1)
        #expect(loop.clock.now - start < .seconds(5))
    }

    @Test("a deadline in the past fires at once")
    func pastDeadline() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        loop.arm(.zero)
        var fired = false
        _ = try loop.runOnce(maxWait: .seconds(2)) { if case .timer = $0 { fired = true } }
        #expect(fired)
    }

    @Test("in one turn a readable descriptor is dispatched before the timer")
    func readableBeforeTimer() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let (r, w) = try makePipe()
        defer { close(r); close(w) }
        loop.arm(loop.clock.now)  // expired before the data is written: both ready at one poll
        loop.watch(r)
        var byte: UInt8 = 0x5A
        #expect(write(w, &byte, 1) == 1)
        usleep(2_000)
        var events: [LoopEvent] = []
        _ = try loop.runOnce(maxWait: .seconds(2)) { event in
            events.append(event)
            if case .readable = event { _ = read(r, &byte, 1) }
        }
        #expect(events.count == 2)
        #expect(events.first == .readable(r))
        if case .timer? = events.last {} else { Issue.record("the timer did not come last: \(events)") }
    }

    @Test("a pipe with data is readable; stop() ends run")
    func pipeReadable() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let (r, w) = try makePipe()
        defer { close(r); close(w) }
        loop.watch(r)
        var byte: UInt8 = 0x5A
        #expect(write(w, &byte, 1) == 1)
        var received: [UInt8] = []
        let exit = try loop.run { event in
            #expect(event == .readable(r))
            var buffer = [UInt8](repeating: 0, count: 8)
            let n = read(r, &buffer, 8)
            if n > 0 { received += buffer.prefix(n) }
            loop.stop()
        }
        #expect(exit == .stopped)
        #expect(received == [0x5A])
    }

    @Test("POLLOUT is watched only while asked for")
    func writableOnlyWhenWanted() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let (r, w) = try makePipe()
        defer { close(r); close(w) }
        loop.watchWritable(w, true)
        #expect(loop.isWatchingWritable(w))
        var events: [LoopEvent] = []
        _ = try loop.runOnce(maxWait: .seconds(1)) { events.append($0) }
        #expect(events == [.writable(w)])
        loop.watchWritable(w, false)
        #expect(try loop.runOnce(maxWait: .milliseconds(50)) { Issue.record("unexpected \($0)") } == nil)
    }

    @Test("a transmit queue on a full pipe flushes on POLLOUT, in order")
    func queueFlushesOnWritable() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let (r, w) = try makePipe()
        defer { close(r); close(w) }
        let filler = [UInt8](repeating: 0xEE, count: 4096)
        while write(w, filler, filler.count) > 0 {}
        var queue = TransmitQueue<UInt8>(capacity: 4)
        let sender: (UInt8) -> Bool = { value in
            var copy = value
            return write(w, &copy, 1) == 1
        }
        for value in UInt8(1)...5 { queue.send(value, using: sender) }
        #expect(queue.count == 4)
        #expect(queue.dropped == 1)
        loop.watchWritable(w, !queue.isEmpty)
        #expect(try loop.runOnce(maxWait: .milliseconds(50)) { Issue.record("full pipe writable: \($0)") } == nil)
        var drained = [UInt8](repeating: 0, count: 65536)
        while read(r, &drained, drained.count) > 0 {}
        var events: [LoopEvent] = []
        _ = try loop.runOnce(maxWait: .seconds(1)) { event in
            events.append(event)
            if event == .writable(w) { queue.flush(using: sender) }
            loop.watchWritable(w, !queue.isEmpty)
        }
        #expect(events == [.writable(w)])
        #expect(queue.isEmpty && !loop.isWatchingWritable(w))
        var out = [UInt8](repeating: 0, count: 16)
        let n = read(r, &out, 16)
        #expect(Array(out.prefix(max(0, n))) == [2, 3, 4, 5])
    }

    @Test("a closed watched descriptor is reported, not spun on")
    func closedDescriptor() throws {
        let loop = try EventLoop(signals: [])
        defer { loop.close() }
        let (r, w) = try makePipe()
        close(w)
        close(r)
        loop.watch(r)
        #expect(throws: EventLoopError.invalidDescriptor(r)) { try loop.runOnce(maxWait: .seconds(1)) { _ in } }
        loop.unwatch(r)
        #expect(try loop.runOnce(maxWait: .milliseconds(10)) { _ in } == nil)
    }

    @Test("poll timeouts round up to whole milliseconds")
    func pollTimeout() {
        #expect(EventLoop.pollTimeout(nil) == -1)
        #expect(EventLoop.pollTimeout(.zero) == 0)
        #expect(EventLoop.pollTimeout(.microseconds(1)) == 1)
        #expect(EventLoop.pollTimeout(.milliseconds(250)) == 250)
        #expect(EventLoop.pollTimeout(.seconds(-3)) == 0)
        #expect(EventLoop.pollTimeout(.seconds(Int64.max)) == Int32.max)
    }
}
