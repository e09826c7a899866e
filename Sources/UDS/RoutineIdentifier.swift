/// The routines of the SpaaK module (ICD 5.4), by their ICD names.
///
/// `RoutineEntry.icdTable` is built from this enum; the module turns the `UInt16` of an
/// `ApplicationOperation` into a case once, at its boundary. `31 03 RID` returns the latest
/// result of the routine: 0 done, 1 running, 2 failed, then an error code.
public enum RoutineIdentifier: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    /// 0xD200: generate ECU identity key pair and CSR (RP-02). Needs: unlocked, before plant
    /// lock. Result `71 01 D2 00 00` when done; may answer 0x78 first.
    case generateECUIdentityKeyPair = 0xD200
    /// 0xD201: lock plant provisioning. Needs: unlocked; all roots, ECU certificate and VIN
    /// present. After it, every plant write answers 0x22, for good.
    case lockPlantProvisioning = 0xD201
    /// 0xD202: check certificates. Result: KeyM status bytes as in 0xD120.
    case checkCertificates = 0xD202
    /// 0xD203: owner change: delete [K], subject id and verifier, then run PP-01 again.
    /// Needs: unlocked. Result `71 01 D2 03 00`.
    case ownerChange = 0xD203
    /// 0xF010: simulate owner pairing start (PP-03 when no verifier).
    case simulateOwnerPairingStart = 0xF010
    /// 0xF011: simulate a failed owner pairing attempt: attempts count; the 8th failure
    /// deletes the verifier and starts PP-03.
    case simulateFailedOwnerPairing = 0xF011

    /// For example `0xD200`.
    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}
