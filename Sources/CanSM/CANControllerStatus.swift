/// What a query of a CAN controller answers (libsocketcan through `CANController.status`):
/// its state, error counters, bitrate, automatic restart and the kernel's event counts
/// since the interface was created.
public struct CANControllerStatus: Equatable, Sendable {
    /// The controller's state (`.stopped` while the interface is down).
    public var state: CANControllerState
    /// Transmit error counter (TEC), saturated at 255.
    public var transmitErrors: UInt8
    /// Receive error counter (REC), saturated at 255.
    public var receiveErrors: UInt8
    /// Nominal bitrate in bit/s; `nil` when none is set.
    public var bitrate: UInt32?
    /// The kernel's automatic restart after bus-off in ms (0: off); `nil` when unknown.
    public var restartMilliseconds: UInt32?
    /// Times the controller went bus-off (the kernel's count).
    public var busOffs: Int
    /// Changes to error-passive (the kernel's count).
    public var errorPassives: Int
    /// Changes to error-warning (the kernel's count).
    public var errorWarnings: Int
    /// Restarts after bus-off, automatic or asked for (the kernel's count).
    public var restarts: Int

    /// Creates a status; counters default to 0.
    public init(state: CANControllerState, transmitErrors: UInt8 = 0, receiveErrors: UInt8 = 0,
                bitrate: UInt32? = nil, restartMilliseconds: UInt32? = nil,
                busOffs: Int = 0, errorPassives: Int = 0, errorWarnings: Int = 0, restarts: Int = 0) {
        self.state = state
        self.transmitErrors = transmitErrors
        self.receiveErrors = receiveErrors
        self.bitrate = bitrate
        self.restartMilliseconds = restartMilliseconds
        self.busOffs = busOffs
        self.errorPassives = errorPassives
        self.errorWarnings = errorWarnings
        self.restarts = restarts
    }
}

/// Who brings a bus-off controller back onto the bus.
public enum BusOffRecovery: Equatable, Sendable, CustomStringConvertible {
    /// The kernel restarts it by itself `restartMilliseconds` after bus-off (restart-ms > 0).
    case kernel(restartMilliseconds: UInt32)
    /// The module restarts it (`CANController.restart`) this long after bus-off, retrying
    /// with a doubling delay while it stays bus-off or the restart fails (restart-ms 0).
    case module(after: Duration)
    /// Not a controller (a `vcan`): no bus-off, nothing to recover, transmission never halts.
    case none

    /// The delay before the module's first restart when the kernel's is off.
    public static let defaultModuleDelay: Duration = .milliseconds(100)

    /// The recovery for a controller in this status: the kernel's when its restart-ms is
    /// set, the module's otherwise (also when restart-ms is unknown); `.none` without a
    /// controller (`status` nil or virtual).
    public init(status: CANControllerStatus?, moduleDelay: Duration = BusOffRecovery.defaultModuleDelay) {
        guard let status, status.state != .virtual else {
            self = .none
            return
        }
        if let restart = status.restartMilliseconds, restart > 0 {
            self = .kernel(restartMilliseconds: restart)
        } else {
            self = .module(after: moduleDelay)
        }
    }

    public var description: String {
        switch self {
        case .kernel(let ms): return "the kernel restarts it after \(ms) ms"
        case .module(let after): return "the module restarts it after \(Int(after.milliseconds)) ms"
        case .none: return "none (not a CAN controller)"
        }
    }
}
