import CSocketCAN
import SpaakCore

/// The real monotonic clock (CLOCK_MONOTONIC, nanoseconds since boot). Its instants are the
/// absolute times the event loop's timerfd is armed with.
public final class SystemClock: MonotonicClock, Sendable {
    /// Creates the clock (it has no state).
    public init() {}

    /// The current CLOCK_MONOTONIC instant.
    public var now: Instant { Instant(nanoseconds: spaak_monotonic_ns()) }
}
