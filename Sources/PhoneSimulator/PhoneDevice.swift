#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import APDU
import CloudProtocol
import Crypto
import KeyM
import SPAKE2Plus

/// The owner's phone as the module sees it through the NFC reader: the device side of ICD 8.3
/// as a pure machine. It answers one command APDU at a time and forgets its session when it
/// leaves the field (`leaveField()`). `receive(_:date:)` hands out the scrypt run that a
/// SPAKE2+ REQUEST needs (`DeviceReply.derive`) instead of running it, and `derived(_:_:)`
/// takes its result and answers; `respond(to:date:)` does both at once.
///
/// Phase 2: SELECT → `5C 0100`; SPAKE2+ REQUEST → w0/w1 from the password with the module's
/// salt, N, r, p, answer `50` shareP; VERIFY → `69 82` unless confirmV verifies, else `58`
/// confirmP; WRITE DATA → `6A 80` unless the tag 70 data decrypts and [K] chains to the trusted
/// [J] through [J1]; GET DATA → tag 70 { `73` endpoint key, `75` friendly name }. Phase 3:
/// SELECT; AUTH0 → `86` device ephemeral key; AUTH1 → `69 82` unless the vehicle's signature
/// verifies under [K], else `9E` the device's signature with its endpoint key.
///
/// A command out of order gets `69 85`, a malformed one `6A 80`; any refusal ends the session
/// (later commands get `69 85` until the next SELECT). SELECT always starts a new session, as
/// selecting an applet does.
public struct PhoneDevice: Sendable {
    /// What the device is given.
    public struct Configuration: Sendable {
        /// The pairing password's secrets (`nil`: the phone has no password and refuses phase 2).
        public var password: PasswordSecrets?
        /// The [J] that [K] must chain to (`nil`: every WRITE DATA is refused).
        public var trust: VehicleTrust?
        /// The endpoint key pair (the owner key the module will store).
        public var endpointKey: P256.Signing.PrivateKey
        /// The friendly name sent with it (at most 32 bytes of UTF-8).
        public var friendlyName: String
        /// [K] of the vehicle this phone paired with in an earlier phase 2 (for phase 3).
        public var vehicleCertificate: [UInt8]?

        /// Creates a configuration.
        public init(password: PasswordSecrets?, trust: VehicleTrust?, endpointKey: P256.Signing.PrivateKey,
                    friendlyName: String, vehicleCertificate: [UInt8]? = nil) {
            self.password = password
            self.trust = trust
            self.endpointKey = endpointKey
            self.friendlyName = friendlyName
            self.vehicleCertificate = vehicleCertificate
        }
    }

    /// The device's secrets (the password cache lives here).
    public internal(set) var configuration: Configuration
    /// [K] of the paired vehicle: from the configuration, replaced when a phase 2 completes.
    public var vehicleCertificate: [UInt8]? { configuration.vehicleCertificate }
    /// The endpoint public key, 65 bytes uncompressed.
    public var endpointPublicKey: [UInt8] { Array(configuration.endpointKey.publicKey.x963Representation) }

    var state: DeviceState = .idle
    var random: any RandomNumberGenerator & Sendable

    /// Creates a device outside any field; `random` draws x and the ephemeral keys.
    public init(configuration: Configuration, random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.configuration = configuration
        self.random = random
    }

    /// Where the session stands, for logs and tests.
    public var stateName: String { state.name }

    /// The device left the field: the session (keys, transcript, counters) is gone.
    public mutating func leaveField() {
        state = .idle
    }

    /// Answers one command APDU (its bytes) at once: a derivation of w0/w1 that SPAKE2+
    /// REQUEST needs runs here, blocking (`receive` hands it out instead). `date` is the
    /// device's wall clock, for the validity of certificates.
    public mutating func respond(to bytes: [UInt8], date: Date) -> DeviceAnswer {
        switch receive(bytes, date: date) {
        case .answer(let answer):
            return answer
        case .derive(let job):
            // `derived` answers the job it was handed out for.
            return derived(job, job.run()) ?? DeviceAnswer(step: .spake2Request, status: .wrongData, note: "derivation lost: 6A 80")
        }
    }

    /// Takes one command APDU (its bytes): its answer, or the derivation of w0/w1 that must
    /// run first (SPAKE2+ REQUEST with parameters not derived yet); the answer then comes
    /// from `derived(_:_:)`. `date` is the device's wall clock, for the validity of certificates.
    public mutating func receive(_ bytes: [UInt8], date: Date) -> DeviceReply {
        let command: PairingCommand
        do {
            command = try PairingCommand(apdu: try CommandAPDU(bytes: bytes))
        } catch {
            state = .failed
            return .answer(DeviceAnswer(step: nil, status: .wrongData, note: "command \(error): 6A 80"))
        }
        let step = PairingStep(command)
        var answer: DeviceAnswer
        switch (command, state) {
        case (.select, _):
            state = .selected
            answer = DeviceAnswer(step: step, data: BERTLV([(PairingTag.versions, PairingCommand.version)]).bytes,
                                  note: "selected, version 1.0")
        case (.spake2Request(let parameters), .selected):
            switch spake2Request(parameters) {
            case .answer(let done): answer = done
            case .derive(let job):
                state = .deriving(parameters, job)
                return .derive(job)
            }
        case (.spake2Verify(let shareV, let confirmV), .shareSent(let prover)):
            answer = spake2Verify(shareV: shareV, confirmV: confirmV, prover: prover)
        case (.writeData(let sealed), .confirmed(let encryption)):
            answer = writeData(sealed, encryption: encryption, date: date)
        case (.getData, .certificatesAccepted(let encryption, let vehicleCertificate)):
            answer = getData(encryption: encryption, vehicleCertificate: vehicleCertificate)
        case (.auth0(let vehicleKey, let transactionID), .selected):
            answer = auth0(vehicleEphemeralKey: vehicleKey, transactionID: transactionID)
        case (.auth1(let signature), .auth0Answered(let exchange)):
            answer = auth1(vehicleSignature: signature, exchange: exchange)
        default:
            let was = state.name
            state = .failed
            return .answer(DeviceAnswer(step: step, status: .conditionsNotSatisfied, note: "\(command.name) out of order (\(was)): 69 85"))
        }
        if answer.status != .success { state = .failed }
        return .answer(answer)
    }

    /// The result of a derivation handed out by `receive`: kept in the password cache (the
    /// next tap with the same parameters needs none), and the answer to the SPAKE2+ REQUEST
    /// that waits for it, `nil` when none waits (the device left the field meanwhile).
    public mutating func derived(_ job: ScryptJob, _ result: Result<SpakeVerifierSecrets, PasswordSecretsError>) -> DeviceAnswer? {
        if case .success(let secrets) = result { configuration.password?.store(secrets, of: job) }
        guard case .deriving(let parameters, let awaited) = state, awaited == job else { return nil }
        let answer: DeviceAnswer
        switch result {
        case .success(let secrets):
            answer = shareP(parameters, secrets: secrets, cached: false)
        case .failure(let error):
            answer = DeviceAnswer(step: .spake2Request, status: .wrongData, note: "\(error): 6A 80")
        }
        if answer.status != .success { state = .failed }
        return answer
    }
}

/// What the device does with a command: answer it, or first derive w0/w1.
public enum DeviceReply: Hashable, Sendable {
    /// The answer, ready.
    case answer(DeviceAnswer)
    /// The derivation to run; its result goes to `PhoneDevice.derived(_:_:)`, which answers.
    case derive(ScryptJob)
}
