import Glibc
import SpaakCore

/// Why a CAN socket could not be opened or used, worded so that an operator can fix it.
public enum CANSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `socket(PF_CAN, …)` failed with EAFNOSUPPORT/EPROTONOSUPPORT: the kernel has no CAN.
    case noSocketCAN(errno: Int32)
    /// No network interface has this name.
    case noSuchInterface(String)
    /// The interface exists but is not a CAN interface (bind answered ENODEV).
    case notCANInterface(String)
    /// The interface is administratively down (at open) or went down (ENETDOWN).
    case interfaceDown(String)
    /// CAN FD was required but the interface's MTU is that of classic CAN (16).
    case fdNotSupported(String, mtu: Int)
    /// The frame cannot be sent on this socket (invalid id or length, FD on a classic socket).
    case unsendableFrame(CANFrame, reason: String)
    /// Any other failing system call.
    case system(operation: String, errno: Int32)

    /// The operator-facing explanation.
    public var description: String {
        switch self {
        case .noSocketCAN(let code):
            return "this kernel has no SocketCAN (PF_CAN unavailable): load can and can-raw modules, "
                + "or run scripts/vcan-run (\(CANSocketError.text(code)))"
        case .noSuchInterface(let name):
            return "\(name) does not exist: create it with `ip link add dev \(name) type vcan && "
                + "ip link set \(name) up` (or run scripts/vcan-run)"
        case .notCANInterface(let name):
            return "\(name) is not a CAN interface"
        case .interfaceDown(let name):
            return "\(name) is down: bring it up with `ip link set \(name) up`"
        case .fdNotSupported(let name, let mtu):
            return "CAN FD was requested but \(name) has MTU \(mtu) (classic CAN only): "
                + "set `ip link set \(name) mtu 72` or open it without CAN FD"
        case .unsendableFrame(let frame, let reason):
            return "cannot send \(frame): \(reason)"
        case .system(let operation, let code):
            return "\(operation) failed: \(CANSocketError.text(code))"
        }
    }

    /// `strerror` text with the errno number.
    static func text(_ code: Int32) -> String {
        guard let cText = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: cText)) (errno \(code))"
    }
}
