import SpaakCore

/// The receiver of `TBM_Status` (ICD section 3): decides whether the TBM is *online*.
///
/// Feed it every received frame with `receive(_:now:)` and call `handleTimeout(now:)`
/// when `nextDeadline` passes. Both return the online/offline transitions they caused.
///
/// Rules (the ICD's, plus the choices marked *):
/// - Only standard frames with `configuration.canID` (default 0x3A0) are looked at; all
///   others are ignored and not counted.
/// - A frame whose length is not 8 or whose CRC is wrong is discarded and counted
///   (`discardedLength`, `discardedCRC`).
/// - * A frame with a correct CRC but alive counter 15 (never sent by a conforming TBM) is
///   discarded as invalid and counted in `discardedInvalidCounter`.
/// - * A frame with a correct CRC that repeats the previous counter is not a new frame
///   (AUTOSAR `REPEATED`): its data is not used and it does not refresh the online
///   timer; it is counted in `repeated`. A TBM stuck on one counter thus goes offline.
/// - A counter jump of `n + 1` counts `n` lost frames (modulo 15, so across the 14 → 0
///   wrap too) and is never an error: the frame is used.
/// - * After `timeout` without any CRC-valid frame the counter is resynchronised: the first
///   frame after the silence counts no lost frames (the true number is unknowable).
/// - A valid new frame with both bits set makes (or keeps) the TBM online until
///   `now + timeout`. * The window is half-open: a frame at t keeps the TBM online for
///   every instant in [t, t + 1000 ms); at exactly t + 1000 ms it is offline.
/// - A valid new frame with either bit cleared makes the TBM offline at once.
/// - * The first valid frame after start needs no confirmation: with both bits set the
///   TBM is online immediately.
public struct TBMStatusSupervisor: Hashable, Sendable {
    /// Receiver settings.
    public struct Configuration: Hashable, Sendable {
        /// The CAN id and E2E data id of `TBM_Status` (default 0x3A0).
        public var canID: UInt32
        /// How long one valid ready frame keeps the TBM online (default 1000 ms).
        public var timeout: Duration

        /// Creates a configuration; the defaults are the ICD's.
        public init(canID: UInt32 = TBMStatusEncoder.defaultCANID, timeout: Duration = .milliseconds(1000)) {
            self.canID = canID
            self.timeout = timeout
        }
    }

    /// Why the TBM went offline.
    public enum OfflineReason: Hashable, Sendable {
        /// No valid ready frame within the timeout.
        case timeout
        /// A valid frame reported a bit cleared; the payload carries the reported signals.
        case notReady(TBMStatusSignals)
    }

    /// A change of the online state.
    public enum Transition: Hashable, Sendable {
        /// The TBM became online (V2C messages may be sent, waiting use cases resume).
        case wentOnline
        /// The TBM became offline.
        case wentOffline(OfflineReason)
    }

    /// Reception statistics.
    public typealias Counters = E2EReceptionCounters

    /// The settings in use.
    public let configuration: Configuration
    /// Whether the TBM is online, as of the last `receive` or `handleTimeout` call.
    public private(set) var isOnline = false
    /// Reception statistics.
    public private(set) var counters = Counters()
    /// The signals of the last frame accepted as new data.
    public private(set) var lastSignals: TBMStatusSignals?
    /// The E2E status of the last frame looked at.
    public private(set) var lastCheckStatus: E2ECheckStatus?
    private var previousCounter: UInt8?
    private var lastCRCValidAt: Instant?
    private var onlineUntil: Instant?

    /// Creates a supervisor; the TBM starts offline.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// When the online state expires (`nil` while offline).
    public var nextDeadline: Instant? { isOnline ? onlineUntil : nil }

    /// Whether the TBM is online at `now`, even if `handleTimeout` has not yet been called.
    public func isOnline(at now: Instant) -> Bool {
        guard isOnline, let until = onlineUntil else { return false }
        return now < until
    }

    /// Applies the timeout: goes offline if the last ready frame is `timeout` old.
    public mutating func handleTimeout(now: Instant) -> [Transition] {
        guard isOnline, let until = onlineUntil, now >= until else { return [] }
        isOnline = false
        onlineUntil = nil
        return [.wentOffline(.timeout)]
    }

    /// Processes one received frame at `now`.
    public mutating func receive(_ frame: CANFrame, now: Instant) -> [Transition] {
        guard frame.id == configuration.canID, !frame.isExtended else { return [] }
        var transitions = handleTimeout(now: now)
        if let last = lastCRCValidAt, now - last >= configuration.timeout { previousCounter = nil }
        let status = E2EProfile.check(
            dataID: UInt16(truncatingIfNeeded: configuration.canID), data: frame.data, previousCounter: previousCounter)
        lastCheckStatus = status
        if status == .repeated { lastCRCValidAt = now }
        guard counters.count(status) else { return transitions }
        lastCRCValidAt = now
        previousCounter = E2EProfile.counter(of: frame.data)
        guard let signals = TBMStatusSignals(frameData: frame.data) else { return transitions }
        lastSignals = signals
        if signals.isReady {
            onlineUntil = now + configuration.timeout
            if !isOnline {
                isOnline = true
                transitions.append(.wentOnline)
            }
        } else {
            onlineUntil = nil
            if isOnline {
                isOnline = false
                transitions.append(.wentOffline(.notReady(signals)))
            }
        }
        return transitions
    }
}
