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
    public var lastInstant: Instant? { last }

    // `deliver` is inlinable, so that the shell's call is specialized for its input type (a
    // generic call copied every frame through its type's value witnesses).
    @usableFromInline var last: Instant?

    /// Creates the ordering; nothing handed in yet.
    public init() {}

    /// Delivers `inputs` (in the order received, each with its receive instant or `nil`
    /// when unknown, which means `now`), then the passing of time up to `now`.
    ///
    /// - Parameters:
    ///   - nextDeadline: the machine's earliest deadline, asked again after every call.
    ///   - input: hands one input to the machine at an instant.
    ///   - timeout: applies the machine's timeouts at an instant.
    @inlinable
    public mutating func deliver<Input>(_ inputs: [(Input, Instant?)], now: Instant,
                                        nextDeadline: () -> Instant?,
                                        input: (Input, Instant) -> Void,
                                        timeout: (Instant) -> Void) {
        deliver(inputs, receivedAt: { $0.1 }, now: now, nextDeadline: nextDeadline,
                input: { input($0.0, $1) }, timeout: timeout)
    }

    /// The same for inputs that carry their receive instant (`receivedAt` reads it), such as
    /// the socket's `ReceivedCANFrame`s as read: no array of pairs to build per batch.
    @inlinable
    public mutating func deliver<Inputs: Sequence>(_ inputs: Inputs, receivedAt: (Inputs.Element) -> Instant?,
                                                   now: Instant,
                                                   nextDeadline: () -> Instant?,
                                                   input: (Inputs.Element, Instant) -> Void,
                                                   timeout: (Instant) -> Void) {
        var last = self.last ?? .zero
        for item in inputs {
            let at = Swift.min(Swift.max(receivedAt(item) ?? now, last), Swift.max(now, last))
            if let deadline = nextDeadline(), deadline <= at { timeout(at) }
            input(item, at)
            last = at
        }
        let end = Swift.max(now, last)
        if let deadline = nextDeadline(), deadline <= end { timeout(end) }
        self.last = end
    }
}
