import CanSM
import SpaakCore
import Testing
@testable import SpaakECU

/// DID 0xD130: the shell's CAN controller state and bus counters, read through the module.
@Suite("DID 0xD130 (CAN controller and bus counters)")
struct CANBusDiagnosticsDIDTests {
    /// What a runner on a `vcan` hands the module after a flood: state virtual, counters.
    static var afterFlood: CANBusDiagnostics {
        var record = CANBusDiagnostics()
        record.state = .virtual
        record.refusedWrites = 1_234
        record.statusLate = 7
        record.statusSkipped = 2
        return record
    }

    @Test("readable in the default session without security access: the 23-byte record the shell handed over")
    func readInDefaultSession() {
        let h = ModuleHarness()
        h.module.busDiagnostics = Self.afterFlood
        let answer = h.uds([0x22, 0xD1, 0x30])
        #expect(answer == [0x62, 0xD1, 0x30] + Self.afterFlood.record)
        #expect(answer.count == 3 + CANBusDiagnostics.recordLength)
        #expect(answer[3] == 0xFE)
        #expect(Array(answer[18...21]) == [0, 0, 0x04, 0xD2], "refused writes")
        #expect(Array(answer[22...25]) == [0, 7, 0, 2], "status late, skipped")
    }

    @Test("readable in the extended session too, and together with other DIDs")
    func readInExtendedSession() {
        let h = ModuleHarness()
        var record = Self.afterFlood
        record.state = .busOff
        record.transmitErrors = 255
        record.bitrate = 500_000
        record.busOffs = 3
        h.module.busDiagnostics = record
        _ = h.uds([0x10, 0x03])
        let answer = h.uds([0x22, 0xF1, 0x8C, 0xD1, 0x30])
        #expect(answer == [0x62, 0xF1, 0x8C] + Array("SPK0000000001".utf8) + [0xD1, 0x30] + record.record)
        #expect(answer.suffix(23).prefix(7) == [0x03, 0xFF, 0x00, 0x00, 0x07, 0xA1, 0x20])
    }

    @Test("a module nobody told reads state unknown with zero counters")
    func defaultRecord() {
        let h = ModuleHarness()
        #expect(h.uds([0x22, 0xD1, 0x30]) == [0x62, 0xD1, 0x30, 0xFF] + Array(repeating: 0, count: 22))
    }

    @Test("not writable: NRC 0x31 even unlocked")
    func notWritable() {
        let h = ModuleHarness()
        h.unlock()
        #expect(h.uds([0x2E, 0xD1, 0x30] + Array(repeating: 0, count: 23)) == [0x7F, 0x2E, 0x31])
    }

    @Test("after ECUReset the re-created module answers what the shell hands it again")
    func survivesReset() {
        let h = ModuleHarness()
        h.module.busDiagnostics = Self.afterFlood
        #expect(h.uds([0x11, 0x01]) == [0x51, 0x01])
        h.advance(by: .milliseconds(100))
        #expect(h.module.restartRequested)
        // What spaak-ecu's ModuleRunner does: a new module from the store, the diagnostics handed over.
        h.restart()
        #expect(h.module.busDiagnostics == CANBusDiagnostics())
        h.module.busDiagnostics = Self.afterFlood
        #expect(h.uds([0x22, 0xD1, 0x30]) == [0x62, 0xD1, 0x30] + Self.afterFlood.record)
    }
}
