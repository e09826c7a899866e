import Crypto

/// The seven certificate slots of the module, in the order of the KeyM status bytes of
/// DID 0xD120 and routine 0xD202 (ICD 5.2): J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K].
public enum KeyMCertificateSlot: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// [J] OEM CA root certificate (self-signed CA).
    case j
    /// [J1] OEM sub-CA certificate (CA signed by [J]).
    case j1
    /// [J_PhysicalKey] OEM CA root physical key certificate (self-signed CA).
    case jPhysicalKey
    /// [Z1] vehicle OEM server intermediate CA certificate (CA signed by [J]).
    case z1
    /// [ZZ2] KTS server signing certificate (leaf signed by [Z1]).
    case zz2
    /// The ECU identity certificate (leaf signed by [J1], RP-02).
    case ecuIdentity
    /// [K] the vehicle identity certificate (leaf signed by [J1], PP-01).
    case vehicleIdentity

    /// The five root certificates that RP-01 installs.
    public static let roots: [KeyMCertificateSlot] = [.j, .j1, .jPhysicalKey, .z1, .zz2]

    /// The data identifier holding the slot's DER (ICD 5.2).
    public var did: UInt16 {
        switch self {
        case .j: return 0xD110
        case .j1: return 0xD111
        case .jPhysicalKey: return 0xD112
        case .z1: return 0xD113
        case .zz2: return 0xD114
        case .ecuIdentity: return 0xD101
        case .vehicleIdentity: return 0xD121
        }
    }

    /// The slot whose certificate is the root slot written through `did`, if any.
    public static func root(forDID did: UInt16) -> KeyMCertificateSlot? {
        roots.first { $0.did == did }
    }

    /// The slot's name as the ICD writes it: `[J]`, `[J1]`, …, `ECU identity`, `[K]`.
    public var description: String {
        switch self {
        case .j: return "[J]"
        case .j1: return "[J1]"
        case .jPhysicalKey: return "[J_PhysicalKey]"
        case .z1: return "[Z1]"
        case .zz2: return "[ZZ2]"
        case .ecuIdentity: return "ECU identity"
        case .vehicleIdentity: return "[K]"
        }
    }
}

/// What the module holds: the DER of each installed certificate (`nil` = empty slot) and
/// the public halves of the module's own key pairs, which the identity certificates must carry.
public struct KeyMInstalledCertificates: Sendable {
    /// DER of every installed certificate, by slot.
    public var certificates: [KeyMCertificateSlot: [UInt8]]
    /// The public key of the ECU identity key pair (RP-02), if generated.
    public var ecuIdentityPublicKey: P256.Signing.PublicKey?
    /// The public key of the vehicle identity key pair (PP-01), if generated.
    public var vehiclePublicKey: P256.Signing.PublicKey?

    /// Creates a set; every argument defaults to empty.
    public init(
        certificates: [KeyMCertificateSlot: [UInt8]] = [:],
        ecuIdentityPublicKey: P256.Signing.PublicKey? = nil,
        vehiclePublicKey: P256.Signing.PublicKey? = nil
    ) {
        self.certificates = certificates
        self.ecuIdentityPublicKey = ecuIdentityPublicKey
        self.vehiclePublicKey = vehiclePublicKey
    }

    /// The DER in `slot`, `nil` if empty (an empty byte array also counts as empty).
    public subscript(slot: KeyMCertificateSlot) -> [UInt8]? {
        get {
            guard let der = certificates[slot], !der.isEmpty else { return nil }
            return der
        }
        set { certificates[slot] = newValue }
    }
}
