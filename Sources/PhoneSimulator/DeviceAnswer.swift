import APDU
import Crypto
import SPAKE2Plus

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
    /// SPAKE2+ REQUEST received: its answer waits for this derivation of w0/w1.
    case deriving(SPAKE2RequestParameters, ScryptJob)
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
        case .deriving: return "deriving w0/w1"
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
