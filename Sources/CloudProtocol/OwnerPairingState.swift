/// The owner pairing state, tag 0x19 of OwnerPairingStatus 0x0D: the same values as byte 7
/// of `SPAAK_Status` (ICD 3, 8.5).
public enum OwnerPairingState: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// 0 no owner key.
    case noOwnerKey = 0
    /// 1 pairing window open (no owner key yet).
    case windowOpen = 1
    /// 2 owner key pending (phase 2 done).
    case ownerKeyPending = 2
    /// 3 owner key active (phase 3 done).
    case ownerKeyActive = 3

    /// Whether the module holds an owner key in this state (pending or active): exactly
    /// then a 0x0D carries the owner key id 0x18.
    public var hasOwnerKey: Bool { self == .ownerKeyPending || self == .ownerKeyActive }

    /// The state in words, e.g. `owner key active`.
    public var description: String {
        switch self {
        case .noOwnerKey: return "no owner key"
        case .windowOpen: return "pairing window open"
        case .ownerKeyPending: return "owner key pending"
        case .ownerKeyActive: return "owner key active"
        }
    }
}

/// The content of one OwnerPairingStatus 0x0D (ICD 8.5): what owner pairing reports and the
/// cloud use cases send.
public struct OwnerPairingStatusReport: Hashable, Sendable {
    /// Tag 0x19.
    public var state: OwnerPairingState
    /// Tag 0x18, when a key exists.
    public var ownerKeyID: [UInt8]?
    /// Tag 0x13.
    public var status: CloudStatus
    /// The 0x0E's transaction id when this answers one; `nil`: a new step, a fresh id.
    public var pushTransactionID: [UInt8]?

    /// Creates a report.
    public init(state: OwnerPairingState, ownerKeyID: [UInt8]?, status: CloudStatus, pushTransactionID: [UInt8]?) {
        self.state = state
        self.ownerKeyID = ownerKeyID
        self.status = status
        self.pushTransactionID = pushTransactionID
    }
}
