import APDU
import CloudProtocol
import Crypto
import OwnerPairing
import SPAKE2Plus
import SpaakCore

/// Drives an `OwnerPairingMachine` under a virtual clock against a `TestDevice`, playing the
/// store in memory. Every action is recorded in order.
final class PairingHarness {
    static let vin = Array("VF3ABCDEF12345678".utf8)
    static let password = Array("0123456789012".utf8)
    static let salt: [UInt8] = Array(0..<16)
    nonisolated(unsafe) static let secrets = try! SpakeVerifierDerivation.derive(password: password, salt: salt, n: 1024, r: 8, p: 1)
    nonisolated(unsafe) static let record = try! SpakeVerifierRecord(salt: salt, n: 1024, r: 8, p: 1, w0: secrets.w0, l: secrets.l)

    let clock = VirtualClock(start: .milliseconds(100_000))
    var machine: OwnerPairingMachine
    var device: TestDevice
    let vehicleKey = P256.Signing.PrivateKey()
    var verifierPresent = true
    var storeFails = false
    /// Every action, in order.
    var actions: [OwnerPairingAction] = []
    /// The commands sent, by instruction byte.
    var commandsSent: [UInt8] = []
    /// Whether the device answers (false: the module's timeout decides).
    var deviceAnswers = true
    /// The device leaves right after the command with this instruction.
    var removeAfter: UInt8?
    var storedKey: OwnerKey?

    init(facts: OwnerPairingFacts = OwnerPairingFacts(
            ownerKey: .absent, conditions: OwnerPairingConditions(plantLocked: true, vehicleCertificateInstalled: true)),
         deviceSecrets: SpakeVerifierSecrets = PairingHarness.secrets) {
        machine = OwnerPairingMachine(facts: facts, random: SplitMix64(seed: 7))
        device = TestDevice(secrets: deviceSecrets)
    }

    var material: PairingMaterial {
        PairingMaterial(verifier: Self.record, vin: Self.vin, vehicleCertificate: [0x30, 0x01, 0x01],
                        subCACertificate: [0x30, 0x01, 0x02])
    }

    var attemptsFailed: Int { actions.filter { if case .attemptFailed = $0 { return true } else { return false } }.count }
    var reports: [OwnerPairingStatusReport] { actions.compactMap { if case .report(let r) = $0 { return r } else { return nil } } }
    func performed(_ task: OwnerPairingTask) -> Bool { actions.contains(.perform(task)) }
    func contains(_ action: OwnerPairingAction) -> Bool { actions.contains(action) }

    func input(_ input: OwnerPairingInput) {
        run(machine.handle(input, now: clock.now))
    }

    func advance(_ duration: Duration) {
        let end = clock.now + duration
        while let deadline = machine.nextDeadline, deadline <= end {
            clock.advance(to: max(deadline, clock.now))
            run(machine.handleTimeout(now: clock.now))
        }
        clock.advance(to: end)
        run(machine.handleTimeout(now: clock.now))
    }

    func tap() { input(.sessionStarted) }
    func remove() { input(.sessionEnded(reason: "device removed")) }

    private func run(_ new: [OwnerPairingAction]) {
        for action in new {
            actions.append(action)
            switch action {
            case .sendAPDU(let bytes):
                commandsSent.append(bytes[1])
                if removeAfter == bytes[1] {
                    removeAfter = nil
                    remove()
                    continue
                }
                guard deviceAnswers else { continue }
                let answer = (try? device.respond(to: bytes)) ?? ResponseAPDU(status: .wrongData).bytes
                input(.response(answer))
            case .perform(let task):
                input(.taskCompleted(result(of: task)))
            case .attemptFailed, .verifierMissing, .verifierConsumed, .report, .log:
                break
            }
        }
    }

    private func result(of task: OwnerPairingTask) -> OwnerPairingTaskResult {
        switch task {
        case .loadMaterial:
            return .materialLoaded(verifierPresent ? material : nil)
        case .storePendingOwnerKey(let key):
            if !storeFails { storedKey = key; verifierPresent = false }
            return .pendingOwnerKeyStored(success: !storeFails)
        case .activateOwnerKey(let key):
            if !storeFails { storedKey = key }
            return .ownerKeyActivated(success: !storeFails)
        case .deletePendingOwnerKey:
            if storedKey?.isActive == false { storedKey = nil }
            return .pendingOwnerKeyDeleted(success: true)
        case .signWithVehicleKey(let message):
            return .signed(storeFails ? nil : Array(try! vehicleKey.signature(for: message).derRepresentation))
        }
    }
}
