import CSocketCAN
import Glibc
import SpaakCore
import Testing

@testable import SocketCAN

@Suite("CANSocket opening and error texts")
struct CANSocketTests {
    /// Whether this kernel can create PF_CAN sockets at all.
    static let kernelHasCAN: Bool = {
        let fd = socket(SPAAK_PF_CAN, Int32(SOCK_RAW.rawValue), SPAAK_CAN_RAW)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }()

    @Test("opening vcan0 without SocketCAN says so", .enabled(if: !kernelHasCAN))
    func noSocketCAN() {
        let error = #expect(throws: CANSocketError.self) { try CANSocket(interface: "vcan0") }
        #expect(error == .noSocketCAN(errno: EAFNOSUPPORT) || error == .noSocketCAN(errno: EPROTONOSUPPORT))
        do {
            _ = try CANSocket(interface: "vcan0", fd: .required)
            Issue.record("opening succeeded on a kernel without PF_CAN")
        } catch {
            #expect("\(error)".hasPrefix(
                "this kernel has no SocketCAN (PF_CAN unavailable): load can and can-raw modules, or run scripts/vcan-run"))
        }
    }

    @Test("a missing interface is named with the command that creates it", .enabled(if: kernelHasCAN))
    func missingInterface() {
        #expect(throws: CANSocketError.noSuchInterface("nosuchcan9")) { try CANSocket(interface: "nosuchcan9") }
    }

    @Test("a non-CAN interface is refused", .enabled(if: kernelHasCAN))
    func notCAN() {
        #expect(throws: CANSocketError.notCANInterface("lo")) { try CANSocket(interface: "lo") }
    }

    @Test("error texts")
    func texts() {
        #expect(CANSocketError.noSuchInterface("vcan0").description
            == "vcan0 does not exist: create it with `ip link add dev vcan0 type vcan && ip link set vcan0 up` (or run scripts/vcan-run)")
        #expect(CANSocketError.interfaceDown("vcan0").description == "vcan0 is down: bring it up with `ip link set vcan0 up`")
        #expect(CANSocketError.fdNotSupported("vcan0", mtu: 16).description
            == "CAN FD was requested but vcan0 has MTU 16 (classic CAN only): set `ip link set vcan0 mtu 72` or open it without CAN FD")
        #expect(CANSocketError.system(operation: "bind to vcan0", errno: EPERM).description
            == "bind to vcan0 failed: Operation not permitted (errno 1)")
    }

    @Test("open failures map to the right error")
    func openErrorMapping() {
        func map(_ step: spaak_can_open_step, _ code: Int32) -> CANSocketError {
            CANSocket.openError("vcan0", step: Int32(bitPattern: step.rawValue), errno: code)
        }
        #expect(map(SPAAK_CAN_OPEN_SOCKET, EAFNOSUPPORT) == .noSocketCAN(errno: EAFNOSUPPORT))
        #expect(map(SPAAK_CAN_OPEN_SOCKET, EPROTONOSUPPORT) == .noSocketCAN(errno: EPROTONOSUPPORT))
        #expect(map(SPAAK_CAN_OPEN_SOCKET, EACCES) == .system(operation: "socket(PF_CAN, SOCK_RAW, CAN_RAW)", errno: EACCES))
        #expect(map(SPAAK_CAN_OPEN_IFINDEX, ENODEV) == .noSuchInterface("vcan0"))
        #expect(map(SPAAK_CAN_OPEN_NAME, EINVAL) == .noSuchInterface("vcan0"))
        #expect(map(SPAAK_CAN_OPEN_BIND, ENODEV) == .notCANInterface("vcan0"))
        #expect(map(SPAAK_CAN_OPEN_BIND, ENETDOWN) == .interfaceDown("vcan0"))
    }

    @Test("interface state of lo is readable without PF_CAN")
    func interfaceState() {
        var mtu: Int32 = 0
        var up: Int32 = 0
        spaak_can_interface_state("lo", &mtu, &up)
        #expect(mtu > 0)
        #expect(up == 1)
        spaak_can_interface_state("nosuchif0", &mtu, &up)
        #expect(mtu == -1 && up == -1)
    }
}
