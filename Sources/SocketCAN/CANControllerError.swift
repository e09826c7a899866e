import Glibc

/// Why a CAN controller could not be read, set up or restarted, worded for an operator.
public enum CANControllerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No network interface has this name.
    case noSuchInterface(String)
    /// The interface is not a CAN interface at all.
    case notCAN(String)
    /// A CAN interface without a controller (a `vcan`): no bitrate, no state, no restart.
    case notAController(String)
    /// The process lacks CAP_NET_ADMIN; `operation` says what it tried ("setting up", "restarting").
    case permissionDenied(String, operation: String)
    /// A restart was asked for but the controller is not bus-off.
    case notBusOff(String)
    /// A restart was asked for but the kernel restarts this controller itself (restart-ms > 0).
    case automaticRestart(String)
    /// A libsocketcan or netlink call failed; `errno` 0 when it set none.
    case system(String, operation: String, errno: Int32)

    /// The operator-facing explanation.
    public var description: String {
        switch self {
        case .noSuchInterface(let name):
            return "\(name) does not exist"
        case .notCAN(let name):
            return "\(name) is not a CAN interface"
        case .notAController(let name):
            return "\(name) is not a CAN controller (a virtual interface has no bitrate)"
        case .permissionDenied(let name, let operation):
            return "\(operation) \(name) needs CAP_NET_ADMIN (run as root or give the binary cap_net_admin)"
        case .notBusOff(let name):
            return "\(name) is not bus-off: nothing to restart"
        case .automaticRestart(let name):
            return "\(name) is restarted by the kernel (restart-ms > 0): the module does not restart it"
        case .system(let name, let operation, let code):
            let reason = code == 0 ? "failed (no error code)" : "failed: \(CANSocketError.text(code))"
            return "\(operation) on \(name) \(reason)"
        }
    }
}
