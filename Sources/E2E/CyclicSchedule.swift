import SpaakCore

/// The timing of a cyclic frame on a fixed period grid, without bursts.
///
/// The deadlines are `first`, `first + period`, `first + 2·period`, … . When `fire(now:)`
/// is called late, by one or several periods, it reports one transmission and moves the
/// deadline to the first grid point after `now`: missed slots are skipped (and counted),
/// never caught up, and the grid does not drift.
public struct CyclicSchedule: Hashable, Sendable {
    /// The cycle time (at least 1 ns).
    public let period: Duration
    /// The next instant a frame is due.
    public private(set) var nextDeadline: Instant
    /// Grid slots skipped so far because `fire(now:)` came more than a period late.
    public private(set) var missedSlots: Int = 0

    /// Creates a schedule whose first frame is due at `first`.
    public init(period: Duration, first: Instant) {
        self.period = period.nanosecondsClamped >= 1 ? period : .nanoseconds(1)
        self.nextDeadline = first
    }

    /// Whether a frame is due at `now`; if so, advances the deadline past `now` on the grid.
    public mutating func fire(now: Instant) -> Bool {
        guard now >= nextDeadline else { return false }
        let periodNs = UInt64(period.nanosecondsClamped)
        let late = now.nanoseconds - nextDeadline.nanoseconds
        let steps = late / periodNs + 1
        missedSlots += Int(clamping: steps - 1)
        let (advance, overflow1) = steps.multipliedReportingOverflow(by: periodNs)
        let (next, overflow2) = nextDeadline.nanoseconds.addingReportingOverflow(advance)
        nextDeadline = Instant(nanoseconds: overflow1 || overflow2 ? .max : next)
        return true
    }
}
