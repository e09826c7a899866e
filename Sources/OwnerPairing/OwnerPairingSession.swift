import Crypto
import SPAKE2Plus
import SpaakCore

/// Where the NFC session of `OwnerPairingMachine` stands: one case per state, with its data.
enum Session: Sendable {
    /// No device in the field.
    case none
    /// Waiting for the response to a command, until `deadline`.
    case awaiting(Expected, deadline: Instant)
    /// Store work of this session runs.
    case working(Work)
    /// The session completed or failed: nothing more is sent until the device leaves.
    case over

    var responseDeadline: Instant? {
        if case .awaiting(_, let deadline) = self { return deadline }
        return nil
    }

    /// A session with a command out or store work running.
    var isActive: Bool {
        switch self {
        case .awaiting, .working: return true
        case .none, .over: return false
        }
    }

    /// Neither a session's commands nor its store work are running.
    var isIdle: Bool { !isActive }

    /// A phase 2 session that has not completed.
    var isPhase2: Bool {
        switch self {
        case .awaiting(let expected, _): return expected.isPhase2
        case .working(.loadingMaterial), .working(.storingPendingKey): return true
        case .working(.signing), .working(.activating), .none, .over: return false
        }
    }

    /// Whether a failure now is a failed owner-pairing attempt: phase 2 after step 2 went out.
    var countsAsAttempt: Bool {
        if case .awaiting(let expected, _) = self { return expected.countsAsAttempt }
        return false
    }

    var awaitedCommand: String {
        if case .awaiting(let expected, _) = self { return expected.command }
        return "nothing"
    }

    var phaseName: String {
        isPhase2 ? "phase 2" : "phase 3"
    }
}

/// What kind of session a SELECT opens.
enum SessionKind: Sendable {
    /// Phase 2 with the material loaded from the store.
    case phase2(PairingMaterial)
    /// Phase 3 for the pending key.
    case phase3(OwnerKey)
}

/// The response a session waits for, with what the next step needs.
enum Expected: Sendable {
    /// SELECT's versions.
    case select(SessionKind)
    /// Phase 2 step 2: shareP.
    case shareP(PairingMaterial)
    /// Phase 2 step 3: confirmP.
    case confirmP(PairingMaterial, SPAKE2PlusVerifier)
    /// Phase 2 step 4: the acknowledgement of WRITE DATA.
    case writeAcknowledged(PairingEncryption)
    /// Phase 2 step 5: the encrypted endpoint key.
    case endpoint(PairingEncryption)
    /// Phase 3 step 2: the device's ephemeral key.
    case deviceEphemeralKey(Auth0)
    /// Phase 3 step 3: the device's signature.
    case deviceSignature(Auth0, deviceEphemeralKey: [UInt8])

    var isPhase2: Bool {
        switch self {
        case .select(.phase2), .shareP, .confirmP, .writeAcknowledged, .endpoint: return true
        case .select(.phase3), .deviceEphemeralKey, .deviceSignature: return false
        }
    }

    var countsAsAttempt: Bool {
        switch self {
        case .shareP, .confirmP, .writeAcknowledged, .endpoint: return true
        case .select, .deviceEphemeralKey, .deviceSignature: return false
        }
    }

    var command: String {
        switch self {
        case .select: return "SELECT"
        case .shareP: return "SPAKE2+ REQUEST"
        case .confirmP: return "SPAKE2+ VERIFY"
        case .writeAcknowledged: return "WRITE DATA"
        case .endpoint: return "GET DATA"
        case .deviceEphemeralKey: return "AUTH0"
        case .deviceSignature: return "AUTH1"
        }
    }
}

/// Store work a session waits for.
enum Work: Sendable {
    /// Phase 2: reading the verifier and certificates.
    case loadingMaterial
    /// Phase 2 step 5 done: committing the pending key.
    case storingPendingKey(OwnerKey)
    /// Phase 3: the vehicle identity key signs AUTH1.
    case signing(Auth0, deviceEphemeralKey: [UInt8])
    /// Phase 3 done: committing the active key.
    case activating(OwnerKey)
}

/// What AUTH0 sent, for AUTH1.
struct Auth0: Sendable {
    /// The pending key the session proves.
    var ownerKey: OwnerKey
    /// The vehicle ephemeral public key (65 bytes).
    var vehicleEphemeralKey: [UInt8]
    /// Tag 4C (16 bytes).
    var transactionID: [UInt8]
}
