import CloudProtocol
import Crypto
import Foundation
import SpaakCore
import TestPKI
import X509

/// One C2V message the cloud wants on the bus.
public struct CloudTransmission: Sendable, Equatable {
    /// The encoded, signed message.
    public var bytes: [UInt8]
    /// How long to hold it back (a `delay` fault), `nil` for at once.
    public var delay: Duration?
    /// The `queued` event describing it (for the `delivered` event once on the bus).
    public var event: CloudEvent
}

/// A pairing password and its SPAKE2+ verifier record, made ahead of need.
public struct PreparedVerifier: Sendable, Equatable {
    /// The pairing password (decimal digits).
    public var password: String
    /// The record derived from it (tag 0x15).
    public var record: SpakeVerifierRecord

    /// Creates a prepared verifier.
    public init(password: String, record: SpakeVerifierRecord) {
        self.password = password
        self.record = record
    }
}

/// What one input to the VOS produced.
public struct VOSResult: Sendable, Equatable {
    /// Messages to send, in order.
    public var transmissions: [CloudTransmission] = []
    /// Trace events, in order.
    public var events: [CloudEvent] = []

    /// An empty result.
    public init() {}
}

/// A control command the VOS refused, with a sentence for the operator.
public struct VOSCommandError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sentence.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// The simulated Vehicle OEM Server (and the KTS): verifies V2C messages against the ECU
/// identity certificates registered from the plant's PKI and answers them (ICD 7), records
/// the owner pairing reports (ICD 8.5), pushes PP-02 verifiers, pairing mode requests and KTS
/// terminations on command, keeps its state in a `CloudRepository`.
///
/// A V2C message is handled in this order; the first failing check decides:
/// 1. well-formed (CloudProtocol's decoder) — else discarded, no answer;
/// 2. the serial is a registered ECU — else no answer ("add ECU ids to the PKI before
///    doing anything"); with an `ecuCertificateSource`, an unknown serial's certificate is
///    looked up and registered first;
/// 3. the signature verifies under that ECU's identity certificate — else no answer;
/// 4. the counter is greater than the last accepted one of that ECU — else no answer;
/// 5. the request itself (type, CSR, outstanding certificate or verifier) — else an
///    ErrorResponse 0x7F with the ICD 7.5 code (8 unexpected message, 9 rejected).
/// Messages that are not authentic and fresh (1-4) get no answer: the cloud does not talk
/// to strangers, and an answer to a replay could disturb a real exchange.
///
/// Not thread-safe: one event loop drives it. Randomness comes from `randomBytes`, time
/// from the `date` arguments, so tests are deterministic.
public final class VehicleOEMServer {
    /// The PKI: signs [K] under [J1], holds the VOS signer and [ZZ2] keys, checks ECU certificates.
    public let hierarchy: TestPKIHierarchy
    /// The persistent state.
    public let repository: any CloudRepository
    /// The knobs.
    public let configuration: VOSConfiguration
    /// The armed fault.
    public var faults = FaultInjector()
    /// Where to look up the identity certificate (DER or PEM) of a serial not yet registered,
    /// e.g. `<serial>.crt.der` in the PKI's output folder; `nil`: only explicit registration.
    public var ecuCertificateSource: ((String) -> [UInt8]?)?
    /// A source of verifiers made in advance (scrypt is slow: the shell fills a pool on
    /// another thread so that the event loop never waits); `nil` or an empty pool: the
    /// verifier is derived when needed.
    public var verifierSource: (() -> PreparedVerifier?)?
    /// `true` for the VOS service (`VOSService`): a push (0x0A PP-02, 0x0C, 0x0E) is written
    /// to the repository's C2V outbox, and announced to the other instances, in the
    /// transaction that makes it (so that a counter used up is never a push lost). `false`
    /// (`serve`): pushes are only returned, for the TBM on the same bus.
    public var pushesGoToOutbox = false

    let randomBytes: (Int) -> [UInt8]
    /// The last C2V message actually queued per serial, for the `replay` fault (memory only).
    var lastSent: [String: [UInt8]] = [:]

    /// Creates a server over `repository`; `randomBytes(n)` must return `n` random bytes.
    public init(hierarchy: TestPKIHierarchy, repository: any CloudRepository, configuration: VOSConfiguration = VOSConfiguration(),
                randomBytes: @escaping (Int) -> [UInt8] = VehicleOEMServer.systemRandomBytes) {
        self.hierarchy = hierarchy
        self.repository = repository
        self.configuration = configuration
        self.randomBytes = randomBytes
    }

    /// `n` bytes from the system's cryptographic random source.
    public static func systemRandomBytes(_ n: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<max(0, n)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    private enum Silence: Error { case refuse(String) }

    /// Handles one V2C message from the TBM at wall-clock `date`.
    public func handleV2C(_ bytes: [UInt8], date: Date) -> VOSResult {
        var result = VOSResult()
        let decoded: CloudMessageCodec.Decoded
        do {
            decoded = try CloudMessageCodec.decode(bytes)
        } catch {
            result.events.append(CloudEvent(from: .spaak, to: .vos, outcome: .refused, direction: "V2C",
                                            type: CloudMessageCodec.peekRawMessageType(bytes),
                                            detail: "malformed (\(error)), \(bytes.count) bytes: discarded"))
            return result
        }
        let message = decoded.message
        var event = Self.event(for: message, from: .spaak, to: .vos, outcome: .accepted)
        autoRegister(message.serial, date: date, into: &result)
        do {
            let pending = try repository.transaction { store -> VOSResult in
                var pending = VOSResult()
                try self.authenticate(decoded, store: store)
                try self.completePushes(answeredBy: message, store: store)
                try self.learnVIN(message, store: store)
                let payload: CloudPayload
                var refusal: String?
                switch try self.answer(message, store: store, date: date) {
                case .payload(let answer, let summary):
                    event.detail = summary
                    payload = answer
                case .refuse(let status, let reason):
                    event.outcome = .refused
                    event.detail = "\(reason): ErrorResponse \(status.rawValue) (\(status))"
                    refusal = event.detail
                    payload = .errorResponse(resultCode: status.rawValue)
                }
                try self.recordLastUseCase(message, refusal: refusal, store: store, date: date)
                pending.events.append(event)
                try self.emit(payload, serial: message.serial, transactionID: message.transactionID,
                              useCase: message.useCase, store: store, into: &pending)
                return pending
            }
            commit(pending, into: &result)
        } catch Silence.refuse(let reason) {
            event.outcome = .refused
            event.detail = reason + ": no answer"
            result.events.append(event)
        } catch {
            event.outcome = .refused
            event.detail = "failed inside the VOS (\(error)): no answer"
            result.events.append(event)
        }
        return result
    }

    /// Checks 2-4 of the class comment; records the accepted counter.
    private func authenticate(_ decoded: CloudMessageCodec.Decoded, store: any CloudStore) throws {
        let message = decoded.message
        guard let ecu = try store.ecu(serial: message.serial) else {
            throw Silence.refuse("unknown ECU \(message.serial): add ECU ids to the PKI before doing anything "
                                 + "(register its identity certificate: spaak-cloud register-ecu)")
        }
        guard let certificate = try? Certificate(derEncoded: ecu.certificateDER),
              let key = P256.Signing.PublicKey(certificate.publicKey) else {
            throw Silence.refuse("the registered certificate of \(message.serial) is unusable")
        }
        guard CloudSigning.isValid(signature: message.signature, of: decoded.signedBytes, key: key) else {
            throw Silence.refuse("signature invalid under the ECU identity certificate of \(message.serial)")
        }
        if let last = try store.counter(serial: message.serial, kind: .v2cAccepted), message.counter <= last {
            throw Silence.refuse("replayed counter \(message.counter) (last accepted \(last))")
        }
        try store.setCounter(serial: message.serial, kind: .v2cAccepted, value: message.counter)
    }

    /// Keeps the VIN of tag 0x04 (the VOS learns it from the vehicle).
    private func learnVIN(_ message: CloudMessage, store: any CloudStore) throws {
        guard let vin = message.vin else { return }
        var vehicle = try store.vehicle(serial: message.serial) ?? VehicleRecord(serial: message.serial)
        guard vehicle.vin != vin else { return }
        vehicle.vin = vin
        try store.saveVehicle(vehicle)
    }

    /// Keeps the last authenticated V2C message of the vehicle (the fleet view's last use
    /// case and error), in the transaction that handles it.
    private func recordLastUseCase(_ message: CloudMessage, refusal: String?, store: any CloudStore, date: Date) throws {
        var vehicle = try store.vehicle(serial: message.serial) ?? VehicleRecord(serial: message.serial)
        vehicle.lastUseCase = LastUseCaseRecord(useCase: message.useCase.description, message: message.type.description,
                                                accepted: refusal == nil, error: refusal, at: date)
        try store.saveVehicle(vehicle)
    }

    /// Registers the certificate of an unknown serial from `ecuCertificateSource`.
    private func autoRegister(_ serial: String, date: Date, into result: inout VOSResult) {
        guard let source = ecuCertificateSource,
              (try? repository.transaction({ try $0.ecu(serial: serial) })) == .some(nil),
              let bytes = source(serial) else { return }
        do {
            let registered = try registerECU(certificate: bytes, date: date)
            result.events.append(CloudEvent(from: .control, to: .vos, outcome: .info, serial: registered,
                                            detail: "ECU identity certificate of \(registered) registered from the PKI output"))
        } catch {
            result.events.append(CloudEvent(from: .control, to: .vos, outcome: .info, serial: serial,
                                            detail: "certificate found for \(serial) but not registered: \(error)"))
        }
    }

    /// After a committed transaction: hands out its events and messages, remembering what
    /// was queued per serial (for `replay`).
    func commit(_ pending: VOSResult, into result: inout VOSResult) {
        result.events += pending.events
        for transmission in pending.transmissions {
            if let serial = transmission.event.serial { lastSent[serial] = transmission.bytes }
            result.transmissions.append(transmission)
        }
    }

    /// A trace event describing `message`.
    static func event(for message: CloudMessage, from: CloudEvent.Node, to: CloudEvent.Node, outcome: CloudEvent.Outcome) -> CloudEvent {
        CloudEvent(from: from, to: to, outcome: outcome, direction: message.type.direction == .vehicleToCloud ? "V2C" : "C2V",
                   type: message.type.rawValue, name: message.type.description, serial: message.serial, vin: message.vin,
                   transaction: message.transactionID, counter: message.counter)
    }
}
