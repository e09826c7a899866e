import CanSM
import XCTest

final class CANBusDiagnosticsTests: XCTestCase {
    func testRecordLayoutIsBigEndianAndSaturates() {
        var diagnostics = CANBusDiagnostics()
        diagnostics.state = .errorPassive
        diagnostics.transmitErrors = 130
        diagnostics.receiveErrors = 7
        diagnostics.bitrate = 500_000
        diagnostics.busOffs = 2
        diagnostics.recoveries = 70_000
        diagnostics.errorFrames = 0x0102_0304
        diagnostics.refusedWrites = 1100
        diagnostics.statusLate = 3
        diagnostics.statusSkipped = -1
        XCTAssertEqual(diagnostics.record, [
            0x02, 130, 7,
            0x00, 0x07, 0xA1, 0x20,
            0x00, 0x02,
            0xFF, 0xFF,
            0x01, 0x02, 0x03, 0x04,
            0x00, 0x00, 0x04, 0x4C,
            0x00, 0x03,
            0x00, 0x00,
        ])
        XCTAssertEqual(diagnostics.record.count, CANBusDiagnostics.recordLength)
    }

    func testFreshDiagnosticsReadUnknownAndZero() {
        XCTAssertEqual(CANBusDiagnostics().record, [0xFF] + [UInt8](repeating: 0, count: 22))
    }
}
