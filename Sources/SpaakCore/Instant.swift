/// A point on a monotonic time line, in nanoseconds since an arbitrary origin.
///
/// Every state machine of the module takes the current `Instant` as an input and reports
/// its next deadline as an `Instant`; only the event loop reads a real clock. Tests drive
/// the same machines with a `VirtualClock`.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: UInt64

    /// Creates an instant `nanoseconds` after the origin.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The origin of the time line.
    public static let zero = Instant(nanoseconds: 0)

    /// Creates an instant `ms` milliseconds after the origin (handy in tests).
    public static func milliseconds(_ ms: UInt64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    /// The instant `d` later (negative durations move back, clamped at the origin).
    public static func + (a: Instant, d: Duration) -> Instant {
        let delta = d.nanosecondsClamped
        if delta >= 0 { return Instant(nanoseconds: a.nanoseconds &+ UInt64(delta)) }
        let back = UInt64(-delta)
        return Instant(nanoseconds: a.nanoseconds > back ? a.nanoseconds - back : 0)
    }

    /// The time from `b` to `a` (negative if `a` is earlier).
    public static func - (a: Instant, b: Instant) -> Duration {
        if a >= b { return .nanoseconds(Int64(a.nanoseconds - b.nanoseconds)) }
        return .nanoseconds(-Int64(b.nanoseconds - a.nanoseconds))
    }

    /// Milliseconds since the origin, for logs.
    public var milliseconds: UInt64 { nanoseconds / 1_000_000 }

    public var description: String {
        let ms = nanoseconds / 1_000_000
        let frac = (nanoseconds / 1_000) % 1_000
        let fracText = String(frac)
        return "t+\(ms).\(String(repeating: "0", count: 3 - fracText.count))\(fracText)ms"
    }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to the `Int64` range.
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (secNs, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return secNs &+ attoseconds / 1_000_000_000
    }

    /// The duration in (fractional) milliseconds.
    public var milliseconds: Double { Double(nanosecondsClamped) / 1_000_000 }

    /// The duration in (fractional) seconds, e.g. for a `DispatchTime` or a `TimeInterval`.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension Optional where Wrapped == Instant {
    /// The earlier of two optional deadlines (`nil` means "none").
    public func earliest(_ other: Instant?) -> Instant? {
        switch (self, other) {
        case let (a?, b?): return Swift.min(a, b)
        case let (a?, nil): return a
        case let (nil, b): return b
        }
    }
}
