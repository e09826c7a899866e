import CSocketCAN
import CanSM
import Glibc
import Testing

@testable import SocketCAN

/// CANController on a real driver: QEMU's SJA1000 as can0 in the VM
/// (`VCAN_CONTROLLERS=kvaser scripts/vcan-run .build/debug/spaak-simPackageTests.xctest`,
/// as root). Leaves can0 as scripts/vcan-run set it up (VCAN_BITRATE, VCAN_RESTART_MS).
@Suite("CANController on can0 (SJA1000)", .serialized, .enabled(if: CANController.isController("can0") && geteuid() == 0))
struct RealCANControllerTests {
    private static func setting(_ name: String, _ fallback: UInt32) -> UInt32 {
        getenv(name).flatMap { UInt32(String(cString: $0)) } ?? fallback
    }

    private let bitrate = setting("VCAN_BITRATE", 500_000)
    private let restartMs = setting("VCAN_RESTART_MS", 100)

    @Test("status, setup with another bitrate and restart-ms 0, restart refused while error-active, setup back")
    func setupAndStatus() throws {
        let before = try CANController.status(of: "can0")
        #expect(before.state == .errorActive)
        #expect(before.bitrate == bitrate)
        #expect(before.restartMilliseconds == restartMs)
        #expect(before.transmitErrors == 0 && before.receiveErrors == 0)
        let bus = CANBusSetup.inspect("can0")
        #expect(bus.isController && bus.status == before)
        #expect(bus.recovery == BusOffRecovery(status: before))

        let other: UInt32 = bitrate == 250_000 ? 125_000 : 250_000
        #expect(try CANBusSetup.configure("can0", CANControllerSetup(bitrate: other, restartMilliseconds: 0))
                == "can0: CAN controller set up at \(other) bit/s, restart-ms 0 and started")
        let changed = try CANController.status(of: "can0")
        #expect(changed.state == .errorActive && changed.bitrate == other && changed.restartMilliseconds == 0)
        #expect(CANBusSetup.inspect("can0").recovery == .module(after: BusOffRecovery.defaultModuleDelay))
        // Without --restart-ms the kernel's setting stays.
        try CANController.configure("can0", CANControllerSetup(bitrate: bitrate))
        #expect(try CANController.status(of: "can0").restartMilliseconds == 0)
        // The driver is error-active: nothing to restart (libsocketcan would refuse too).
        #expect(throws: CANControllerError.notBusOff("can0")) { try CANController.restart("can0") }

        try CANController.configure("can0", CANControllerSetup(bitrate: bitrate, restartMilliseconds: restartMs))
        let after = try CANController.status(of: "can0")
        #expect(after.state == .errorActive && after.bitrate == bitrate && after.restartMilliseconds == restartMs)
        #expect(after.busOffs == before.busOffs)
    }

    @Test("error frames are asked for on the controller's socket (CAN_RAW_ERR_FILTER reads back)")
    func errorFrameFilter() throws {
        let socket = try CANSocket(interface: "can0", filter: [0x5E9])
        func mask() -> UInt32 {
            var value: UInt32 = 0xDEAD
            var length = socklen_t(MemoryLayout<UInt32>.size)
            #expect(getsockopt(socket.fileDescriptor, Int32(SPAAK_SOL_CAN_RAW), Int32(SPAAK_CAN_RAW_ERR_FILTER), &value, &length) == 0)
            return value
        }
        #expect(mask() == 0)
        try socket.receiveErrorFrames(true)
        #expect(mask() == CANErrorFrame.classMask)
        try socket.receiveErrorFrames(false)
        #expect(mask() == 0)
    }
}
