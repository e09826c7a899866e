import APDU
import CloudProtocol
import Crypto
import Foundation
import OwnerPairing
import PhoneSimulator
import SpaakCore
import Testing

/// The module's own machine (`OwnerPairingMachine`) with its store work done in the test,
/// talking APDUs to a `PhoneDevice`.
struct ModuleDriver {
    let vehicle: TestVehicle
    var machine: OwnerPairingMachine
    var now = Instant.zero
    var attemptsFailed = 0
    var verifierPresent = true
    var reports: [OwnerPairingStatusReport] = []
    /// Every answer of the device, in order.
    var answers: [DeviceAnswer] = []

    init(vehicle: TestVehicle) {
        self.vehicle = vehicle
        machine = OwnerPairingMachine(facts: OwnerPairingFacts(
            ownerKey: .absent, conditions: OwnerPairingConditions(plantLocked: true, vehicleCertificateInstalled: true)))
    }

    mutating func input(_ input: OwnerPairingInput, device: inout PhoneDevice) {
        var queue = machine.handle(input, now: now)
        while !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case .sendAPDU(let bytes):
                let answer = device.respond(to: bytes, date: Date())
                answers.append(answer)
                now = now + .milliseconds(20)
                queue += machine.handle(.response(answer.response.bytes), now: now)
            case .perform(let task):
                queue += machine.handle(.taskCompleted(result(of: task)), now: now)
            case .attemptFailed:
                attemptsFailed += 1
            case .verifierConsumed:
                verifierPresent = false
                attemptsFailed = 0
            case .report(let report):
                reports.append(report)
            case .verifierMissing, .log:
                break
            }
        }
    }

    /// One tap: the session starts, runs to its end, and the device leaves.
    mutating func tap(_ device: inout PhoneDevice) {
        input(.sessionStarted, device: &device)
        device.leaveField()
        input(.sessionEnded(reason: "removed"), device: &device)
        now = now + .seconds(2)
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

@Suite("The phone against the module's OwnerPairingMachine")
struct PhoneAgainstModuleTests {
    @Test("two taps: phase 2 leaves the phone's key pending, phase 3 makes it active; 0x0D carries its key id")
    func pairs() throws {
        let vehicle = try TestVehicle()
        var device = try vehicle.phone()
        var module = ModuleDriver(vehicle: vehicle)
        module.input(.windowRequested(.headUnit), device: &device)
        module.tap(&device)
        #expect(module.answers.map(\.step) == [.select, .spake2Request, .verify, .writeData, .getData])
        #expect(module.answers.allSatisfy { $0.status == .success })
        #expect(module.machine.state == .ownerKeyPending)
        guard case .key(let pending) = module.machine.ownerKey else {
            Issue.record("no owner key")
            return
        }
        #expect(pending.publicKey == device.endpointPublicKey)
        #expect(pending.friendlyName == "Alice's phone")
        #expect(device.vehicleCertificate == vehicle.vehicleCertificate)

        module.answers = []
        module.tap(&device)
        #expect(module.answers.map(\.step) == [.select, .auth0, .auth1])
        #expect(module.machine.state == .ownerKeyActive)
        #expect(module.reports.last?.ownerKeyID == OwnerKeyID.bytes(of: device.endpointPublicKey))
        #expect(module.attemptsFailed == 0)
    }

    @Test("a wrong password: the phone answers VERIFY with 69 82 and the module counts one failed attempt per tap")
    func wrongPassword() throws {
        let vehicle = try TestVehicle()
        var device = try vehicle.phone(password: PasswordSecrets.wrongPassword(for: TestVehicle.password))
        var module = ModuleDriver(vehicle: vehicle)
        module.input(.windowRequested(.headUnit), device: &device)
        for _ in 0..<3 { module.tap(&device) }
        #expect(module.attemptsFailed == 3)
        #expect(module.answers.filter { $0.step == .verify }.map(\.status) == Array(repeating: .securityStatusNotSatisfied, count: 3))
        #expect(module.machine.state == .windowOpen)
    }

    @Test("a vehicle whose [K] the phone cannot trust: WRITE DATA 6A 80, a failed attempt, no owner key")
    func untrustedVehicle() throws {
        let vehicle = try TestVehicle()
        let stranger = try TestVehicle()
        var device = try vehicle.phone(trustedRoot: stranger.root)
        var module = ModuleDriver(vehicle: vehicle)
        module.input(.windowRequested(.headUnit), device: &device)
        module.tap(&device)
        #expect(module.answers.last?.step == .writeData)
        #expect(module.answers.last?.status == .wrongData)
        #expect(module.attemptsFailed == 1)
        #expect(module.machine.state == .windowOpen)
    }
}
