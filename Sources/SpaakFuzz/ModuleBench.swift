import Foundation
import ISOTP
import Logging
import SecureStore
import SpaakCore
import SpaakECU
import SwiftASN1
import TestPKI
import UDS
import X509

/// A `SpaakModule` on a virtual clock with an in-memory CAN bus and a UDS tester, built on
/// the public API only: used by the `module` fuzz target and by the crash soak (`spaak-soak`).
public final class ModuleBench {
    /// The wall-clock date the module sees (certificates are checked against it).
    public static let wallTime = Date(timeIntervalSince1970: 1_800_000_000)
    /// The module's serial.
    public static let serial = "SPK0000000001"
    /// The VIN written during plant provisioning.
    public static let vin = Array("ZFA25000001234567".utf8)

    /// The virtual clock.
    public let clock = VirtualClock(start: .milliseconds(1_000))
    /// The store the module runs on.
    public let store: any SecureStore
    /// The module configuration.
    public let configuration: ECUConfiguration
    /// The module.
    public private(set) var module: SpaakModule
    /// Frames the module sent, in order (the caller may clear it).
    public var sent: [CANFrame] = []

    /// Starts a module on `store` and runs its first loop turn.
    public init(store: any SecureStore, configuration: ECUConfiguration = ECUConfiguration(serial: ModuleBench.serial),
                logger: Logger = ModuleBench.silentLogger) {
        self.store = store
        self.configuration = configuration
        let counter = SeedCounter()
        module = SpaakModule(configuration: configuration, store: store, now: clock.now, wallClock: { ModuleBench.wallTime },
                             logger: logger, seedSource: { counter.next() })
        sent += module.handleTimeout(now: clock.now)
    }

    /// A logger that drops everything (fuzzing must not spend its time logging).
    public static let silentLogger = Logger(label: "spaak.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Delivers a frame to the module.
    public func receive(_ frame: CANFrame) -> [CANFrame] {
        let out = module.handle(frame, now: clock.now)
        sent += out
        return out
    }

    /// Runs the module's timers up to `duration` from now.
    public func advance(by duration: Duration) {
        let end = clock.now + duration
        while let deadline = module.nextDeadline, deadline <= end {
            clock.advance(to: max(deadline, clock.now))
            sent += module.handleTimeout(now: clock.now)
        }
        clock.advance(to: end)
    }

    /// Sends one UDS request over ISO-TP (physical addressing) and returns every response,
    /// waiting through NRC 0x78 up to `limit` of virtual time. `onFrame` sees every frame
    /// the module sends meanwhile (for example V2C frames for a cloud simulator).
    public func exchange(_ request: [UInt8], limit: Duration = .seconds(30),
                         onFrame: ([CANFrame]) -> Void = { _ in }) -> [[UInt8]] {
        var tester = ISOTPChannel(configuration: ISOTPConfiguration(txID: configuration.ids.udsRequest,
                                                                    rxID: configuration.ids.udsResponse))
        var responses: [[UInt8]] = []
        var pending = tester.send(request, now: clock.now)
        let end = clock.now + limit
        func done() -> Bool {
            guard let last = responses.last else { return false }
            return NegativeResponse(bytes: last)?.code != .responsePending
        }
        func fromModule(_ frames: [CANFrame]) {
            sent += frames
            onFrame(frames)
            for frame in frames where frame.id == configuration.ids.udsResponse {
                for output in tester.handle(frame, now: clock.now) {
                    if case .received(let response) = output { responses.append(response) } else { pending.append(output) }
                }
            }
        }
        while true {
            var frames: [CANFrame] = []
            for output in pending {
                if case .transmit(let frame) = output { frames += module.handle(frame, now: clock.now) }
            }
            pending = []
            fromModule(frames)
            if done() { return responses }
            if !pending.isEmpty { continue }
            let next = [module.nextDeadline, tester.nextDeadline].compactMap { $0 }.min()
            guard let deadline = next, deadline <= end else { return responses }
            clock.advance(to: max(deadline, clock.now))
            let timed = module.handleTimeout(now: clock.now)
            pending = tester.handleTimeout(now: clock.now)
            fromModule(timed)
            if done() { return responses }
        }
    }

    /// The final response to `request` (empty if none).
    @discardableResult
    public func uds(_ request: [UInt8], onFrame: ([CANFrame]) -> Void = { _ in }) -> [UInt8] {
        exchange(request, onFrame: onFrame).last ?? []
    }

    /// Extended session and security access with the configured plant key.
    public func unlock(onFrame: ([CANFrame]) -> Void = { _ in }) {
        uds([0x10, 0x03], onFrame: onFrame)
        let seed = uds([0x27, 0x01], onFrame: onFrame)
        let key = SecurityAccessKey.compute(seed: Array(seed.dropFirst(2)), plantKey: configuration.plantKey)
        uds([0x27, 0x02] + key, onFrame: onFrame)
    }

    /// The plant provisioning steps of ICD 5 in order, each a UDS request; `issue` turns the
    /// CSR read from DID 0xD100 into the ECU identity certificate.
    public static func plantSteps(pki: TestPKIHierarchy) -> [PlantStep] {
        let roots: [(UInt16, TestPKIRole)] = [(0xD110, .j), (0xD111, .j1), (0xD112, .jPhysicalKey), (0xD113, .z1), (0xD114, .zz2)]
        var steps = roots.map { did, role in PlantStep.write(did, pki[role].der) }
        steps.append(.write(0xF190, vin))
        steps.append(.routine(0xD200))
        steps.append(.issueECUCertificate)
        steps.append(.routine(0xD201))
        return steps
    }

    /// Runs one plant step (the module must be unlocked); returns the final response.
    @discardableResult
    public func run(_ step: PlantStep, pki: TestPKIHierarchy, onFrame: ([CANFrame]) -> Void = { _ in }) -> [UInt8] {
        switch step {
        case .write(let did, let data):
            return uds([0x2E, UInt8(did >> 8), UInt8(did & 0xFF)] + data, onFrame: onFrame)
        case .routine(let rid):
            return uds([0x31, 0x01, UInt8(rid >> 8), UInt8(rid & 0xFF)], onFrame: onFrame)
        case .issueECUCertificate:
            let csr = uds([0x22, 0xD1, 0x00], onFrame: onFrame)
            guard csr.count > 3, let request = try? CertificateSigningRequest(derEncoded: Array(csr.dropFirst(3))),
                  let certificate = try? pki.issueECUIdentityCertificate(csr: request, now: ModuleBench.wallTime)
            else { return csr }
            var serializer = DER.Serializer()
            guard (try? serializer.serialize(certificate)) != nil else { return [] }
            return uds([0x2E, 0xD1, 0x01] + serializer.serializedBytes, onFrame: onFrame)
        }
    }
}

/// One step of plant provisioning over UDS.
public enum PlantStep: Sendable, Hashable {
    /// WriteDataByIdentifier.
    case write(UInt16, [UInt8])
    /// RoutineControl startRoutine.
    case routine(UInt16)
    /// Read the CSR (0xD100), issue the certificate with the test PKI, write it (0xD101).
    case issueECUCertificate
}

/// Deterministic seeds for security access (1, 2, 3, … repeated).
final class SeedCounter: @unchecked Sendable {
    private var value: UInt8 = 0
    func next() -> [UInt8] {
        value &+= 1
        return Array(repeating: value, count: 16)
    }
}
