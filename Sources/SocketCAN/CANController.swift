import CSocketCAN
import CanSM

/// How to set a CAN controller up (`spaak-ecu --bitrate N [--restart-ms N]`).
public struct CANControllerSetup: Equatable, Sendable {
    /// Nominal bitrate in bit/s (classic CAN: 10 kbit/s to 1 Mbit/s).
    public var bitrate: UInt32
    /// The kernel's automatic restart after bus-off in ms (0: off, the module restarts it);
    /// `nil` leaves the kernel's setting alone.
    public var restartMilliseconds: UInt32?

    /// The bitrates a classic CAN controller takes.
    public static let bitrates: ClosedRange<UInt32> = 10_000...1_000_000
    /// The restart-ms values accepted.
    public static let restartRange: ClosedRange<UInt32> = 0...60_000

    /// Creates a setup (unchecked; see `validated`).
    public init(bitrate: UInt32, restartMilliseconds: UInt32? = nil) {
        self.bitrate = bitrate
        self.restartMilliseconds = restartMilliseconds
    }

    /// The setup asked for on a command line, or why it is refused: `--restart-ms` needs
    /// `--bitrate` (without it the controller is left alone). `nil` when neither is given.
    public static func validated(bitrate: Int?, restartMilliseconds: Int?) throws(CANControllerSetupError) -> CANControllerSetup? {
        guard let bitrate else {
            if restartMilliseconds != nil { throw .restartWithoutBitrate }
            return nil
        }
        guard bitrate >= Int(bitrates.lowerBound), bitrate <= Int(bitrates.upperBound) else { throw .bitrate(bitrate) }
        if let restart = restartMilliseconds, restart < Int(restartRange.lowerBound) || restart > Int(restartRange.upperBound) {
            throw .restartMilliseconds(restart)
        }
        return CANControllerSetup(bitrate: UInt32(bitrate), restartMilliseconds: restartMilliseconds.map { UInt32($0) })
    }
}

/// Why a controller setup given on the command line is refused.
public enum CANControllerSetupError: Error, Equatable, Sendable, CustomStringConvertible {
    case bitrate(Int)
    case restartMilliseconds(Int)
    case restartWithoutBitrate

    public var description: String {
        switch self {
        case .bitrate(let value):
            return "--bitrate \(value) is out of range: classic CAN takes 10000 to 1000000 bit/s"
        case .restartMilliseconds(let value):
            return "--restart-ms \(value) is out of range: 0 (the module restarts the controller) to 60000"
        case .restartWithoutBitrate:
            return "--restart-ms needs --bitrate (without --bitrate the controller is left as it is)"
        }
    }
}

/// A real CAN controller's state and setup through libsocketcan (the C shim's
/// `spaak_can_controller_*`). Reading needs no rights; setting up and restarting need
/// CAP_NET_ADMIN. A `vcan` answers `CANControllerError.notAController`.
public enum CANController {
    /// Reads the controller's state, error counters, bitrate, restart-ms and event counts.
    public static func status(of interface: String) throws(CANControllerError) -> CANControllerStatus {
        var raw = spaak_can_controller_status()
        var error = spaak_can_ctl_error()
        try check(spaak_can_controller_read(interface, &raw, &error), interface, error, operation: "reading")
        return CANControllerStatus(
            state: state(raw.state),
            transmitErrors: UInt8(clamping: raw.tx_errors),
            receiveErrors: UInt8(clamping: raw.rx_errors),
            bitrate: raw.bitrate == 0 ? nil : raw.bitrate,
            restartMilliseconds: raw.has_restart_ms != 0 ? raw.restart_ms : nil,
            busOffs: Int(raw.bus_off), errorPassives: Int(raw.error_passive),
            errorWarnings: Int(raw.error_warning), restarts: Int(raw.restarts))
    }

    /// Stops the controller, sets the bitrate (and restart-ms when given) and starts it.
    public static func configure(_ interface: String, _ setup: CANControllerSetup) throws(CANControllerError) {
        var error = spaak_can_ctl_error()
        let rc = spaak_can_controller_configure(interface, setup.bitrate, setup.restartMilliseconds == nil ? 0 : 1,
                                                setup.restartMilliseconds ?? 0, &error)
        try check(rc, interface, error, operation: "setting up")
    }

    /// Restarts a bus-off controller whose automatic restart is off.
    public static func restart(_ interface: String) throws(CANControllerError) {
        var error = spaak_can_ctl_error()
        try check(spaak_can_controller_restart(interface, &error), interface, error, operation: "restarting")
    }

    /// Whether `interface` is a CAN controller (false for a vcan, another kind of link or none).
    public static func isController(_ interface: String) -> Bool {
        var probe = spaak_can_link_probe()
        var error = spaak_can_ctl_error()
        return spaak_can_link_query(interface, &probe, &error) == Int32(SPAAK_CAN_CTL_OK.rawValue) && probe.is_controller != 0
    }

    /// Linux's `enum can_state` as the module's state (sleeping counts as stopped).
    static func state(_ raw: Int32) -> CANControllerState {
        switch raw {
        case 0: return .errorActive
        case 1: return .errorWarning
        case 2: return .errorPassive
        case 3: return .busOff
        case 4, 5: return .stopped
        default: return .unknown
        }
    }

    private static func check(_ rc: Int32, _ interface: String, _ error: spaak_can_ctl_error,
                              operation: String) throws(CANControllerError) {
        switch UInt32(bitPattern: rc) {
        case SPAAK_CAN_CTL_OK.rawValue: return
        case SPAAK_CAN_CTL_NO_INTERFACE.rawValue: throw .noSuchInterface(interface)
        case SPAAK_CAN_CTL_NOT_CAN.rawValue: throw .notCAN(interface)
        case SPAAK_CAN_CTL_NOT_CONTROLLER.rawValue: throw .notAController(interface)
        case SPAAK_CAN_CTL_PERMISSION.rawValue: throw .permissionDenied(interface, operation: operation)
        case SPAAK_CAN_CTL_NOT_BUS_OFF.rawValue: throw .notBusOff(interface)
        case SPAAK_CAN_CTL_AUTO_RESTART.rawValue: throw .automaticRestart(interface)
        default:
            let name = error.operation.map { String(cString: $0) } ?? operation
            throw .system(interface, operation: name, errno: error.saved_errno)
        }
    }
}
