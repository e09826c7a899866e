import CSocketCAN
import CanSM
import Glibc
import SpaakCore
import Testing

@testable import SocketCAN

/// Error frames and the controller calls on a real vcan0 (in the VM): a raw socket may send
/// a frame with CAN_ERR_FLAG, which the kernel delivers only to sockets whose
/// CAN_RAW_ERR_FILTER matches its classes — the path a controller's error frames take.
@Suite("error frames and controller calls on vcan0", .serialized, .enabled(if: VCAN.exists))
struct VCANErrorFrameTests {
    /// Writes an error frame with these classes and data from a raw socket.
    private func inject(_ socket: CANSocket, classes: UInt32, data: [UInt8]) {
        var raw = canfd_frame()
        raw.can_id = SPAAK_CAN_ERR_FLAG | classes
        raw.len = 8
        withUnsafeMutableBytes(of: &raw.data) { bytes in
            for (index, byte) in data.enumerated() { bytes[index] = byte }
        }
        #expect(spaak_can_write(socket.fileDescriptor, &raw, SPAAK_CAN_MTU) == SPAAK_CAN_MTU)
    }

    /// Reads with all three receive calls until `errorCount` error frames are kept and
    /// `dataCount` data frames arrived, or 1 s passed.
    private func drain(_ socket: CANSocket, errorCount: Int, dataCount: Int) throws -> (data: [CANFrame], errors: [CANErrorFrame]) {
        var data: [CANFrame] = []
        var errors: [CANErrorFrame] = []
        for round in 0..<1000 where errors.count < errorCount || data.count < dataCount {
            switch round % 3 {
            case 0: data += try socket.receiveStampedBatch().map(\.frame)
            case 1: data += try socket.receiveBatch()
            default: if let frame = try socket.receive() { data.append(frame) }
            }
            errors += socket.takeErrorFrames()
            if errors.count < errorCount || data.count < dataCount { usleep(1000) }
        }
        return (data, errors)
    }

    @Test("error frames are decoded and kept when asked for, between data frames that pass on")
    func receivedWhenAsked() throws {
        let rx = try CANSocket(interface: "vcan0", filter: [0x5E7])
        try rx.receiveErrorFrames(true)
        let quiet = try CANSocket(interface: "vcan0", filter: [0x5E7])
        let tx = try CANSocket(interface: "vcan0", filter: [])
        #expect(try tx.send(CANFrame(id: 0x5E7, data: [1])))
        inject(tx, classes: 0x204, data: [0, 0x20, 0, 0, 0, 0, 128, 0])
        inject(tx, classes: 0x040, data: [])
        #expect(try tx.send(CANFrame(id: 0x5E7, data: [2])))
        inject(tx, classes: 0x100, data: [])
        let got = try drain(rx, errorCount: 3, dataCount: 2)
        #expect(got.errors.map(\.impliedState) == [.errorPassive, .busOff, .errorActive])
        #expect(got.errors.first?.transmitErrors == 128)
        #expect(got.data == [CANFrame(id: 0x5E7, data: [1]), CANFrame(id: 0x5E7, data: [2])])
        #expect(rx.errorFramesDropped == 0)
        // The default socket never sees them.
        let other = try drain(quiet, errorCount: 0, dataCount: 2)
        #expect(other.errors.isEmpty && quiet.takeErrorFrames().isEmpty)
        #expect(other.data.count == 2)
        // Switched off again: none kept.
        try rx.receiveErrorFrames(false)
        inject(tx, classes: 0x040, data: [])
        usleep(20_000)
        _ = try rx.receiveBatch()
        #expect(rx.takeErrorFrames().isEmpty)
    }

    @Test("vcan0 is not a controller: status, setup and restart say so; the bus setup is virtual")
    func notAController() {
        #expect(throws: CANControllerError.notAController("vcan0")) { try CANController.status(of: "vcan0") }
        #expect(throws: CANControllerError.notAController("vcan0")) {
            try CANController.configure("vcan0", CANControllerSetup(bitrate: 250_000, restartMilliseconds: 0))
        }
        #expect(throws: CANControllerError.notAController("vcan0")) { try CANController.restart("vcan0") }
        #expect(throws: CANBusSetupError(underlying: .notAController("vcan0"))) {
            _ = try CANBusSetup.configure("vcan0", CANControllerSetup(bitrate: 250_000))
        }
        let bus = CANBusSetup.inspect("vcan0")
        #expect(!bus.isController && bus.recovery == .none && bus.status == nil)
        #expect(bus.summary == "vcan0: virtual CAN interface (no controller, no bus-off)")
    }
}
