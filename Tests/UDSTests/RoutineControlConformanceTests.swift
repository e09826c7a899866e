import SpaakCore
import Testing
@testable import UDS

/// RoutineControl (0x31) against ISO 14229-1 with the routine table of ICD 5.4 (issue 7,
/// defect 8): no trailing bytes where a routine takes no option record, and no stopRoutine
/// advertised when no routine has one.
@Suite("UDS RoutineControl: option records and sub-functions (ISO 14229-1)")
struct RoutineControlConformanceTests {
    @Test func icdRoutinesTakeNoOptionRecordAndHaveNoStop() {
        for entry in RoutineEntry.icdTable {
            #expect(entry.startOptionLength == 0, "RID \(entry.identifier)")
            #expect(!entry.supportsStop, "RID \(entry.identifier)")
        }
    }

    @Test func startWithTrailingBytesIsIncorrectLength() {
        var h = Harness()
        h.enterExtended()
        #expect(h.sent("3101D20200") == ["7F3113"])
        #expect(h.sent("3101F011AB") == ["7F3113"])
        #expect(h.sent("3101D20000") == ["7F3133"])    // security (0x33) before exact length
        h.unlock()
        #expect(h.sent("3101D20000") == ["7F3113"])
        #expect(h.sent("3101D201FFFF") == ["7F3113"])
        #expect(h.server.pendingToken == nil)
    }

    @Test func resultsWithTrailingBytesIsIncorrectLength() {
        var h = Harness()
        h.unlock()
        #expect(h.sent("3103D200FF") == ["7F3113"])
        #expect(h.sent("3103D20200") == ["7F3113"])
        #expect(h.sent("3103F0100000") == ["7F3113"])
        #expect(h.server.pendingToken == nil)
    }

    @Test func stopRoutineIsNotSupported() {
        var h = Harness()
        h.enterExtended()
        #expect(h.sent("31021234") == ["7F3112"])      // before the RID check (0x31)
        #expect(h.sent("3102D200") == ["7F3112"])      // before the security check (0x33)
        #expect(h.sent("3182D202") == ["7F3112"])
        #expect(h.sent("3102D202", functional: true) == [])
        h.unlock()
        #expect(h.sent("3102D200") == ["7F3112"])
        #expect(h.server.pendingToken == nil)
    }
}
