import SpaakCore

/// The sender of the cyclic `SPAAK_Status` frame (ICD section 3), sans-I/O.
///
/// Every `period` (default 100 ms) `handleTimeout(now:)` returns one E2E-protected frame
/// with the current `signals` and the next alive counter (0...14, wrapping 14 → 0). The
/// first frame is due at the `start` instant. If the event loop comes late by several
/// periods, one frame is sent and the next one is scheduled on the original period grid
/// (no burst, no drift); the skipped slots are counted in `missedSlots`.
public struct SpaakStatusTransmitter: Hashable, Sendable {
    /// Transmitter settings.
    public struct Configuration: Hashable, Sendable {
        /// The CAN id, also the E2E data id (default 0x3A8).
        public var canID: UInt32
        /// The cycle time (default 100 ms).
        public var period: Duration

        /// Creates a configuration; the defaults are the ICD's.
        public init(canID: UInt32 = 0x3A8, period: Duration = .milliseconds(100)) {
            self.canID = canID
            self.period = period
        }
    }

    /// The settings in use.
    public let configuration: Configuration
    /// The signals of the next frame; the ECU updates them whenever its state changes.
    public var signals: SpaakStatusSignals
    /// The counter the next frame will carry.
    public private(set) var counter: UInt8 = 0
    /// Frames produced so far.
    public private(set) var framesSent: Int = 0
    private var schedule: CyclicSchedule

    /// Creates a transmitter whose first frame is due at `start`.
    public init(configuration: Configuration = Configuration(), signals: SpaakStatusSignals = SpaakStatusSignals(), start: Instant) {
        self.configuration = configuration
        self.signals = signals
        self.schedule = CyclicSchedule(period: configuration.period, first: start)
    }

    /// When the next frame is due.
    public var nextDeadline: Instant? { schedule.nextDeadline }

    /// Period slots skipped because the caller came late by more than one period.
    public var missedSlots: Int { schedule.missedSlots }

    /// The frame to send if one is due at `now` (at most one), else nothing.
    public mutating func handleTimeout(now: Instant) -> [CANFrame] {
        guard schedule.fire(now: now) else { return [] }
        let data = E2EProfile.protect(
            dataID: UInt16(truncatingIfNeeded: configuration.canID), counter: counter, signals: signals.signalBytes)
        counter = E2EProfile.nextCounter(after: counter)
        framesSent += 1
        return [CANFrame(id: configuration.canID, data: data)]
    }
}
