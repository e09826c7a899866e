import E2E
import SpaakCore
import Testing

@Suite("SPAAK_Status signals and transmitter (ICD 3)")
struct SpaakStatusTransmitterTests {
    @Test("Signal layout of bytes 2...7")
    func signalLayout() {
        let signals = SpaakStatusSignals(
            provisioningFlags: [.allRootCertificatesInstalled, .plantLocked, .tbmOnline],
            activeUseCase: .pp01, useCaseStep: 19, lastErrorCode: 6, failedPairingAttempts: 7)
        #expect(signals.signalBytes == [0x89, 0x03, 0x13, 0x06, 0x07, 0x00])
        #expect(SpaakProvisioningFlags.ecuIdentityKeyAndCSRPresent.rawValue == 0x02)
        #expect(SpaakProvisioningFlags.ecuIdentityCertificateInstalled.rawValue == 0x04)
        #expect(SpaakProvisioningFlags.drmUUIDPresent.rawValue == 0x10)
        #expect(SpaakProvisioningFlags.vehicleIdentityCertificateInstalled.rawValue == 0x20)
        #expect(SpaakProvisioningFlags.spake2PlusVerifierPresent.rawValue == 0x40)
        #expect([nil as UseCase?] + UseCase.statusUseCases.map { $0 } == [nil, .rp01, .rp02, .pp01, .pp02, .pp03, .sp02])
        #expect(([nil] + UseCase.allCases).map { SpaakStatusSignals(activeUseCase: $0).signalBytes[1] } == [0, 1, 2, 3, 4, 5, 6, 0])
        let frame = [UInt8](hex: "00 00 89 03 13 06 07 00") ?? []
        #expect(SpaakStatusSignals(frameData: frame) == signals)
        #expect(SpaakStatusSignals(frameData: Array(frame.prefix(6))) == nil)
        #expect(SpaakStatusSignals(frameData: [0, 0, 0, 7, 0, 0, 0, 0]) == nil)
    }

    @Test("Frames every 100 ms from start, counter 0...14 wrapping, CRC with data id 0x3A8")
    func cyclicFrames() {
        let clock = VirtualClock(start: .milliseconds(250))
        var tx = SpaakStatusTransmitter(signals: SpaakStatusSignals(activeUseCase: .rp01, useCaseStep: 2), start: clock.now)
        #expect(tx.nextDeadline == .milliseconds(250))
        var sent: [(Instant, CANFrame)] = []
        for _ in 0..<2_000 {  // 1 ms steps for 2 s
            for frame in tx.handleTimeout(now: clock.now) { sent.append((clock.now, frame)) }
            clock.advance(by: .milliseconds(1))
        }
        #expect(sent.count == 20)
        #expect(sent.map(\.0) == (0..<20).map { Instant.milliseconds(250 + UInt64($0) * 100) })
        #expect(sent.map { $0.1.data[1] } == (0..<20).map { UInt8($0 % 15) })
        for (_, frame) in sent {
            #expect(frame.id == 0x3A8)
            #expect(frame.data.count == 8)
            #expect(Array(frame.data[2...]) == [0x00, 0x01, 0x02, 0x00, 0x00, 0x00])
            #expect(E2EProfile.check(dataID: 0x03A8, data: frame.data, previousCounter: nil) == .ok)
        }
        #expect(sent[0].1.description == "3A8#\(sent[0].1.data.hexString)")
        #expect(tx.framesSent == 20)
        #expect(tx.missedSlots == 0)
    }

    @Test("Not due before the deadline: nothing")
    func notDue() {
        var tx = SpaakStatusTransmitter(start: .milliseconds(100))
        #expect(tx.handleTimeout(now: .milliseconds(99)).isEmpty)
        #expect(tx.handleTimeout(now: .milliseconds(100)).count == 1)
        #expect(tx.handleTimeout(now: .milliseconds(100)).isEmpty)
        #expect(tx.handleTimeout(now: .milliseconds(199)).isEmpty)
        #expect(tx.nextDeadline == .milliseconds(200))
    }

    @Test("Late by several periods: one frame, next deadline on the period grid (no burst)")
    func noBurst() {
        var tx = SpaakStatusTransmitter(start: .zero)
        #expect(tx.handleTimeout(now: .zero).count == 1)
        let late = tx.handleTimeout(now: .milliseconds(437))  // slots 100, 200, 300, 400 due
        #expect(late.count == 1)
        #expect(late.first?.data[1] == 1)  // counter continues, no gap
        #expect(tx.nextDeadline == .milliseconds(500))
        #expect(tx.missedSlots == 3)
        #expect(tx.handleTimeout(now: .milliseconds(499)).isEmpty)
        #expect(tx.handleTimeout(now: .milliseconds(500)).first?.data[1] == 2)
        // Exactly on a grid point after being late: that point counts as sent.
        #expect(tx.handleTimeout(now: .milliseconds(800)).count == 1)
        #expect(tx.nextDeadline == .milliseconds(900))
        #expect(tx.missedSlots == 5)
    }

    @Test("Signal updates appear in the next frame; id and period are configurable")
    func configurable() {
        var tx = SpaakStatusTransmitter(configuration: .init(canID: 0x3B8, period: .milliseconds(20)), start: .zero)
        #expect(tx.handleTimeout(now: .zero).first?.data[2] == 0)
        tx.signals.provisioningFlags.insert(.tbmOnline)
        tx.signals.lastErrorCode = 9
        let frame = tx.handleTimeout(now: .milliseconds(20)).first
        #expect(frame?.id == 0x3B8)
        #expect(frame?.data[2] == 0x80)
        #expect(frame?.data[5] == 9)
        #expect(E2EProfile.check(dataID: 0x3B8, data: frame?.data ?? [], previousCounter: 0) == .ok)
        #expect(tx.nextDeadline == .milliseconds(40))
    }

    @Test("A zero period does not hang or divide by zero")
    func zeroPeriod() {
        var schedule = CyclicSchedule(period: .zero, first: .zero)
        let fired = schedule.fire(now: .milliseconds(1))
        #expect(fired)
        #expect(schedule.nextDeadline > .milliseconds(1))
    }
}
