/// The data identifiers of the SpaaK module (ICD 5.2), by their ICD names.
///
/// The generic `DiagnosticServer` works with raw `UInt16` tables (`DataIdentifierEntry`);
/// `DataIdentifierEntry.icdTable` is built from this enum, and the module turns the
/// `UInt16` of an `ApplicationOperation` into a case once, at its boundary.
///
/// 0xD124 (owner pairing status) and 0xD125 (owner endpoint public key) belong to owner
/// pairing (ICD 8) and are not implemented yet: they have no case, so they answer NRC 0x31.
public enum DataIdentifier: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    /// 0xF18C: ECU serial number, ASCII (e.g. `SPK0000000001`). Read: any.
    case ecuSerialNumber = 0xF18C
    /// 0xF190: VIN, 17 ASCII characters. Read: any; write: unlocked, before plant lock.
    case vin = 0xF190
    /// 0xF195: software version, ASCII. Read: any.
    case softwareVersion = 0xF195
    /// 0xD100: ECU identity CSR, DER. Read: any.
    case ecuIdentityCSR = 0xD100
    /// 0xD101: ECU identity certificate, DER. Read: any; write: unlocked, before plant lock.
    case ecuIdentityCertificate = 0xD101
    /// 0xD110: [J] OEM CA root certificate, DER. Read: any; write: unlocked, before plant lock.
    case rootJ = 0xD110
    /// 0xD111: [J1] OEM sub-CA certificate. Read: any; write: same.
    case rootJ1 = 0xD111
    /// 0xD112: [J_PhysicalKey] OEM CA root physical key certificate. Read: any; write: same.
    case rootJPhysicalKey = 0xD112
    /// 0xD113: [Z1] vehicle OEM server intermediate CA certificate. Read: any; write: same.
    case rootZ1 = 0xD113
    /// 0xD114: [ZZ2] KTS server signing certificate. Read: any; write: same.
    case rootZZ2 = 0xD114
    /// 0xD120: provisioning status: the flags byte of `SPAAK_Status`, then one KeyM
    /// certificate status byte for each of J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K].
    /// Read: any.
    case provisioningStatus = 0xD120
    /// 0xD121: vehicle identity certificate [K], DER. Read: any.
    case vehicleIdentityCertificate = 0xD121
    /// 0xD122: drmUUID, 16 bytes. Read: any.
    case drmUUID = 0xD122
    /// 0xD123: SPAKE2+ verifier metadata: salt, scrypt N, r, p (never w0 or L). Read: any.
    case spake2VerifierMetadata = 0xD123
    /// 0xD124: owner pairing status: byte 7 of `SPAAK_Status`, seconds left in the pairing
    /// window (2 bytes), owner key id (8 bytes, zeros when none), friendly name. Read: any.
    case ownerPairingStatus = 0xD124
    /// 0xD125: owner endpoint public key, 65 bytes uncompressed (pending or active). Read: any.
    case ownerEndpointPublicKey = 0xD125
    /// 0xD130: CAN controller and bus counters (docs/ICD-CHOICES.md), 23 bytes: the
    /// controller's state, TEC, REC, bitrate, bus-offs, recoveries, error frames, refused
    /// writes, `SPAAK_Status` late and skipped (`CANBusDiagnostics.record`). Read: any.
    case canBusDiagnostics = 0xD130

    /// The five root certificates of RP-01 (ICD 5.5), in the order of D120's status bytes.
    public static let roots: [DataIdentifier] = [.rootJ, .rootJ1, .rootJPhysicalKey, .rootZ1, .rootZZ2]

    /// For example `0xD110`.
    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}
