import EventLoop
import Synchronization

/// Events from NIO's threads for the single-threaded event loop: a locked queue and a
/// notify descriptor (a `WakePipe`) that is readable while events
/// wait. Any thread `post`s; the loop watches `notifyFD` and `take`s everything.
public final class GSDPEventQueue<Event: Sendable>: Sendable {
    private struct State: ~Copyable {
        var events: [Event] = []
        var signalled = false
    }

    private let state = Mutex(State())
    private let wake: WakePipe

    /// Readable while events wait: the event loop watches it and calls `take`.
    public var notifyFD: Int32 { wake.descriptor }

    /// An empty queue.
    /// - Throws: `GSDPTransportError` when the pipe cannot be made.
    public init() throws(GSDPTransportError) {
        do { wake = try WakePipe() } catch { throw GSDPTransportError("GSDP event queue: \(error)") }
    }

    /// Queues `event` (any thread) and wakes the loop.
    public func post(_ event: Event) {
        let first = state.withLock { state -> Bool in
            state.events.append(event)
            guard !state.signalled else { return false }
            state.signalled = true
            return true
        }
        if first { wake.notify() }
    }

    /// Every queued event, oldest first (call on the loop when `notifyFD` is readable).
    public func take() -> [Event] {
        wake.drain()
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
