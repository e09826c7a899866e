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
/// as a pure machine. It answers one command APDU at a time (`respond(to:date:)`) and forgets
/// its session when it leaves the field (`leaveField()`).
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
    public private(set) var configuration: Configuration
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

    /// Answers one command APDU (its bytes). `date` is the device's wall clock, for the
    /// validity of certificates.
    public mutating func respond(to bytes: [UInt8], date: Date) -> DeviceAnswer {
        let command: PairingCommand
        do {
            command = try PairingCommand(apdu: try CommandAPDU(bytes: bytes))
        } catch {
            state = .failed
            return DeviceAnswer(step: nil, status: .wrongData, note: "command \(error): 6A 80")
        }
        let step = PairingStep(command)
        var answer: DeviceAnswer
        switch (command, state) {
        case (.select, _):
            state = .selected
            answer = DeviceAnswer(step: step, data: BERTLV([(PairingTag.versions, PairingCommand.version)]).bytes,
                                  note: "selected, version 1.0")
        case (.spake2Request(let parameters), .selected):
            answer = spake2Request(parameters)
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
            return DeviceAnswer(step: step, status: .conditionsNotSatisfied, note: "\(command.name) out of order (\(was)): 69 85")
        }
        if answer.status != .success { state = .failed }
        return answer
    }

    // MARK: - Phase 2

    private mutating func spake2Request(_ parameters: SPAKE2RequestParameters) -> DeviceAnswer {
        guard var password = configuration.password else {
            return DeviceAnswer(step: .spake2Request, status: .conditionsNotSatisfied, note: "no pairing password on this phone: 69 85")
        }
        let cached = password.isCached(parameters)
        let secrets: SpakeVerifierSecrets
        do {
            secrets = try password.secrets(for: parameters)
        } catch {
            configuration.password = password
            return DeviceAnswer(step: .spake2Request, status: .wrongData, note: "\(error): 6A 80")
        }
        configuration.password = password
        let prover: SPAKE2PlusProver
        do {
            prover = try SPAKE2PlusProver(identities: .ownerPairing(vin: parameters.vin), w0: secrets.w0, w1: secrets.w1,
                                          x: P256Scalar.random(using: &random))
        } catch {
            return DeviceAnswer(step: .spake2Request, status: .wrongData, note: "SPAKE2+ prover: \(error): 6A 80")
        }
        state = .shareSent(prover)
        let vin = String(decoding: parameters.vin, as: UTF8.self)
        return DeviceAnswer(step: .spake2Request, data: BERTLV([(PairingTag.shareP, prover.shareP)]).bytes,
                            note: "VIN \(vin), scrypt N=\(parameters.n) r=\(parameters.r) p=\(parameters.p): "
                                + "w0/w1 \(cached ? "from the cache" : "derived from the password"), shareP sent")
    }

    private mutating func spake2Verify(shareV: [UInt8], confirmV: [UInt8], prover: SPAKE2PlusProver) -> DeviceAnswer {
        let result: SPAKE2PlusProverResult
        do {
            result = try prover.finish(shareV: shareV, confirmV: confirmV)
        } catch .confirmationMismatch {
            return DeviceAnswer(step: .verify, status: .securityStatusNotSatisfied,
                                note: "confirmV does not verify (not the password of this vehicle's verifier): 69 82")
        } catch {
            return DeviceAnswer(step: .verify, status: .wrongData, note: "shareV: \(error): 6A 80")
        }
        state = .confirmed(PairingEncryption(sharedKey: result.sharedKey))
        return DeviceAnswer(step: .verify, data: BERTLV([(PairingTag.confirmP, result.confirmP)]).bytes,
                            note: "confirmV verified, confirmP sent")
    }

    private mutating func writeData(_ sealed: [UInt8], encryption: PairingEncryption, date: Date) -> DeviceAnswer {
        let plaintext: [UInt8]
        do {
            plaintext = try encryption.open(sealed, direction: .moduleToDevice, counter: 1)
        } catch {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "tag 70 does not decrypt: 6A 80")
        }
        let vehicleCertificate: [UInt8]
        let subCA: [UInt8]
        do throws(APDUError) {
            let tlv = try BERTLV(parsing: plaintext)
            try tlv.requireTags([PairingTag.vehicleCertificate, PairingTag.subCACertificate])
            vehicleCertificate = try tlv.value(PairingTag.vehicleCertificate, sizes: 1...65535)
            subCA = try tlv.value(PairingTag.subCACertificate, sizes: 1...65535)
        } catch {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "decrypted data \(error): 6A 80")
        }
        guard let trust = configuration.trust else {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "no trusted [J] on this phone: 6A 80")
        }
        let certificate: KeyMCertificate
        do {
            certificate = try trust.check(vehicleCertificate: vehicleCertificate, subCA: subCA, date: date)
        } catch {
            return DeviceAnswer(step: .writeData, status: .wrongData, note: "[K] does not chain to the trusted [J] through [J1] (\(error)): 6A 80")
        }
        state = .certificatesAccepted(encryption, vehicleCertificate: vehicleCertificate)
        return DeviceAnswer(step: .writeData, note: "[K] \(certificate.certificate.subject) chains to [J] through [J1]")
    }

    private mutating func getData(encryption: PairingEncryption, vehicleCertificate: [UInt8]) -> DeviceAnswer {
        let name = Array(configuration.friendlyName.utf8)
        let plaintext = BERTLV([(PairingTag.endpointKey, endpointPublicKey), (PairingTag.friendlyName, name)]).bytes
        let sealed: [UInt8]
        do {
            sealed = try encryption.seal(plaintext, direction: .deviceToModule, counter: 1)
        } catch {
            return DeviceAnswer(step: .getData, status: .wrongData, note: "encryption failed: \(error): 6A 80")
        }
        configuration.vehicleCertificate = vehicleCertificate
        state = .phase2Answered
        var answer = DeviceAnswer(step: .getData, data: BERTLV([(PairingTag.encrypted, sealed)]).bytes,
                                  note: "endpoint key \(OwnerKeyID.text(of: endpointPublicKey)) \"\(configuration.friendlyName)\" sent (encrypted)")
        answer.completedPhase = .two
        answer.newVehicleCertificate = vehicleCertificate
        return answer
    }

    // MARK: - Phase 3

    private mutating func auth0(vehicleEphemeralKey: [UInt8], transactionID: [UInt8]) -> DeviceAnswer {
        guard configuration.vehicleCertificate != nil else {
            return DeviceAnswer(step: .auth0, status: .conditionsNotSatisfied, note: "AUTH0 but this phone has paired with no vehicle ([K] unknown): 69 85")
        }
        guard (try? P256.KeyAgreement.PublicKey(x963Representation: vehicleEphemeralKey)) != nil else {
            return DeviceAnswer(step: .auth0, status: .wrongData, note: "the vehicle ephemeral key is not a P-256 point: 6A 80")
        }
        let scalar = P256Scalar.random(using: &random)
        // A scalar in [1, n − 1] is a valid private key.
        let ephemeral = try! P256.KeyAgreement.PrivateKey(rawRepresentation: scalar.bytes)
        let deviceKey = Array(ephemeral.publicKey.x963Representation)
        state = .auth0Answered(Auth0Exchange(transactionID: transactionID, vehicleEphemeralKey: vehicleEphemeralKey,
                                             deviceEphemeralKey: deviceKey))
        return DeviceAnswer(step: .auth0, data: BERTLV([(PairingTag.deviceEphemeralKey, deviceKey)]).bytes,
                            note: "transaction \(transactionID.prefix(4).hexText)…, device ephemeral key sent")
    }

    private mutating func auth1(vehicleSignature: [UInt8], exchange: Auth0Exchange) -> DeviceAnswer {
        guard let der = configuration.vehicleCertificate,
              let vehicleKey = try? KeyMCertificate(der: der, name: "[K]").publicKey else {
            return DeviceAnswer(step: .auth1, status: .conditionsNotSatisfied, note: "[K] unknown or unreadable: 69 85")
        }
        let signed = exchange.transactionID + exchange.vehicleEphemeralKey + exchange.deviceEphemeralKey + Array("SpaaK AUTH1 vehicle".utf8)
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: vehicleSignature),
              vehicleKey.isValidSignature(signature, for: signed) else {
            return DeviceAnswer(step: .auth1, status: .securityStatusNotSatisfied,
                                note: "the vehicle's AUTH1 signature does not verify under [K]: 69 82")
        }
        let message = exchange.transactionID + exchange.deviceEphemeralKey + exchange.vehicleEphemeralKey + Array("SpaaK AUTH1 device".utf8)
        let deviceSignature: [UInt8]
        do {
            deviceSignature = Array(try configuration.endpointKey.signature(for: message).derRepresentation)
        } catch {
            return DeviceAnswer(step: .auth1, status: .wrongData, note: "signing failed: \(error): 6A 80")
        }
        state = .phase3Answered
        var answer = DeviceAnswer(step: .auth1, data: BERTLV([(PairingTag.signature, deviceSignature)]).bytes,
                                  note: "vehicle signature verified under [K], device signature sent")
        answer.completedPhase = .three
        return answer
    }
}

/// The device's answer to one command.
public struct DeviceAnswer: Hashable, Sendable {
    /// The step of the command (`nil` when it could not be parsed).
    public var step: PairingStep?
    /// The response APDU.
    public var response: ResponseAPDU
    /// What happened, for the log.
    public var note: String
    /// The phase whose last step this answer completes on the device's side (the module
    /// still has to accept it).
    public var completedPhase: PairingPhase?
    /// [K] to keep in the phone's state when phase 2 completes on the device's side.
    public var newVehicleCertificate: [UInt8]?

    /// Creates an answer.
    public init(step: PairingStep?, data: [UInt8] = [], status: StatusWord = .success, note: String) {
        self.step = step
        self.response = ResponseAPDU(data: data, status: status)
        self.note = note
    }

    /// The status word.
    public var status: StatusWord { response.status }
}

/// The key id of ICD 8.3 (first 8 bytes of SHA-256 of the endpoint public key), as text.
public enum OwnerKeyID {
    /// The 8 bytes.
    public static func bytes(of publicKey: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: publicKey).prefix(8)) }
    /// Lower-case hex, as the module logs it.
    public static func text(of publicKey: [UInt8]) -> String { bytes(of: publicKey).hexText }
}

/// AUTH0's values that AUTH1 signs.
struct Auth0Exchange: Sendable {
    var transactionID: [UInt8]
    var vehicleEphemeralKey: [UInt8]
    var deviceEphemeralKey: [UInt8]
}

/// Where the device's session stands.
enum DeviceState: Sendable {
    /// In the field (or not), nothing selected.
    case idle
    /// SELECT answered: SPAKE2+ REQUEST (phase 2) or AUTH0 (phase 3) may follow.
    case selected
    /// shareP sent: VERIFY may follow.
    case shareSent(SPAKE2PlusProver)
    /// confirmV verified: WRITE DATA may follow.
    case confirmed(PairingEncryption)
    /// [K] accepted: GET DATA may follow.
    case certificatesAccepted(PairingEncryption, vehicleCertificate: [UInt8])
    /// GET DATA answered: phase 2 is over for the device.
    case phase2Answered
    /// AUTH0 answered: AUTH1 may follow.
    case auth0Answered(Auth0Exchange)
    /// AUTH1 answered: phase 3 is over for the device.
    case phase3Answered
    /// A refusal ended the session.
    case failed

    var name: String {
        switch self {
        case .idle: return "idle"
        case .selected: return "selected"
        case .shareSent: return "after SPAKE2+ REQUEST"
        case .confirmed: return "after VERIFY"
        case .certificatesAccepted: return "after WRITE DATA"
        case .phase2Answered: return "phase 2 answered"
        case .auth0Answered: return "after AUTH0"
        case .phase3Answered: return "phase 3 answered"
        case .failed: return "session failed"
        }
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex without separators.
    var hexText: String { map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
