import SpaakCore

/// Lets one log line of a kind through per `interval` and counts the ones held back, so
/// that a fault repeated on every frame cannot flood the log. Pure: the caller gives `now`.
public struct LogRateLimit: Sendable {
    /// The least time between two lines let through.
    public let interval: Duration
    private var lastAllowed: Instant?
    private var held = 0

    /// Creates a limiter letting one line through per `interval` (default 10 s).
    public init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// `nil` when the line must be held back (counted), else how many were held back since
    /// the last line let through (say so in the line).
    public mutating func allow(now: Instant) -> Int? {
        if let last = lastAllowed, now - last < interval {
            held += 1
            return nil
        }
        lastAllowed = now
        defer { held = 0 }
        return held
    }
}
