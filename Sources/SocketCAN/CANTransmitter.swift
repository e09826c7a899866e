import SpaakCore

/// The transmit side of CanIf as a pure state machine: a bounded first-in first-out queue in
/// front of the kernel that never reorders frames, never spins on a full transmit path and
/// never loses a cyclic frame without counting it.
///
/// Frames go to the kernel through `send`, a batch write (`CANSocket.send(batch:)`, one
/// `sendmmsg` per 64 frames); tests give it a scripted fake kernel. What the kernel answers
/// decides what happens next:
///
/// - all taken: the queue is empty (`isIdle`): the shell confirms the transmission to the
///   module (CanTp's TxConfirmation, `SpaakModule.framesTransmitted`);
/// - `.socketBufferFull` (EAGAIN): the rest stays queued and `wantsWritable` asks the shell
///   to watch POLLOUT, which tells the truth here; `writable(now:send:)` goes on;
/// - `.deviceQueueFull` (ENOBUFS: the interface's qdisc overflowed; the socket buffer has
///   room, so POLLOUT would fire at once and lie): the rest stays queued, POLLOUT is not
///   watched, and `nextDeadline` asks for a retry after a pause (`RetryPolicy`) that grows
///   while retries move too few frames: never a busy loop;
/// - `.unsendable`: that frame is dropped and counted (`lastUnsendable` says which), the
///   rest goes on at once;
/// - a thrown error (the interface is lost) propagates; the queue is left as it was (the
///   kernel may have taken part of it): the shell calls `removeAll()` then.
///
/// `halt()` (CanSM: bus-off) stops every write until `resume(now:send:)`; frames keep
/// queueing meanwhile, and a full queue drops its oldest frame (counted in `dropped`).
///
/// Cyclic identifiers (`SPAAK_Status`): a newer frame of a cyclic identifier replaces a
/// still-queued older one in place (`statusSkipped`), so the bus gets the latest value at
/// the place the first one had; a cyclic frame that was not sent in the call that submitted
/// it counts as late when it is sent (`statusLate`).
///
///     var tx = CANTransmitter(cyclicIDs: [0x3A8])
///     try tx.submit(module.handle(frame, now: now), now: now) { try socket.send(batch: $0) }
///     loop.watchWritable(socket.fileDescriptor, tx.wantsWritable)
///     loop.arm(module.nextDeadline.earliest(tx.nextDeadline))
///     if tx.isIdle { module.framesTransmitted(now: clock.now) }
public struct CANTransmitter: Sendable {
    /// The kernel's side: takes frames from the start of the slice, says how many and why not more.
    public typealias Send = (ArraySlice<CANFrame>) throws -> CANSendOutcome

    /// The pause before a retry after ENOBUFS.
    public struct RetryPolicy: Equatable, Sendable {
        /// The first pause after the queue was last drained (about the time of a few frames
        /// on the bus).
        public var initial: Duration
        /// The longest pause.
        public var maximum: Duration
        /// A retry that moves fewer frames than this before ENOBUFS again doubles the pause,
        /// so that each wake moves a few frames; a retry that moves at least this many keeps it.
        public var fewFrames: Int

        /// Creates a policy; `maximum` is at least `initial`, `fewFrames` at least 1.
        public init(initial: Duration = .milliseconds(1), maximum: Duration = .milliseconds(16), fewFrames: Int = 4) {
            self.initial = initial
            self.maximum = Swift.max(initial, maximum)
            self.fewFrames = Swift.max(1, fewFrames)
        }
    }

    /// Why the queue is not being written now.
    public enum Blocked: Equatable, Sendable {
        /// Nothing blocks (the queue is empty, or writes go on).
        case none
        /// EAGAIN: waiting for POLLOUT.
        case socketBufferFull
        /// ENOBUFS: waiting until `retryAt`.
        case deviceQueueFull(retryAt: Instant)
    }

    /// What the transmitter counted since it was created (never reset, also not by `removeAll`).
    public struct Counters: Equatable, Sendable {
        /// Frames the kernel took.
        public var sent = 0
        /// Writes the kernel refused for now (each EAGAIN and each ENOBUFS), retried later.
        public var refusedWrites = 0
        /// Of `refusedWrites`: the ENOBUFS ones (the device's queue was full).
        public var deviceQueueFull = 0
        /// Frames dropped because the queue was full (the oldest goes).
        public var dropped = 0
        /// Frames the interface can never take (identifier, length, CAN FD, EINVAL).
        public var unsendable = 0
        /// Cyclic frames sent from the queue rather than in the call that submitted them.
        public var statusLate = 0
        /// Cyclic frames never sent: replaced in the queue by a newer frame of their
        /// identifier, or dropped as the oldest of a full queue.
        public var statusSkipped = 0
    }

    /// The most frames held; more drop the oldest.
    public let capacity: Int
    /// The identifiers whose newer frame replaces a queued older one.
    public let cyclicIDs: Set<UInt32>
    /// The pause policy after ENOBUFS.
    public let retryPolicy: RetryPolicy
    /// What happened so far.
    public internal(set) var counters = Counters()
    /// Why writes wait (`.none` when they do not).
    public internal(set) var blocked = Blocked.none
    /// `true` between `halt()` and `resume(now:send:)`: nothing is written.
    public private(set) var isHalted = false
    /// The last frame dropped as unsendable and why (for the shell's log).
    public internal(set) var lastUnsendable: (frame: CANFrame, reason: String)?

    /// The queue: `storage[head...]`, in order; `base` is the sequence number of `storage[0]`.
    var storage: [CANFrame] = []
    var head = 0
    var base = 0
    /// The queued cyclic frames by identifier key: their sequence number and whether they
    /// missed the call that submitted them.
    var cyclicQueued: [UInt64: (sequence: Int, late: Bool)] = [:]
    /// The pause before the next ENOBUFS retry.
    var pause: Duration
    /// `true` from an ENOBUFS until the queue drains: a further ENOBUFS is a retry's.
    var backingOff = false

    /// Creates an empty transmitter holding at most `capacity` (at least 1) frames.
    public init(capacity: Int = 4096, cyclicIDs: Set<UInt32> = [], retryPolicy: RetryPolicy = RetryPolicy()) {
        self.capacity = Swift.max(1, capacity)
        self.cyclicIDs = cyclicIDs
        self.retryPolicy = retryPolicy
        pause = retryPolicy.initial
    }

    /// The number of queued frames.
    public var count: Int { storage.count - head }

    /// `true` when nothing is queued: everything submitted was taken by the kernel or
    /// dropped (and counted). The shell then confirms the transmission to the module.
    public var isIdle: Bool { count == 0 }

    /// Whether the shell should watch the socket for POLLOUT: only after EAGAIN, and not
    /// while halted.
    public var wantsWritable: Bool { !isHalted && blocked == .socketBufferFull }

    /// When `handleTimeout(now:send:)` will retry after ENOBUFS; `nil` otherwise.
    public var nextDeadline: Instant? {
        guard !isHalted, case .deviceQueueFull(let retryAt) = blocked else { return nil }
        return retryAt
    }

    /// The queued frames, oldest first.
    public var queued: ArraySlice<CANFrame> { storage[head...] }

    /// Queues `frames` behind whatever is queued and writes as much as the kernel takes now
    /// (nothing while halted or blocked: the queue goes on when POLLOUT or the retry
    /// deadline comes). Cyclic frames replace a queued older frame of their identifier.
    public mutating func submit(_ frames: some Sequence<CANFrame>, now: Instant, send: Send) throws {
        for frame in frames { enqueue(frame) }
        if !isHalted && blocked == .none { try flush(now: now, send: send) }
        // What the kernel did not take in this call is sent late, if at all.
        for key in cyclicQueued.keys { cyclicQueued[key]?.late = true }
    }

    /// POLLOUT on the socket: goes on after EAGAIN (ignored otherwise).
    public mutating func writable(now: Instant, send: Send) throws {
        guard !isHalted, blocked == .socketBufferFull else { return }
        blocked = .none
        try flush(now: now, send: send)
    }

    /// The retry deadline after ENOBUFS has come: tries again (nothing before it).
    public mutating func handleTimeout(now: Instant, send: Send) throws {
        guard !isHalted, case .deviceQueueFull(let retryAt) = blocked, now >= retryAt else { return }
        blocked = .none
        try flush(now: now, send: send)
    }

    /// Stops writing (CanSM: bus-off). Frames keep queueing; nothing is watched or retried.
    public mutating func halt() {
        isHalted = true
        blocked = .none
    }

    /// Writes again (CanSM: recovered): the queue goes out first, in order.
    public mutating func resume(now: Instant, send: Send) throws {
        guard isHalted else { return }
        isHalted = false
        blocked = .none
        pause = retryPolicy.initial
        backingOff = false
        try flush(now: now, send: send)
    }

    /// Discards every queued frame (the interface was lost) and returns how many. Counters stay.
    @discardableResult
    public mutating func removeAll() -> Int {
        let discarded = count
        base += storage.count
        storage.removeAll(keepingCapacity: true)
        head = 0
        cyclicQueued.removeAll()
        blocked = .none
        pause = retryPolicy.initial
        backingOff = false
        return discarded
    }
}
