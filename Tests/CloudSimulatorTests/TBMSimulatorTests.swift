import CloudSimulator
import E2E
import ISOTP
import SpaakCore
import Testing

@Suite("TBM simulator: TBM_Status and the ISO-TP bridge")
struct TBMSimulatorTests {
    func frames(_ outputs: [TBMOutput]) -> [CANFrame] {
        outputs.compactMap { if case .transmit(let frame) = $0 { return frame } else { return nil } }
    }

    @Test("TBM_Status every 100 ms with the ICD example bytes, on the grid")
    func statusCycle() {
        var tbm = TBMSimulator(now: .zero)
        #expect(tbm.nextDeadline == .zero)
        #expect(frames(tbm.handleTimeout(now: .zero)).map(\.description) == ["3A0#9B00030000000000"])
        #expect(tbm.nextDeadline == .milliseconds(100))
        #expect(frames(tbm.handleTimeout(now: .milliseconds(50))).isEmpty)
        #expect(frames(tbm.handleTimeout(now: .milliseconds(100))).map(\.description) == ["3A0#C601030000000000"])
        #expect(frames(tbm.handleTimeout(now: .milliseconds(205))).map(\.description) == ["3A0#2102030000000000"])
        #expect(tbm.nextDeadline == .milliseconds(300))
    }

    @Test("offline clears both bits, unsubscribed keeps GsdpConnected, silent sends nothing, online resumes at once")
    func linkStates() {
        var tbm = TBMSimulator(now: .zero)
        _ = tbm.handleTimeout(now: .zero)
        _ = tbm.setLinkState(.offline, now: .milliseconds(10))
        let offline = frames(tbm.handleTimeout(now: .milliseconds(100)))
        let data = offline.first?.data ?? []
        #expect(data.count == 8 && data[2] == 0x00)
        let check = E2EProfile.check(dataID: 0x3A0, data: data, previousCounter: 0)
        #expect(check.isNewData)
        _ = tbm.setLinkState(.unsubscribed, now: .milliseconds(110))
        #expect(frames(tbm.handleTimeout(now: .milliseconds(200))).first?.data[2] == 0x01)
        _ = tbm.setLinkState(.silent, now: .milliseconds(210))
        #expect(tbm.nextDeadline == nil)
        #expect(frames(tbm.handleTimeout(now: .milliseconds(900))).isEmpty)
        let back = frames(tbm.setLinkState(.online, now: .milliseconds(950)))
        #expect(back.first?.data[2] == 0x03)
        #expect(tbm.nextDeadline == .milliseconds(1050))
    }

    @Test("A multi-frame V2C message on 0x6A0 is reassembled (flow control on 0x6A8, padded 0xCC) and handed up")
    func receive() {
        var tbm = TBMSimulator(now: .zero)
        _ = tbm.handleTimeout(now: .zero)
        var module = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6A0, rxID: 0x6A8))
        let message = (0..<20).map { UInt8($0) }
        var toTBM = isotpFrames(module.send(message, now: .zero))
        var received: [[UInt8]] = []
        while !toTBM.isEmpty {
            let frame = toTBM.removeFirst()
            for output in tbm.handle(frame, now: .milliseconds(1)) {
                switch output {
                case .transmit(let fc):
                    #expect(fc.id == 0x6A8 && fc.data == [0x30, 0, 0, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC])
                    toTBM += isotpFrames(module.handle(fc, now: .milliseconds(1)))
                case .v2cMessage(let bytes): received.append(bytes)
                default: Issue.record("unexpected \(output)")
                }
            }
        }
        #expect(received == [message])
    }

    @Test("While offline a V2C message is discarded and a C2V message refused")
    func offlineDiscards() {
        var tbm = TBMSimulator(now: .zero, linkState: .offline)
        let outputs = tbm.handle(CANFrame(id: 0x6A0, data: [0x02, 0xAB, 0xCD, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC]), now: .zero)
        #expect(outputs.contains(.v2cDiscarded([0xAB, 0xCD], .offline)))
        #expect(tbm.send([1, 2, 3], now: .zero) == [.c2vNotSent([1, 2, 3], reason: "TBM offline")])
    }

    @Test("C2V messages go out one at a time, a delayed one not before its instant")
    func sendQueue() {
        var tbm = TBMSimulator(now: .zero, linkState: .online, period: .seconds(100))
        _ = tbm.handleTimeout(now: .zero)
        let delayed = tbm.send([9, 9], notBefore: .milliseconds(500), now: .zero)
        #expect(delayed.isEmpty)
        #expect(tbm.nextDeadline == .milliseconds(500))
        let now = tbm.send([1, 2], now: .milliseconds(1))
        #expect(frames(now).map(\.description) == ["6A8#020102CCCCCCCCCC"])
        #expect(now.contains(.c2vSent([1, 2])))
        let later = tbm.handleTimeout(now: .milliseconds(500))
        #expect(frames(later).map(\.description) == ["6A8#020909CCCCCCCCCC"])
        // A long message waits for flow control; the next one queues behind it.
        let long = tbm.send(Array(repeating: 7, count: 30), now: .milliseconds(600))
        #expect(frames(long).first?.data.prefix(2) == [0x10, 30])
        #expect(frames(tbm.send([5], now: .milliseconds(601))).isEmpty)
        let rest = tbm.handle(CANFrame(id: 0x6A0, data: [0x30, 0, 0]), now: .milliseconds(602))
        #expect(frames(rest).count == 5)  // 4 consecutive frames, then the single frame
        #expect(frames(rest).last?.description == "6A8#0105CCCCCCCCCCCC")
    }
}

/// The frames among an ISO-TP channel's outputs.
func isotpFrames(_ outputs: [ISOTPOutput]) -> [CANFrame] {
    outputs.compactMap { if case .transmit(let frame) = $0 { return frame } else { return nil } }
}
