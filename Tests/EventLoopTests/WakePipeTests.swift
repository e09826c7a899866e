import Foundation
import Glibc
import Testing

import EventLoop

/// The wake pipe: readable after a notify from any thread, empty after a drain, never blocking.
@Suite("WakePipe")
struct WakePipeTests {
    /// Whether `fd` becomes readable within `milliseconds`.
    private func readable(_ fd: Int32, within milliseconds: Int32 = 0) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) == 1
    }

    @Test("a notify makes the descriptor readable, a drain empties it")
    func notifyAndDrain() throws {
        let wake = try WakePipe()
        #expect(!readable(wake.descriptor))
        wake.notify()
        wake.notify()
        #expect(readable(wake.descriptor))
        wake.drain()
        #expect(!readable(wake.descriptor), "one drain takes every byte")
        wake.drain()    // an empty pipe: returns at once (non-blocking)
        #expect(!readable(wake.descriptor))
    }

    @Test("notifying a full pipe neither blocks nor loses the wake-up")
    func fullPipe() throws {
        let wake = try WakePipe()
        for _ in 0..<70_000 { wake.notify() }    // more than the 64 KiB a pipe holds
        #expect(readable(wake.descriptor))
        wake.drain()
        #expect(!readable(wake.descriptor))
        wake.notify()
        #expect(readable(wake.descriptor))
    }

    @Test("a notify on another thread wakes a poll on the loop thread")
    func crossThread() throws {
        let wake = try WakePipe()
        let thread = Thread { usleep(20_000); wake.notify() }
        thread.start()
        #expect(readable(wake.descriptor, within: 10_000))
    }

    @Test("both ends are close-on-exec and non-blocking")
    func flags() throws {
        let wake = try WakePipe()
        #expect(fcntl(wake.descriptor, F_GETFD) & FD_CLOEXEC != 0)
        #expect(fcntl(wake.descriptor, F_GETFL) & O_NONBLOCK != 0)
        #expect(WakePipeError(errno: EMFILE).description.contains("Too many open files"))
    }
}
