import SpaakCore

/// The receiver of `NFC_Status` (ICD section 8.1): decides when an NFC *session* (one tap of
/// the device) starts and ends.
///
/// Rules (the ICD's, plus the choices marked *, docs/ICD-CHOICES.md):
/// - The E2E receiver rules of `TBM_Status`: a wrong length, CRC or counter 15 is discarded and
///   counted; a repeated counter is not new data and does not refresh the timer.
/// - A session starts on a valid frame with both bits set when the device has been away since
///   the last session: after start, after a frame without `DevicePresent`, or after `timeout`
///   without a valid frame.
/// - It ends when `DevicePresent` clears or no valid new frame arrives for `timeout` (1000 ms).
/// - * `ReaderReady` clearing during a session does not end it (the device is still in the
///   field); a session needs `ReaderReady` only to start.
/// - * A device that stays in the field after its session ended (by a timeout of the APDU
///   channel, for example) starts no new session until it leaves and taps again.
public struct NFCStatusSupervisor: Hashable, Sendable {
    /// A change of the session state.
    public enum Transition: Hashable, Sendable {
        /// A device tapped: a new session starts.
        case sessionStarted
        /// The session ended: the device left, or the frames stopped.
        case sessionEnded(EndReason)
    }

    /// Why a session ended.
    public enum EndReason: Hashable, Sendable {
        /// A valid frame without `DevicePresent`.
        case deviceRemoved
        /// No valid new frame for `timeout`.
        case timeout
    }

    /// Reception statistics.
    public typealias Counters = E2EReceptionCounters

    /// The CAN id and E2E data id (default 0x3B0).
    public let canID: UInt32
    /// How long the last valid frame keeps the reader's report alive (default 1000 ms).
    public let timeout: Duration
    /// Whether a session is open.
    public private(set) var inSession = false
    /// Reception statistics.
    public private(set) var counters = Counters()
    /// The signals of the last valid new frame.
    public private(set) var lastSignals: NFCStatusSignals?
    private var deviceAway = true
    private var previousCounter: UInt8?
    private var lastValidAt: Instant?

    /// Creates a supervisor; no session is open and the device counts as away.
    public init(canID: UInt32 = NFCStatusEncoder.defaultCANID, timeout: Duration = .milliseconds(1000)) {
        self.canID = canID
        self.timeout = timeout
    }

    /// When the reader's report expires (`nil` when nothing is pending).
    public var nextDeadline: Instant? {
        guard let last = lastValidAt, inSession || !deviceAway else { return nil }
        return last + timeout
    }

    /// Applies the timeout at `now`.
    public mutating func handleTimeout(now: Instant) -> [Transition] {
        guard let deadline = nextDeadline, now >= deadline else { return [] }
        deviceAway = true
        previousCounter = nil
        guard inSession else { return [] }
        inSession = false
        return [.sessionEnded(.timeout)]
    }

    /// Processes one received frame at `now`.
    public mutating func receive(_ frame: CANFrame, now: Instant) -> [Transition] {
        guard frame.id == canID, !frame.isExtended else { return [] }
        var transitions = handleTimeout(now: now)
        let status = E2EProfile.check(dataID: UInt16(truncatingIfNeeded: canID), data: frame.data,
                                      previousCounter: previousCounter)
        guard counters.count(status) else { return transitions }
        lastValidAt = now
        previousCounter = E2EProfile.counter(of: frame.data)
        guard let signals = NFCStatusSignals(frameData: frame.data) else { return transitions }
        lastSignals = signals
        if !signals.devicePresent {
            deviceAway = true
            if inSession {
                inSession = false
                transitions.append(.sessionEnded(.deviceRemoved))
            }
        } else if signals.readerReady, deviceAway, !inSession {
            deviceAway = false
            inSession = true
            transitions.append(.sessionStarted)
        }
        return transitions
    }
}
