/// Inputs that need a SPAKE2+ verifier (a Spake2VerifierRequest, a `push-verifier`) waiting
/// until one made in advance is ready, so that the event loop never runs scrypt itself.
///
/// Shared by `CloudSimulator` (the all-in-one `serve`) and `VOSService` (`spaak-cloud vos`):
/// the shell fills a pool on another thread and calls the machine's `verifiersReady` when
/// one was added; the machine then takes the waiting inputs with `next()` while verifiers last.
public struct VerifierWaitQueue<Item> {
    /// Whether a verifier made in advance is ready (see `VehicleOEMServer.verifierSource`).
    /// `nil`: verifiers are derived on demand and nothing waits.
    public var isReady: (() -> Bool)?
    /// The inputs waiting, oldest first.
    public private(set) var items: [Item] = []
    /// The most inputs that wait; more are refused.
    public let capacity: Int

    /// An empty queue holding at most `capacity` inputs.
    public init(capacity: Int = 16) {
        self.capacity = capacity
    }

    /// `true` when an input needing a verifier must wait (none ready).
    public var mustWait: Bool { !(isReady?() ?? true) }

    /// The number of inputs waiting.
    public var count: Int { items.count }

    /// Queues `item`; `false` (nothing queued) when `capacity` inputs wait already.
    public mutating func enqueue(_ item: Item) -> Bool {
        guard items.count < capacity else { return false }
        items.append(item)
        return true
    }

    /// The oldest waiting input, taken off the queue, while a verifier is ready; else `nil`.
    public mutating func next() -> Item? {
        guard !items.isEmpty, !mustWait else { return nil }
        return items.removeFirst()
    }
}
