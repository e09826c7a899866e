import SpaakCore

/// The TBM's reconnection delays (pure): 0.5 s after the first failure, doubling up to 8 s,
/// each with ±20 % jitter drawn from an injected generator (so that a fleet whose VOS
/// instance died does not come back in lock-step); `reset()` when a welcome arrived.
public struct GSDPBackoff: Sendable {
    /// The delay after the first failure.
    public var initial: Duration
    /// The longest delay (before jitter).
    public var maximum: Duration
    /// The relative jitter: each delay is the nominal one times a factor in [1 - jitter, 1 + jitter).
    public var jitter: Double
    /// Failures since the last `reset()`.
    public private(set) var failures = 0
    private var random: SplitMix64

    /// Creates a back-off drawing its jitter from `random`.
    public init(random: SplitMix64, initial: Duration = .milliseconds(500), maximum: Duration = .seconds(8), jitter: Double = 0.2) {
        self.random = random
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay without jitter for the next failure.
    public var nominalDelay: Duration {
        let doublings = min(failures, 30)
        let nanoseconds = min(initial.nanosecondsClamped.multipliedReportingOverflow(by: 1 << doublings).partialValue,
                              maximum.nanosecondsClamped)
        return .nanoseconds(max(nanoseconds, 0))
    }

    /// The delay before the next attempt after one more failure.
    public mutating func next() -> Duration {
        let nominal = Double(nominalDelay.nanosecondsClamped)
        failures += 1
        let unit = Double(random.next() >> 11) / Double(1 << 53)  // [0, 1)
        let factor = 1 + jitter * (2 * unit - 1)
        return .nanoseconds(Int64((nominal * factor).rounded()))
    }

    /// A connection was welcomed: the next failure starts from `initial` again.
    public mutating func reset() { failures = 0 }
}
