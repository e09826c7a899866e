/// The state of a CAN controller as ISO 11898-1 fault confinement defines it (and Linux's
/// `enum can_state` reports it), plus what a virtual interface or an unanswered query gives.
/// The raw value is byte 0 of DID 0xD130 (docs/ICD-CHOICES.md).
public enum CANControllerState: UInt8, Sendable, Equatable, CustomStringConvertible {
    /// Error counters below 96: the controller takes full part in the bus.
    case errorActive = 0
    /// An error counter at 96 or above (still error-active).
    case errorWarning = 1
    /// An error counter at 128 or above: passive error flags only.
    case errorPassive = 2
    /// The transmit error counter passed 255: the controller is off the bus.
    case busOff = 3
    /// The interface is administratively stopped (down).
    case stopped = 4
    /// Not a CAN controller (a `vcan`): no state, no counters, no bitrate.
    case virtual = 0xFE
    /// The state could not be read.
    case unknown = 0xFF

    public var description: String {
        switch self {
        case .errorActive: return "error-active"
        case .errorWarning: return "error-warning"
        case .errorPassive: return "error-passive"
        case .busOff: return "bus-off"
        case .stopped: return "stopped"
        case .virtual: return "virtual"
        case .unknown: return "unknown"
        }
    }
}
