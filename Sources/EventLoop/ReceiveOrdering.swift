import SpaakCore

/// Hands received inputs and the passing of time to a state machine in the order they
/// happened, so that a late loop turn (a host stall) does not reorder them.
///
/// After a stall the loop wakes with frames waiting in the socket buffer *and* a deadline
/// that has passed. Applying the timeout first (or handing the frames in at the late `now`)
/// judges frames that arrived in time as late: a `TBM_Status` received before its
/// supervision deadline made the TBM flap offline/online. Here every input is handed in at
/// the instant the kernel received it (never before an instant already handed in, never
/// after `now`), a timeout is applied only before the first input received at or after its
/// deadline, and finally at `now`. Pure: no clock, no socket.
public struct ReceiveOrdering: Sendable {
    /// The latest instant handed to the machine (inputs and timeouts never go back before it).
    public private(set) var lastInstant: Instant?

    /// Creates the ordering; nothing handed in yet.
    public init() {}

    /// Delivers `inputs` (in the order received, each with its receive instant or `nil`
    /// when unknown, which means `now`), then the passing of time up to `now`.
    ///
    /// - Parameters:
    ///   - nextDeadline: the machine's earliest deadline, asked again after every call.
    ///   - input: hands one input to the machine at an instant.
    ///   - timeout: applies the machine's timeouts at an instant.
    public mutating func deliver<Input>(_ inputs: [(Input, Instant?)], now: Instant,
                                        nextDeadline: () -> Instant?,
                                        input: (Input, Instant) -> Void,
                                        timeout: (Instant) -> Void) {
        var last = lastInstant ?? .zero
        for (item, receivedAt) in inputs {
            let at = Swift.min(Swift.max(receivedAt ?? now, last), Swift.max(now, last))
            if let deadline = nextDeadline(), deadline <= at { timeout(at) }
            input(item, at)
            last = at
        }
        let end = Swift.max(now, last)
        if let deadline = nextDeadline(), deadline <= end { timeout(end) }
        lastInstant = end
    }
}
