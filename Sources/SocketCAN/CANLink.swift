import SpaakCore

/// A CAN socket that outlives its interface: when a read or write fails (the interface went
/// down, was deleted, or the socket broke), the socket is closed and opened again every
/// `retryInterval` until the interface is back; the owner's state is never touched.
///
/// The owner reads and writes through `socket` while it is non-nil, calls `lose(_:now:)`
/// on an error, and `reopenIfDue(now:)` when `nextAttempt` has passed (arm a timer for it).
public final class CANLink {
    /// What a reopen attempt gave.
    public enum Reopen {
        /// The socket is open again; `outage` is how long the link was down.
        case opened(CANSocket, outage: Duration)
        /// Still down (the reason, for a debug log); the next attempt is `nextAttempt`.
        case stillDown(CANSocketError)
    }

    /// The interface name.
    public let interface: String
    /// CAN FD handling of every socket opened.
    public let mode: CANSocket.FDMode
    /// Receive filter of every socket opened (exact standard ids), or `nil` for all.
    public let filter: [UInt32]?
    /// Time between two reopen attempts.
    public let retryInterval: Duration
    /// The open socket, `nil` while the link is down.
    public private(set) var socket: CANSocket?
    /// When the current outage began (`nil` while up).
    public private(set) var downSince: Instant?
    /// When `reopenIfDue` will try next (`nil` while up).
    public private(set) var nextAttempt: Instant?
    /// Outages so far (each counted once, however many attempts it took).
    public private(set) var outages = 0
    private var dropsOfClosedSockets: UInt64 = 0

    /// Opens the first socket; an error here is the operator's to fix (no retry).
    public init(interface: String, fd mode: CANSocket.FDMode = .off, filter: [UInt32]? = nil,
                retryInterval: Duration = .milliseconds(500)) throws {
        self.interface = interface
        self.mode = mode
        self.filter = filter
        self.retryInterval = retryInterval
        socket = try CANSocket(interface: interface, fd: mode, filter: filter)
    }

    /// Frames the kernel dropped for a full receive buffer, over every socket opened.
    public var receiveBufferDrops: UInt64 { dropsOfClosedSockets + UInt64(socket?.receiveBufferDrops ?? 0) }

    /// The socket failed at `now`: closes it (unwatch its descriptor first) and schedules a
    /// reopen. Returns `true` when this begins an outage (log it once), `false` when the
    /// link was already down.
    @discardableResult
    public func lose(now: Instant) -> Bool {
        guard let open = socket else { return false }
        dropsOfClosedSockets += UInt64(open.receiveBufferDrops)
        open.close()
        socket = nil
        downSince = now
        nextAttempt = now + retryInterval
        outages += 1
        return true
    }

    /// Tries to open the socket again when an attempt is due; `nil` when up or not yet due.
    public func reopenIfDue(now: Instant) -> Reopen? {
        guard socket == nil, let due = nextAttempt, now >= due else { return nil }
        do {
            let reopened = try CANSocket(interface: interface, fd: mode, filter: filter)
            let outage = now - (downSince ?? now)
            socket = reopened
            downSince = nil
            nextAttempt = nil
            return .opened(reopened, outage: outage)
        } catch {
            nextAttempt = now + retryInterval
            return .stillDown(error as? CANSocketError ?? .system(operation: "open \(interface)", errno: 0))
        }
    }
}
