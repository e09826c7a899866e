/// What `CanStateManager` asks its shell to do, in order.
public enum CanSMAction: Equatable, Sendable {
    /// Bus-off: stop writing frames (keep the transmit queue; ISO-TP timers run on).
    case haltTransmission
    /// Recovered and the quiet period is over: write again (the queue first).
    case resumeTransmission
    /// Restart the controller now (`CANController.restart`), then report a failure with
    /// `restartFailed(_:now:)`; a `pollController` follows to see whether it worked.
    case restartController
    /// Read the controller's status now and feed it back with `handle(_:now:)` (a failed
    /// read is simply not fed back; the next periodic poll tries again).
    case pollController
    /// A line for the log.
    case log(CanSMLogLevel, String)
}

/// Severity of a CanSM log line.
public enum CanSMLogLevel: Hashable, Sendable {
    /// Routine detail (the recovery mode).
    case info
    /// A state change for the better or to warning, a recovery.
    case notice
    /// Error-passive, bus-off, a failed restart.
    case warning
}
