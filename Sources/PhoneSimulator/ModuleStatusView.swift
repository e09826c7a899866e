import CloudProtocol
import E2E
import SpaakCore

/// What the phone reads of `SPAAK_Status` (0x3A8, ICD 3): byte 2 bit 6, the SPAKE2+ verifier
/// present, byte 6, the failed owner-pairing attempts, and byte 7, the owner pairing state.
/// A real phone sees none of them; the simulator uses them to report the module's verdict on
/// each phase (2 = owner key pending after phase 2, 3 = active after phase 3) and to tell
/// which session a failed attempt belongs to.
public struct ModuleStatusView: Hashable, Sendable {
    /// Byte 7: 0 no owner key, 1 pairing window open, 2 owner key pending, 3 owner key active.
    public var ownerPairingState: UInt8
    /// Byte 6: failed owner-pairing attempts since the last verifier provisioning.
    public var failedAttempts: UInt8
    /// Byte 2 bit 6: a SPAKE2+ verifier is stored (the 8th failed attempt deletes it).
    public var verifierPresent: Bool

    /// Creates a view.
    public init(ownerPairingState: UInt8, failedAttempts: UInt8, verifierPresent: Bool = true) {
        self.ownerPairingState = ownerPairingState
        self.failedAttempts = failedAttempts
        self.verifierPresent = verifierPresent
    }

    /// Reads a frame's payload; `nil` unless it is 8 bytes with a valid CRC and counter for
    /// data id `dataID` (the counter's sequence is not checked: the phone is no safety receiver).
    public init?(frameData data: [UInt8], dataID: UInt16 = 0x03A8) {
        switch E2EProfile.check(dataID: dataID, data: data, previousCounter: nil) {
        case .ok, .lost: break
        default: return nil
        }
        self.init(ownerPairingState: data[7], failedAttempts: data[6], verifierPresent: data[2] & 0x40 != 0)
    }

    /// Byte 7 in words.
    public var stateText: String {
        let name = OwnerPairingState(rawValue: ownerPairingState)?.description ?? "unknown"
        return "\(ownerPairingState) (\(name))"
    }
}
