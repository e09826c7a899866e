import CanSM
import XCTest

/// Error frames as Linux drivers build them (`linux/can/error.h`; the SJA1000 driver's
/// `sja1000_err`, `can_bus_off`, `can_restart`), decoded.
final class CANErrorFrameTests: XCTestCase {
    private let flag: UInt32 = 0x2000_0000

    func testBusOffFrameOfCanBusOff() throws {
        // can_bus_off → can_change_state: CAN_ERR_BUSOFF, no data.
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x040, data: [0, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(frame.classes, .busOff)
        XCTAssertEqual(frame.impliedState, .busOff)
        XCTAssertNil(frame.transmitErrors)
        XCTAssertNil(frame.receiveErrors)
    }

    func testErrorPassiveWithCountersOfSJA1000() throws {
        // CAN_ERR_CRTL | CAN_ERR_CNT, data[1] = CAN_ERR_CRTL_TX_PASSIVE, data[6] TEC 128, data[7] REC 3.
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x204, data: [0, 0x20, 0, 0, 0, 0, 128, 3]))
        XCTAssertEqual(frame.classes, [.controller, .counters])
        XCTAssertEqual(frame.controllerStatus, .txPassive)
        XCTAssertEqual(frame.impliedState, .errorPassive)
        XCTAssertEqual(frame.transmitErrors, 128)
        XCTAssertEqual(frame.receiveErrors, 3)
    }

    func testWarningWithoutCountersLeavesThemUnknown() throws {
        // Older kernels put counters in data[6..7] without CAN_ERR_CNT: not trusted.
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x004, data: [0, 0x04, 0, 0, 0, 0, 97, 0]))
        XCTAssertEqual(frame.controllerStatus, .rxWarning)
        XCTAssertEqual(frame.impliedState, .errorWarning)
        XCTAssertNil(frame.transmitErrors)
    }

    func testPassiveWinsOverWarningAndActive() throws {
        let both = try XCTUnwrap(CANErrorFrame(id: flag | 0x004, data: [0, 0x08 | 0x10, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(both.controllerStatus, [.txWarning, .rxPassive])
        XCTAssertEqual(both.impliedState, .errorPassive)
        let active = try XCTUnwrap(CANErrorFrame(id: flag | 0x204, data: [0, 0x40, 0, 0, 0, 0, 12, 0]))
        XCTAssertEqual(active.impliedState, .errorActive)
        XCTAssertEqual(active.transmitErrors, 12)
    }

    func testRestartedFrameMeansErrorActive() throws {
        // can_restart: CAN_ERR_RESTARTED.
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x100, data: [UInt8](repeating: 0, count: 8)))
        XCTAssertEqual(frame.classes, .restarted)
        XCTAssertEqual(frame.impliedState, .errorActive)
    }

    func testBusOffWinsOverEverything() throws {
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x040 | 0x004 | 0x100, data: [0, 0x40, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(frame.impliedState, .busOff)
    }

    func testBusErrorReportsNoStateButItsDetails() throws {
        // A missing ACK as sja1000 reports it: CAN_ERR_PROT | CAN_ERR_BUSERROR,
        // data[2] = CAN_ERR_PROT_BIT0 | CAN_ERR_PROT_TX, data[3] = CAN_ERR_PROT_LOC_ACK.
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x088, data: [0, 0, 0x88, 0x19, 0, 0, 0, 0]))
        XCTAssertEqual(frame.classes, [.protocolViolation, .busError])
        XCTAssertEqual(frame.protocolType, 0x88)
        XCTAssertEqual(frame.protocolLocation, 0x19)
        XCTAssertNil(frame.impliedState)
    }

    func testOverflowAndLostArbitrationAndTransceiverReportNoState() throws {
        let overflow = try XCTUnwrap(CANErrorFrame(id: flag | 0x004, data: [0, 0x01, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(overflow.controllerStatus, .rxOverflow)
        XCTAssertNil(overflow.impliedState)
        let lost = try XCTUnwrap(CANErrorFrame(id: flag | 0x002, data: [5, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(lost.classes, .lostArbitration)
        XCTAssertNil(lost.impliedState)
        let wire = try XCTUnwrap(CANErrorFrame(id: flag | 0x010, data: [0, 0, 0, 0, 0x04, 0, 0, 0]))
        XCTAssertEqual(wire.transceiverStatus, 0x04)  // CAN_ERR_TRX_CANH_NO_WIRE
        XCTAssertNil(wire.impliedState)
        let ack = try XCTUnwrap(CANErrorFrame(id: flag | 0x020 | 0x001, data: []))
        XCTAssertEqual(ack.classes, [.noAck, .txTimeout])
    }

    func testDataFramesAreNotErrorFrames() {
        XCTAssertNil(CANErrorFrame(id: 0x040, data: [0, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertNil(CANErrorFrame(id: 0x8000_0040, data: []))
    }

    func testShortPayloadReadsAsZeroPadded() throws {
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x204, data: [0, 0x20]))
        XCTAssertEqual(frame.impliedState, .errorPassive)
        XCTAssertEqual(frame.transmitErrors, 0)
        XCTAssertEqual(frame.receiveErrors, 0)
    }

    func testDescriptionNamesClassesAndStatus() throws {
        let frame = try XCTUnwrap(CANErrorFrame(id: flag | 0x204, data: [0, 0x30, 0, 0, 0, 0, 130, 129]))
        XCTAssertEqual(frame.description, "error frame [controller,counters] controller [rx-passive,tx-passive] TEC 130 REC 129")
    }
}
