import CSocketCAN
import CanSM
import Glibc
import SpaakCore
import Testing

@testable import SocketCAN

/// The controller shell without a controller: option checks, error texts, the error-frame
/// queue and the kernel decoding, and what libsocketcan's wrappers say about interfaces
/// that are not controllers (`lo`, a missing one; vcan0 in VCANErrorFrameTests).
/// Real controllers: tests/bus/test_realcan_controller.py in the VM.
@Suite("CAN controller shell")
struct CANControllerTests {
    @Test("--bitrate and --restart-ms are checked")
    func setupValidation() throws {
        #expect(try CANControllerSetup.validated(bitrate: nil, restartMilliseconds: nil) == nil)
        #expect(try CANControllerSetup.validated(bitrate: 500_000, restartMilliseconds: nil)
                == CANControllerSetup(bitrate: 500_000))
        #expect(try CANControllerSetup.validated(bitrate: 10_000, restartMilliseconds: 0)
                == CANControllerSetup(bitrate: 10_000, restartMilliseconds: 0))
        #expect(try CANControllerSetup.validated(bitrate: 1_000_000, restartMilliseconds: 60_000)?.restartMilliseconds == 60_000)
        #expect(throws: CANControllerSetupError.bitrate(9_999)) { try CANControllerSetup.validated(bitrate: 9_999, restartMilliseconds: nil) }
        #expect(throws: CANControllerSetupError.bitrate(2_000_000)) {
            try CANControllerSetup.validated(bitrate: 2_000_000, restartMilliseconds: nil)
        }
        #expect(throws: CANControllerSetupError.restartMilliseconds(-1)) {
            try CANControllerSetup.validated(bitrate: 500_000, restartMilliseconds: -1)
        }
        #expect(throws: CANControllerSetupError.restartMilliseconds(60_001)) {
            try CANControllerSetup.validated(bitrate: 500_000, restartMilliseconds: 60_001)
        }
        #expect(throws: CANControllerSetupError.restartWithoutBitrate) {
            try CANControllerSetup.validated(bitrate: nil, restartMilliseconds: 100)
        }
    }

    @Test("the operator's error texts")
    func errorTexts() {
        #expect(CANBusSetupError(underlying: .notAController("vcan0")).description
                == "--bitrate: vcan0 is not a CAN controller (a virtual interface has no bitrate)")
        #expect(CANBusSetupError(underlying: .permissionDenied("can0", operation: "setting up")).description
                == "--bitrate: setting up can0 needs CAP_NET_ADMIN (run as root or give the binary cap_net_admin)")
        #expect(CANControllerError.system("can0", operation: "can_set_bitrate", errno: EINVAL).description
                .hasPrefix("can_set_bitrate on can0 failed: "))
        #expect(CANControllerError.system("can0", operation: "can_get_state", errno: 0).description
                == "can_get_state on can0 failed (no error code)")
    }

    @Test("Linux's enum can_state maps onto the DID's states")
    func stateMapping() {
        #expect((0...6).map { CANController.state(Int32($0)) }
                == [.errorActive, .errorWarning, .errorPassive, .busOff, .stopped, .stopped, .unknown])
    }

    @Test("an interface that is not CAN, and one that does not exist")
    func notControllers() {
        #expect(throws: CANControllerError.notCAN("lo")) { try CANController.status(of: "lo") }
        #expect(throws: CANControllerError.notCAN("lo")) { try CANController.configure("lo", CANControllerSetup(bitrate: 500_000)) }
        #expect(throws: CANControllerError.noSuchInterface("nocan9")) { try CANController.status(of: "nocan9") }
        #expect(throws: CANControllerError.noSuchInterface("nocan9")) { try CANController.restart("nocan9") }
        #expect(!CANController.isController("lo"))
        let missing = CANBusSetup.inspect("nocan9")
        #expect(!missing.isController && missing.recovery == .none && missing.status == nil)
    }

    @Test("error frames decode from the kernel's struct, data frames do not")
    func kernelDecoding() throws {
        var raw = canfd_frame()
        raw.can_id = SPAAK_CAN_ERR_FLAG | 0x204
        raw.len = 8
        withUnsafeMutableBytes(of: &raw.data) { bytes in
            bytes[1] = 0x20
            bytes[6] = 130
            bytes[7] = 2
        }
        let frame = try #require(CANErrorFrame(kernel: raw))
        #expect(frame.impliedState == .errorPassive && frame.transmitErrors == 130 && frame.receiveErrors == 2)
        #expect(CANFrame(kernel: raw, size: Int(SPAAK_CAN_MTU)) == nil)
        raw.can_id = 0x204
        #expect(CANErrorFrame(kernel: raw) == nil)
    }

    @Test("the error-frame queue is bounded, counts what it drops and keeps state frames")
    func queue() {
        let busError = CANErrorFrame(id: SPAAK_CAN_ERR_FLAG | 0x088, data: [0, 0, 0x88, 0x19, 0, 0, 0, 0])!
        let busOff = CANErrorFrame(id: SPAAK_CAN_ERR_FLAG | 0x040, data: [])!
        let restarted = CANErrorFrame(id: SPAAK_CAN_ERR_FLAG | 0x100, data: [])!
        var queue = CANErrorFrameQueue(capacity: 4)
        for _ in 0..<3 { queue.append(busError) }
        queue.append(busOff)
        queue.append(busError)       // full: the incoming bus error goes
        queue.append(restarted)      // full: the oldest bus error gives way
        #expect(queue.dropped == 2)
        #expect(queue.take() == [busError, busError, busOff, restarted])
        #expect(queue.isEmpty && queue.take() == [])
        var states = CANErrorFrameQueue(capacity: 2)
        states.append(busOff)
        states.append(restarted)
        states.append(busOff)        // only state frames: the oldest goes
        #expect(states.take() == [restarted, busOff] && states.dropped == 1)
        #expect(CANErrorFrameQueue(capacity: 0).capacity == 1)
    }
}
