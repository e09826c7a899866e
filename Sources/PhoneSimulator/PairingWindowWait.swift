import SpaakCore

/// The app's wait for the vehicle to be ready before the first tap, when the VOS opened the
/// pairing window (OwnerPairingModeRequest 0x0E after a delivery, OP-01) instead of the
/// driver on the head unit: done when `SPAAK_Status` byte 7 shows 1 (pairing window open),
/// given up at the deadline. A sans-I/O machine: the shell feeds the received
/// `SPAAK_Status` frames and the deadline; it reads no clock.
public struct PairingWindowWait: Sendable {
    /// How the wait ended.
    public enum Outcome: Hashable, Sendable {
        /// Byte 7 = 1 in this status.
        case open(ModuleStatusView)
        /// The deadline passed; the last status seen, if any.
        case timedOut(ModuleStatusView?)
    }

    /// When the wait gives up.
    public let deadline: Instant
    /// How long it waits in all.
    public let timeout: Duration
    /// `SPAAK_Status`'s identifier (and E2E data id).
    public let statusID: UInt32
    /// The last valid status seen.
    public private(set) var last: ModuleStatusView?
    /// The outcome, once known.
    public private(set) var outcome: Outcome?

    /// Starts waiting at `now`, for at most `timeout`.
    public init(timeout: Duration, now: Instant, statusID: UInt32 = 0x3A8) {
        self.timeout = timeout
        self.deadline = now + timeout
        self.statusID = statusID
    }

    /// Takes a received frame; lines to print (each change of byte 7), the outcome when it
    /// is decided by this frame.
    public mutating func handle(_ frame: CANFrame) -> [String] {
        guard outcome == nil, frame.id == statusID, !frame.isExtended,
              let view = ModuleStatusView(frameData: frame.data, dataID: UInt16(truncatingIfNeeded: statusID)) else {
            return []
        }
        let changed = last?.ownerPairingState != view.ownerPairingState
        last = view
        if view.ownerPairingState == 1 {
            outcome = .open(view)
            return ["module: SPAAK_Status byte 7 = \(view.stateText): the vehicle is ready for the first tap"]
        }
        return changed ? ["module: SPAAK_Status byte 7 = \(view.stateText): waiting for the pairing window (1)"] : []
    }

    /// The passing of time: the deadline ends the wait.
    public mutating func handleTimeout(now: Instant) -> [String] {
        guard outcome == nil, now >= deadline else { return [] }
        outcome = .timedOut(last)
        let shown = last.map { "byte 7 = \($0.stateText)" } ?? "no SPAAK_Status frame"
        return ["the pairing window did not open within \(timeout) (\(shown))"]
    }
}
