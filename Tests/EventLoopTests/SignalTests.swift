import CSocketCAN
import Glibc
import SpaakCore
import Testing

@testable import EventLoop

/// Signals are raised with `raise()`, which targets the calling thread: the loop blocked
/// them on this thread, so they wait in its signalfd and never reach the test runner
/// (`kill(getpid(), …)` could land on another thread of the runner and end it; the
/// `cansmoke loop` check in the VM covers a signal sent from outside).
@Suite("EventLoop: SIGINT/SIGTERM end the loop", .serialized)
struct SignalTests {
    @Test("SIGTERM ends run cleanly and is reported", arguments: [SIGTERM, SIGINT])
    func signalEndsLoop(signal: Int32) throws {
        let loop = try EventLoop()
        defer { loop.close() }
        loop.arm(loop.clock.now + .seconds(10))
        #expect(raise(signal) == 0)
        var events: [LoopEvent] = []
        let exit = try loop.run { events.append($0) }
        #expect(exit == .signal(signal))
        #expect(events == [.signal(signal)])
    }

    @Test("a signal raised by a handler ends the loop on the next turn")
    func signalFromHandler() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (start, deadline) = (loop.clock.now, loop.clock.now + .milliseconds(30))
        loop.arm(deadline)
        var events: [LoopEvent] = []
        let exit = try loop.run { event in
            events.append(event)
            if case .timer = event { raise(SIGTERM) }
        }
        #expect(exit == .signal(SIGTERM))
        #expect(events.count == 2)
        #expect(events.last == .signal(SIGTERM))
        #expect(loop.clock.now - start < .seconds(5))
    }

    @Test("closing the loop restores the signal mask")
    func maskRestored() throws {
        // Test threads are Dispatch workers, which already block SIGTERM: unblock it here
        // (nobody sends it) so that blocking and restoring can be seen, then put it back.
        var original = sigset_t()
        var term = sigset_t()
        sigemptyset(&term)
        sigaddset(&term, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &term, &original)
        defer { pthread_sigmask(SIG_SETMASK, &original, nil) }
        let loop = try EventLoop()
        var during = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &during)
        #expect(sigismember(&during, SIGTERM) == 1)
        loop.close()
        var after = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &after)
        #expect(sigismember(&after, SIGTERM) == 0)
    }
}
