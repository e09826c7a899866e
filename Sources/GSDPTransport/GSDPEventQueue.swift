import Glibc
import Synchronization

/// Events from NIO's threads for the single-threaded event loop: a locked queue and a
/// notify descriptor (a pipe, like `VerifierPool.notifyFD`) that is readable while events
/// wait. Any thread `post`s; the loop watches `notifyFD` and `take`s everything.
public final class GSDPEventQueue<Event: Sendable>: Sendable {
    private struct State: ~Copyable {
        var events: [Event] = []
        var signalled = false
    }

    private let state = Mutex(State())
    private let readFD: Int32
    private let writeFD: Int32

    /// Readable while events wait: the event loop watches it and calls `take`.
    public var notifyFD: Int32 { readFD }

    /// An empty queue.
    /// - Throws: `GSDPTransportError` when the pipe cannot be made.
    public init() throws(GSDPTransportError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw GSDPTransportError("cannot make the GSDP event pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        Glibc.close(readFD)
        Glibc.close(writeFD)
    }

    /// Queues `event` (any thread) and wakes the loop.
    public func post(_ event: Event) {
        let wake = state.withLock { state -> Bool in
            state.events.append(event)
            guard !state.signalled else { return false }
            state.signalled = true
            return true
        }
        if wake {
            var byte: UInt8 = 1
            while write(writeFD, &byte, 1) < 0 && errno == EINTR {}
        }
    }

    /// Every queued event, oldest first (call on the loop when `notifyFD` is readable).
    public func take() -> [Event] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while buffer.withUnsafeMutableBytes({ read(readFD, $0.baseAddress, $0.count) }) > 0 {}
        return state.withLock { state in
            state.signalled = false
            defer { state.events.removeAll(keepingCapacity: true) }
            return state.events
        }
    }
}

/// A failure of the GSDP transport, with a sentence for the operator.
public struct GSDPTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
