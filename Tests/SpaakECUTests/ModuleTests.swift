import E2E
import SpaakCore
import Testing
@testable import SpaakECU

@Suite struct ModuleTests {
    @Test func statusFrameEvery100msWithValidE2E() {
        let h = ModuleHarness()
        h.advance(by: .milliseconds(1_000))
        let status = h.sent.filter { $0.1.id == 0x3A8 }
        #expect(status.count == 11)
        for (index, (time, frame)) in status.enumerated() {
            #expect(time == .milliseconds(1_000 + 100 * UInt64(index)))
            #expect(E2EProfile.check(dataID: 0x3A8, data: frame.data, previousCounter: nil) == .ok)
            #expect(frame.data[1] == UInt8(index % 15))
        }
    }

    @Test func tbmOnlineBitFollowsSupervision() {
        let h = ModuleHarness()
        #expect(!h.module.isTBMOnline)
        h.receive(CANFrame(id: 0x3A0, data: [UInt8](hex: "9B00030000000000")!))
        #expect(h.module.isTBMOnline)
        h.advance(by: .milliseconds(100))
        #expect(h.frames(on: 0x3A8).last!.data[2] & 0x80 == 0x80)
        h.advance(by: .milliseconds(1_000))
        #expect(!h.module.isTBMOnline)
        #expect(h.frames(on: 0x3A8).last!.data[2] & 0x80 == 0)
    }

    @Test func readSerialOverISOTPWithFlowControl() {
        let h = ModuleHarness()
        let first = h.request([0x22, 0xF1, 0x8C])
        #expect(first.count == 1)
        #expect(first[0].data == [0x10, 16, 0x62, 0xF1, 0x8C] + Array("SPK".utf8))
        let mark = h.sent.count
        h.receive(CANFrame(id: 0x7A0, data: [0x30, 0, 0, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]))
        let rest = h.frames(on: 0x7A8, from: mark)
        #expect(rest.map(\.data) == [[0x21] + Array("0000000".utf8), [0x22] + Array("001".utf8) + [0xCC, 0xCC, 0xCC, 0xCC]])
    }

    @Test func negativeResponsesAndFunctionalSuppression() {
        let h = ModuleHarness()
        #expect(h.request([0xBA]).map(\.data) == [[0x03, 0x7F, 0xBA, 0x11, 0xCC, 0xCC, 0xCC, 0xCC]])
        #expect(h.request([0x22, 0xF1, 0x90]).map(\.data) == [[0x03, 0x7F, 0x22, 0x22, 0xCC, 0xCC, 0xCC, 0xCC]])
        #expect(h.request([0xBA], id: 0x7DF).isEmpty)
        #expect(h.request([0x3E, 0x80], id: 0x7DF).isEmpty)
        #expect(h.request([0x3E, 0x00], id: 0x7DF).map(\.data) == [[0x02, 0x7E, 0x00, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]])
    }

    @Test func vinGivenAtStartIsRead() {
        let h = ModuleHarness(configuration: ECUConfiguration(serial: "S1", vin: "ZFA25000001234567"))
        let frames = h.request([0x22, 0xF1, 0x90])
        #expect(frames.first?.data.prefix(5) == [0x10, 20, 0x62, 0xF1, 0x90])
    }

    @Test func sessionControlAndHardReset() {
        let h = ModuleHarness()
        #expect(h.request([0x10, 0x03]).first?.data == [0x06, 0x50, 0x03, 0x00, 0x32, 0x01, 0xF4, 0xCC])
        #expect(h.request([0x11, 0x01]).first?.data.prefix(3) == [0x02, 0x51, 0x01])
        #expect(h.module.restartRequested)
    }

    @Test func securityAccessWithPlantKey() {
        let h = ModuleHarness()
        _ = h.request([0x10, 0x03])
        let seedFrames = h.request([0x27, 0x01])
        #expect(seedFrames.first?.data.prefix(4) == [0x10, 18, 0x67, 0x01])
        let mark = h.sent.count
        h.receive(CANFrame(id: 0x7A0, data: [0x30, 0, 0, 0, 0, 0, 0, 0]))
        var seed = Array(seedFrames[0].data[4...])
        for frame in h.frames(on: 0x7A8, from: mark) { seed += frame.data[1...] }
        seed = Array(seed.prefix(16))
        let key = SecurityAccessKey.compute(seed: seed, plantKey: ECUConfiguration.defaultPlantKey)
        let sendKey: [UInt8] = [0x27, 0x02] + key
        let markKey = h.sent.count
        h.receive(CANFrame(id: 0x7A0, data: [0x10, UInt8(sendKey.count)] + sendKey.prefix(6)))
        h.receive(CANFrame(id: 0x7A0, data: [0x21] + sendKey[6..<13]))
        h.receive(CANFrame(id: 0x7A0, data: [0x22] + sendKey[13...] + [0xCC, 0xCC]))
        #expect(h.frames(on: 0x7A8, from: markKey).last?.data.prefix(3) == [0x02, 0x67, 0x02])
    }

    @Test func cmacMatchesRFC4493() {
        // RFC 4493, example 2 (16-byte message).
        let key = [UInt8](hex: "2b7e151628aed2a6abf7158809cf4f3c")!
        let message = [UInt8](hex: "6bc1bee22e409f96e93d7e117393172a")!
        #expect(SecurityAccessKey.compute(seed: message, plantKey: key) == [UInt8](hex: "070a16b46b4d4144f79bdd9dd04a287c")!)
    }
}
