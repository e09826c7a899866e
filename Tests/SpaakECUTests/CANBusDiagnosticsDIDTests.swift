import CanSM
import ISOTP
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

    @Test("a bus that holds the module's frames (bus-off, ENOBUFS): no transmit confirmation, the answer fails by N_Bs, the next request is served")
    func heldFramesFailByTimers() {
        let h = ModuleHarness()
        // A two-DID answer (41 bytes): FF, then waits for the tester's FC, which never comes:
        // the shell holds the FF (CANTransmitter halted) and never confirms the transmission.
        let first = h.request([0x22, 0xF1, 0x8C, 0xD1, 0x30])
        #expect(first.count == 1 && first[0].data[0] >> 4 == 1, "a first frame")
        #expect(h.module.udsPhysical.isTransmitting)
        // Before N_Bs (1000 ms from the hand-out) the channel is busy: no answer.
        h.advance(by: .milliseconds(900))
        #expect(h.request([0x3E, 0x00]).isEmpty)
        h.advance(by: .milliseconds(100))
        #expect(!h.module.udsPhysical.isTransmitting, "N_Bs ended the transfer")
        #expect(h.log.lines.contains { $0.contains("N_Bs timeout") })
        #expect(h.request([0x3E, 0x00]).map(\.data) == [[0x02, 0x7E, 0x00, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]])
        // A confirmation after the failure changes nothing.
        h.module.framesTransmitted(now: h.clock.now)
        #expect(!h.module.udsPhysical.isTransmitting)
    }
}
