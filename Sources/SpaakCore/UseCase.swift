/// A use case of the seed document, by the number the ICD gives it: byte 3 of
/// `SPAAK_Status` (section 3, 0 there meaning none) and tag 0x07 of a cloud message
/// (section 7.1, only the cloud use cases).
///
/// The one use-case type of the project: the status signals, the cloud codec, the
/// provisioning machine and the module all use it. Owner pairing (7) is a cloud use case
/// only (tag 0x07 of 0x0D and 0x0E, ICD 8.5): `SPAAK_Status` byte 3 keeps its meaning
/// (1…6, owner pairing shows in byte 7), so `statusByte` of owner pairing is 0.
public enum UseCase: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// RP-01: root crypto installation at the SpaaK module plant.
    case rp01 = 1
    /// RP-02: ECU identity certificate signing request (supplier plant).
    case rp02 = 2
    /// PP-01: new vehicle identity provisioning ([K]).
    case pp01 = 3
    /// PP-02: SPAKE2+ parameters provisioning triggered by the Vehicle OEM Server.
    case pp02 = 4
    /// PP-03: SPAKE2+ parameters provisioning triggered by the SpaaK module.
    case pp03 = 5
    /// SP-02: remote service provisioning (drmUUID), triggered by the SpaaK module.
    case sp02 = 6
    /// OP: owner pairing (ICD 8), as the cloud sees it: OwnerPairingStatus 0x0D and
    /// OwnerPairingModeRequest 0x0E carry it in tag 0x07. Never in `SPAAK_Status` byte 3.
    case ownerPairing = 7

    /// The use cases a cloud message may carry in tag 0x07 (ICD 7.1).
    public static let cloudUseCases: [UseCase] = [.pp01, .pp02, .pp03, .sp02, .ownerPairing]

    /// The use cases `SPAAK_Status` byte 3 names (ICD 3: 1 RP-01 … 6 SP-02).
    public static let statusUseCases: [UseCase] = [.rp01, .rp02, .pp01, .pp02, .pp03, .sp02]

    /// Whether a cloud message may carry it (PP-01, PP-02, PP-03, SP-02, owner pairing).
    public var isCloudUseCase: Bool { Self.cloudUseCases.contains(self) }

    /// The value of `SPAAK_Status` byte 3 while it is active: its number, 0 (none) for
    /// owner pairing, which byte 3 does not name.
    public var statusByte: UInt8 { Self.statusUseCases.contains(self) ? rawValue : 0 }

    /// The use case `SPAAK_Status` byte 3 names, `nil` for 0 and for any byte outside 1…6.
    public init?(statusByte: UInt8) {
        guard let useCase = UseCase(rawValue: statusByte), Self.statusUseCases.contains(useCase) else { return nil }
        self = useCase
    }

    /// The use case's name, e.g. `PP-01`.
    public var description: String {
        switch self {
        case .rp01: return "RP-01"
        case .rp02: return "RP-02"
        case .pp01: return "PP-01"
        case .pp02: return "PP-02"
        case .pp03: return "PP-03"
        case .sp02: return "SP-02"
        case .ownerPairing: return "OP"
        }
    }
}
