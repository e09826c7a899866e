import APDU
import CloudProtocol
import Crypto
import E2E
import Foundation
import ISOTP
import OwnerPairing
import PhoneSimulator
import SpaakCore
import Testing

/// One bus under a virtual clock: the `PhoneRun` (reader and phone) on one side; on the other
/// the module's parts (`NFCStatusSupervisor`, an ISO-TP channel 0x6B0/0x6B8,
/// `OwnerPairingMachine`, `SPAAK_Status` every 100 ms with bytes 2 (verifier flag), 6 and 7),
/// store work done at once. `derivationTime` is how long the phone's scrypt worker takes;
/// `statusLag` delays what `SPAAK_Status` shows of the failed attempts and the verifier (a
/// loaded machine's store commit and bus).
final class SimulatedBus {
    let vehicle: TestVehicle
    let clock = VirtualClock()
    var phone: PhoneRun
    var machine: OwnerPairingMachine
    var supervisor = NFCStatusSupervisor()
    var channel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6B0, rxID: 0x6B8))
    var statusSchedule = CyclicSchedule(period: .milliseconds(100), first: .milliseconds(50))
    var statusCounter: UInt8 = 0
    var attemptsFailed = 0
    var verifierPresent = true
    var result: PhoneRunResult?
    var log: [String] = []
    var saved: [[UInt8]] = []
    var nfcFrames: [(Instant, CANFrame)] = []
    var commandsSent: [UInt8] = []
    var responses: [(Instant, [UInt8])] = []
    var derivationTime: Duration = .zero
    var statusLag: Duration = .zero
    private var derivations: [(at: Instant, job: ScryptJob)] = []
    private var counts: [(at: Instant, attempts: Int, verifier: Bool)] = [(.zero, 0, true)]
    private var pending: [(toModule: Bool, frame: CANFrame)] = []

    init(vehicle: TestVehicle, device: PhoneDevice, plan: PhoneRunPlan, windowOpen: Bool = true) {
        self.vehicle = vehicle
        phone = PhoneRun(plan: plan, device: device, now: .zero)
        machine = OwnerPairingMachine(facts: OwnerPairingFacts(
            ownerKey: .absent, conditions: OwnerPairingConditions(plantLocked: true, vehicleCertificateInstalled: true)))
        if windowOpen { module(machine.handle(.windowRequested(.headUnit), now: .zero)) }
    }

    /// Runs until the phone finishes or `limit` passes on the virtual clock.
    func run(limit: Duration = .seconds(120)) {
        phoneActions(phone.handleTimeout(now: clock.now))
        pump()
        while result == nil, clock.now < Instant.zero + limit {
            let deadlines = [phone.nextDeadline, channel.nextDeadline, supervisor.nextDeadline, machine.nextDeadline,
                             statusSchedule.nextDeadline, derivations.map(\.at).min()].compactMap { $0 }
            guard let next = deadlines.min() else { break }
            clock.advance(to: next)
            let now = clock.now
            while let index = derivations.firstIndex(where: { $0.at <= now }) {
                let job = derivations.remove(at: index).job
                phoneActions(phone.derived(job, job.run(), now: now))
            }
            phoneActions(phone.handleTimeout(now: now))
            moduleISOTP(channel.handleTimeout(now: now))
            for transition in supervisor.handleTimeout(now: now) { nfc(transition) }
            module(machine.handleTimeout(now: now))
            if statusSchedule.fire(now: now) {
                let shown = counts.last { $0.at + statusLag <= now } ?? counts[0]
                let signals: [UInt8] = [shown.verifier ? 0x40 : 0, 0, 0, 0, UInt8(shown.attempts), machine.state.rawValue]
                pending.append((false, CANFrame(id: 0x3A8, data: E2EProfile.protect(dataID: 0x3A8, counter: statusCounter, signals: signals))))
                statusCounter = E2EProfile.nextCounter(after: statusCounter)
            }
            pump()
        }
    }

    private func pump() {
        while !pending.isEmpty {
            let (toModule, frame) = pending.removeFirst()
            let now = clock.now
            if toModule {
                if frame.id == 0x3B0 {
                    nfcFrames.append((now, frame))
                    for transition in supervisor.receive(frame, now: now) { nfc(transition) }
                } else {
                    moduleISOTP(channel.handle(frame, now: now))
                }
            } else {
                phoneActions(phone.handle(frame, now: now, date: Date()))
            }
        }
    }

    private func phoneActions(_ actions: [PhoneRunAction]) {
        for action in actions {
            switch action {
            case .transmit(let frame): pending.append((true, frame))
            case .log(let line): log.append("\(clock.now) \(line)")
            case .saveVehicleCertificate(let der): saved.append(der)
            case .derive(let job): derivations.append((clock.now + derivationTime, job))
            case .finished(let outcome): result = outcome
            }
        }
        phone.framesTransmitted(now: clock.now)
    }

    private func nfc(_ transition: NFCStatusSupervisor.Transition) {
        switch transition {
        case .sessionStarted: module(machine.handle(.sessionStarted, now: clock.now))
        case .sessionEnded(let reason): module(machine.handle(.sessionEnded(reason: "\(reason)"), now: clock.now))
        }
    }

    private func moduleISOTP(_ outputs: [ISOTPOutput]) {
        for output in outputs {
            switch output {
            case .transmit(let frame): pending.append((false, frame))
            case .received(let bytes):
                responses.append((clock.now, bytes))
                module(machine.handle(.response(bytes), now: clock.now))
            case .transmitCompleted, .failed: break
            }
        }
        channel.transmissionConfirmed(now: clock.now)
    }

    private func module(_ actions: [OwnerPairingAction]) {
        for action in actions {
            switch action {
            case .sendAPDU(let bytes):
                commandsSent.append(bytes[1])
                moduleISOTP(channel.send(bytes, now: clock.now))
            case .perform(let task):
                module(machine.handle(.taskCompleted(result(of: task)), now: clock.now))
            case .attemptFailed:
                attemptsFailed += 1
                counts.append((clock.now, attemptsFailed, verifierPresent))
            case .verifierConsumed:
                verifierPresent = false
                attemptsFailed = 0
                counts.append((clock.now, attemptsFailed, verifierPresent))
            case .log(_, let line):
                log.append("\(clock.now) module: \(line)")
            case .report, .verifierMissing:
                break
            }
        }
    }

    private func result(of task: OwnerPairingTask) -> OwnerPairingTaskResult {
        switch task {
        case .loadMaterial:
            guard verifierPresent else { return .materialLoaded(nil) }
            return .materialLoaded(PairingMaterial(verifier: vehicle.record, vin: TestVehicle.vin,
                                                   vehicleCertificate: vehicle.vehicleCertificate, subCACertificate: vehicle.subCA))
        case .storePendingOwnerKey: return .pendingOwnerKeyStored(success: true)
        case .activateOwnerKey: return .ownerKeyActivated(success: true)
        case .deletePendingOwnerKey: return .pendingOwnerKeyDeleted(success: true)
        case .signWithVehicleKey(let message):
            return .signed(try? Array(vehicle.vehicleKey.signature(for: message).derRepresentation))
        }
    }
}

@Suite("The reader and the phone on a simulated bus (virtual clock)")
struct PhoneRunTests {
    @Test("pair: phase 2 in a first tap, phase 3 in a second, confirmed by SPAAK_Status byte 7; [K] kept")
    func pairsInTwoTaps() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two, .three]))
        bus.run()
        #expect(bus.result == .paired([.two, .three]), "\(bus.log.joined(separator: "\n"))")
        #expect(bus.machine.state == .ownerKeyActive)
        #expect(bus.phone.taps == 2)
        #expect(bus.saved == [vehicle.vehicleCertificate])
        #expect(bus.attemptsFailed == 0)
        #expect(bus.supervisor.counters.discardedCRC == 0 && bus.supervisor.counters.lost == 0)
        // NFC_Status every 100 ms, on the grid, until the end.
        let times = bus.nfcFrames.map(\.0.nanoseconds)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 100_000_000 })
        // The phone is away between the taps for the gap (1.5 s): at least 14 frames without DevicePresent.
        let present = bus.nfcFrames.map { NFCStatusSignals(frameData: $0.1.data)!.devicePresent }
        let runs = present.split(separator: true).map(\.count)
        #expect(runs.count == 3)
        #expect(runs[0] >= 4 && runs[1] >= 14 && runs[2] >= 2)
    }

    @Test("--phase 2 only: one tap, the key stays pending")
    func phaseTwoOnly() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two]))
        bus.run()
        #expect(bus.result == .paired([.two]))
        #expect(bus.machine.state == .ownerKeyPending)
        #expect(bus.phone.taps == 1)
    }

    @Test("wrong password, 3 attempts: three taps, each VERIFY answered 69 82, three failed attempts counted")
    func wrongPasswordAttempts() throws {
        let vehicle = try TestVehicle()
        let device = try vehicle.phone(password: PasswordSecrets.wrongPassword(for: TestVehicle.password))
        let bus = SimulatedBus(vehicle: vehicle, device: device, plan: PhoneRunPlan(phases: [.two, .three], attempts: 3))
        bus.run()
        guard case .failed(let reason)? = bus.result else {
            Issue.record("not failed: \(String(describing: bus.result))")
            return
        }
        #expect(reason.contains("69 82"))
        #expect(bus.phone.taps == 3)
        #expect(bus.attemptsFailed == 3)
        #expect(bus.machine.state == .windowOpen)
        #expect(bus.commandsSent.filter { $0 == PairingCommand.Instruction.writeData }.isEmpty)
    }

    @Test("--remove-after verify: the phone leaves, WRITE DATA finds no device, the module counts a failed attempt")
    func removeAfterVerify() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(),
                               plan: PhoneRunPlan(phases: [.two], removeAfter: .verify))
        bus.run()
        guard case .failed(let reason)? = bus.result else {
            Issue.record("not failed")
            return
        }
        #expect(reason.contains("left the field after verify"))
        #expect(bus.attemptsFailed == 1)
        #expect(bus.machine.state == .windowOpen)
        #expect(bus.log.contains { $0.contains("while the field is empty") })
    }

    @Test("--remove-after get-data: the answer is on the bus before the phone leaves; the module still commits")
    func removeAfterLastStep() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two], removeAfter: .getData))
        bus.run()
        #expect(bus.result == .paired([.two]))
        #expect(bus.machine.state == .ownerKeyPending)
    }

    @Test("--remove-before: leaving at SELECT is no attempt (step 2 never went out), at SPAKE2+ REQUEST it is one",
          arguments: [(PairingStep.select, 0), (.spake2Request, 1)])
    func removeBefore(step: PairingStep, attempts: Int) throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two], removeBefore: step))
        bus.run()
        guard case .failed(let reason)? = bus.result else {
            Issue.record("not failed")
            return
        }
        #expect(reason.contains("before answering \(step)"))
        #expect(bus.attemptsFailed == attempts)
        #expect(bus.machine.state == .windowOpen)
        #expect(bus.log.contains { $0.contains("without answering") })
    }

    @Test("no pairing window: no SELECT comes; the run fails after the timeout and says why")
    func noWindow() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two], timeout: .seconds(2)),
                               windowOpen: false)
        bus.run()
        guard case .failed(let reason)? = bus.result else {
            Issue.record("not failed")
            return
        }
        #expect(reason.contains("no SELECT"))
        #expect(reason.contains("no pairing window"))
        #expect(bus.clock.now < .milliseconds(4_000))
    }

    @Test("--phase 3 with [K] from an earlier run against a pending key: AUTH0/AUTH1, the key becomes active")
    func phaseThreeOnly() throws {
        let vehicle = try TestVehicle()
        let first = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two]))
        first.run()
        #expect(first.result == .paired([.two]))
        // The same phone (same endpoint key, [K] kept) comes back in the same window.
        let device = first.phone.device
        let later = SimulatedBus(vehicle: vehicle, device: device, plan: PhoneRunPlan(phases: [.three]))
        later.machine = first.machine
        later.run()
        #expect(later.result == .paired([.three]), "\(later.log.joined(separator: "\n"))")
        #expect(later.machine.state == .ownerKeyActive)
        #expect(later.commandsSent == [PairingCommand.Instruction.select, PairingCommand.Instruction.auth0, PairingCommand.Instruction.auth1])
    }

    @Test("scrypt taking 3 s runs off the machine: NFC_Status keeps its 100 ms cycle, the session stays open, SPAKE2+ REQUEST is answered after 3 s")
    func slowDerivationKeepsTheSession() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two, .three]))
        bus.derivationTime = .seconds(3)
        bus.run()
        #expect(bus.result == .paired([.two, .three]), "\(bus.log.joined(separator: "\n"))")
        #expect(bus.phone.taps == 2)
        #expect(bus.attemptsFailed == 0)
        #expect(bus.log.contains { $0.contains("scrypt N=4096 r=8 p=1 took 3.000 s (the module allows 5.000 s)") })
        // The supervisor never saw a gap: one session per tap, NFC_Status every 100 ms throughout.
        let times = bus.nfcFrames.map(\.0.nanoseconds)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 100_000_000 })
        // shareP (tag 50) reached the module after the 3 s of scrypt, DevicePresent all along.
        let shareAt = try #require(bus.responses.first { $0.1.first == 0x50 }?.0)
        #expect(shareAt >= .milliseconds(3_500))
        let present = bus.nfcFrames.filter { $0.0 <= shareAt && $0.0 + .seconds(3) >= shareAt }
            .map { NFCStatusSignals(frameData: $0.1.data)!.devicePresent }
        #expect(present.count >= 30 && present.allSatisfy { $0 })
    }

    @Test("scrypt taking 6 s: the module fails the session at 5 s (a counted attempt), the phone says why; the result is kept and the next tap pairs")
    func derivationOverTheModuleLimit() throws {
        let vehicle = try TestVehicle()
        let bus = SimulatedBus(vehicle: vehicle, device: try vehicle.phone(), plan: PhoneRunPlan(phases: [.two], attempts: 2))
        bus.derivationTime = .seconds(6)
        bus.run()
        #expect(bus.result == .paired([.two]), "\(bus.log.joined(separator: "\n"))")
        #expect(bus.phone.taps == 2)
        #expect(bus.log.contains { $0.contains("scrypt N=4096 r=8 p=1 took 6.000 s, the module allows 5.000 s") })
        #expect(bus.log.contains { $0.contains("the module counted a failed attempt (now 1)") })
        #expect(bus.log.contains { $0.contains("w0/w1 kept for the next tap") })
        #expect(bus.log.contains { $0.contains("w0/w1 from the cache") })
        #expect(bus.phone.device.configuration.password?.derivations == 1)
        #expect(bus.machine.state == .ownerKeyPending)
    }

    @Test("a failed attempt that byte 6 shows 2.5 s late is not put on the next tap: the phone waits for the count, then taps")
    func lateCountIsNotBlamedOnTheNextTap() throws {
        let vehicle = try TestVehicle()
        let device = try vehicle.phone(password: PasswordSecrets.wrongPassword(for: TestVehicle.password))
        let bus = SimulatedBus(vehicle: vehicle, device: device, plan: PhoneRunPlan(phases: [.two], attempts: 3))
        bus.statusLag = .milliseconds(2500)
        bus.run()
        guard case .failed(let reason)? = bus.result else {
            Issue.record("not failed: \(String(describing: bus.result))")
            return
        }
        #expect(reason.contains("69 82"), "\(bus.log.joined(separator: "\n"))")
        #expect(bus.phone.taps == 3)
        #expect(bus.attemptsFailed == 3)
        // Every tap got as far as VERIFY: none was given up after SELECT.
        #expect(bus.commandsSent.filter { $0 == PairingCommand.Instruction.spake2Verify }.count == 3)
        #expect(!bus.log.contains { $0.contains("the module counted a failed attempt") })
        #expect(bus.log.filter { $0.contains("waiting up to") }.count == 3)
        #expect(bus.log.filter { $0.contains("the failed attempt of the last session is counted") }.count == 3)
        #expect(bus.phone.module?.failedAttempts == 3)
    }

    @Test("the count never comes: the phone taps after its timeout and still puts the late rise on the earlier session")
    func countThatNeverComes() throws {
        let vehicle = try TestVehicle()
        let device = try vehicle.phone(password: PasswordSecrets.wrongPassword(for: TestVehicle.password))
        let bus = SimulatedBus(vehicle: vehicle, device: device, plan: PhoneRunPlan(phases: [.two], attempts: 2, timeout: .seconds(2)))
        bus.statusLag = .seconds(4)
        bus.run()
        guard case .failed(let reason)? = bus.result else {
            Issue.record("not failed: \(String(describing: bus.result))")
            return
        }
        #expect(reason.contains("69 82"), "\(bus.log.joined(separator: "\n"))")
        #expect(bus.phone.taps == 2)
        #expect(bus.commandsSent.filter { $0 == PairingCommand.Instruction.spake2Verify }.count == 2)
        #expect(bus.log.contains { $0.contains("still shows 0 after") })
        #expect(!bus.log.contains { $0.contains("the module counted a failed attempt") })
    }
}
