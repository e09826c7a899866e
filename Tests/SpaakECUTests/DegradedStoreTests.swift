import Foundation
import SecureStore
import SpaakCore
import Testing
@testable import SpaakECU

/// Issue 7, defect 5: a module whose store is degraded (damaged device key) starts, sends
/// SPAAK_Status, answers UDS, shows KeyM status 9 in D120, counts the plant lock as set and
/// runs no cloud use case.
@Suite struct DegradedStoreTests {
    @Test func moduleOnADegradedStoreAnswersAndFailsClosed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("degraded-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try FileSecureStore(directory: folder)
        try first.write(.vin, Array("VF3ABCDEF12345678".utf8))
        var key = try #require(FileManager.default.contents(atPath: folder + "/device.key"))
        key[30] ^= 0x01
        try key.write(to: URL(fileURLWithPath: folder + "/device.key"))

        let store = FileSecureStore.openOrDegraded(directory: folder)
        #expect(store is DegradedSecureStore)
        let h = ModuleHarness(store: store)
        h.advance(by: .milliseconds(300))
        #expect(h.frames(on: 0x3A8).count >= 3, "SPAAK_Status is sent")
        #expect(h.frames(on: 0x3A8).last.map { $0.data[2] & 0x08 } == 0x08, "plant lock shown as set")
        #expect(Array(h.uds([0x22, 0xF1, 0x8C]).prefix(3)) == [0x62, 0xF1, 0x8C], "UDS works")
        let d120 = h.uds([0x22, 0xD1, 0x20])
        #expect(d120.count >= 3 + 8)
        #expect(d120[3] & 0x08 == 0x08, "plant locked flag")
        #expect(Array(d120[4..<11]) == Array(repeating: 9, count: 7), "KeyM status 9 for every slot: \(d120)")
        // Writes the plant lock would forbid are refused, and nothing is written.
        h.unlock()
        #expect(h.uds([0x31, 0x01, 0xD2, 0x00]).first == 0x7F)
        // The TBM comes online: no cloud use case starts.
        let v2cBefore = h.frames(on: 0x6A0).count
        h.receive(CANFrame(id: 0x3A0, data: [UInt8](hex: "9B00030000000000")!))
        h.advance(by: .milliseconds(500))
        #expect(h.frames(on: 0x6A0).count == v2cBefore, "no cloud use case")
    }
}
