/// A source of the current time: the event loop uses the monotonic system clock, tests a
/// `VirtualClock` they advance by hand.
public protocol MonotonicClock: AnyObject {
    /// The current instant.
    var now: Instant { get }
}

/// A clock that only moves when told to: the time base of every unit test.
public final class VirtualClock: MonotonicClock, @unchecked Sendable {
    /// The current virtual instant.
    public private(set) var now: Instant

    /// Creates a clock standing at `start`.
    public init(start: Instant = .zero) { self.now = start }

    /// Moves the clock forward by `d`.
    public func advance(by d: Duration) { now = now + d }

    /// Moves the clock to `instant` (never backwards).
    public func advance(to instant: Instant) { if instant > now { now = instant } }
}
