#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// AUTOSAR KeyM-style certificate management for the module: pure checks of DER
/// certificates against the installed ones and a wall-clock `now` (passed in, never read).
///
/// Chains (ICD 5.5, 5.6, 7.6): [J] and [J_PhysicalKey] are self-signed CAs; [J1] and [Z1] are
/// CAs issued by [J]; [ZZ2] is a signing leaf issued by [Z1]; the ECU identity certificate and
/// [K] are signing leaves issued by [J1] that carry the module's own public keys.
///
/// A certificate whose issuer slot is empty or not valid itself fails with
/// `.invalidChainOfTrust`: a write of [J1] before [J] is refused (the EOL tester writes [J]
/// first), and an installed certificate whose issuer was replaced reports that status.
///
/// Checks run in this order and stop at the first failure: format (9), type/profile (8, 1),
/// issuer present and valid and its name (7), signature (6), path length (7), validity (5),
/// expected public key (1).
public enum KeyM {
    /// The slot whose certificate issues the one in `slot`; `nil` for the self-signed roots.
    public static func issuerSlot(of slot: KeyMCertificateSlot) -> KeyMCertificateSlot? {
        switch slot {
        case .j, .jPhysicalKey: return nil
        case .j1, .z1: return .j
        case .zz2: return .z1
        case .ecuIdentity, .vehicleIdentity: return .j1
        }
    }

    /// Checks `der` as the content of `slot` against the other `installed` certificates:
    /// the check for a write (ICD 5.5: any status but `.valid` answers NRC 0x31) and for a
    /// received [K] (ICD 7.6). The identity slots compare with the key in `installed`.
    public static func check(
        _ der: [UInt8], slot: KeyMCertificateSlot, installed: KeyMInstalledCertificates, now: Date
    ) -> KeyMCheckResult {
        do {
            let certificate = try validate(der, slot: slot, installed: installed, now: now)
            return KeyMCheckResult(
                status: .valid,
                reason: "\(slot): valid, subject \(certificate.certificate.subject), until \(certificate.certificate.notValidAfter)"
            )
        } catch {
            return error.result
        }
    }

    /// ICD 5.6: an ECU identity certificate for a write of DID 0xD101; it must carry
    /// `publicKey` (the CSR's key), chain to [J] through [J1] and have digitalSignature.
    public static func checkECUIdentityCertificate(
        _ der: [UInt8], publicKey: P256.Signing.PublicKey?, installed: KeyMInstalledCertificates, now: Date
    ) -> KeyMCheckResult {
        var context = installed
        context.ecuIdentityPublicKey = publicKey
        return check(der, slot: .ecuIdentity, installed: context, now: now)
    }

    /// ICD 7.6: a vehicle identity certificate [K] received in PP-01; it must carry
    /// `publicKey` (the new vehicle key), chain to [J] through [J1] and have digitalSignature.
    public static func checkVehicleIdentityCertificate(
        _ der: [UInt8], publicKey: P256.Signing.PublicKey?, installed: KeyMInstalledCertificates, now: Date
    ) -> KeyMCheckResult {
        var context = installed
        context.vehiclePublicKey = publicKey
        return check(der, slot: .vehicleIdentity, installed: context, now: now)
    }

    /// The same check as `check`, returning the parsed certificate or throwing the failure.
    public static func validate(
        _ der: [UInt8], slot: KeyMCertificateSlot, installed: KeyMInstalledCertificates, now: Date
    ) throws(KeyMFailure) -> KeyMCertificate {
        let name = slot.description
        let certificate = try KeyMCertificate(der: der, name: name)
        switch slot {
        case .j, .j1, .jPhysicalKey, .z1: try certificate.requireCA(name)
        case .zz2, .ecuIdentity, .vehicleIdentity: try certificate.requireSigningLeaf(name)
        }
        if let issuerSlot = issuerSlot(of: slot) {
            let issuer = try installedIssuer(issuerSlot, for: name, installed: installed, now: now)
            try certificate.requireIssued(by: issuer, issuerName: issuerSlot.description, name)
        } else {
            try certificate.requireSelfSigned(name)
        }
        try certificate.requireValidity(at: now, name)
        switch slot {
        case .ecuIdentity: try certificate.requirePublicKey(installed.ecuIdentityPublicKey, keyName: "ECU identity", name)
        case .vehicleIdentity: try certificate.requirePublicKey(installed.vehiclePublicKey, keyName: "vehicle identity", name)
        default: break
        }
        return certificate
    }

    /// The installed certificate of `slot`, validated; any failure (also an empty slot) is a
    /// broken chain of trust for the certificate called `subjectName`.
    static func installedIssuer(
        _ slot: KeyMCertificateSlot, for subjectName: String, installed: KeyMInstalledCertificates, now: Date
    ) throws(KeyMFailure) -> KeyMCertificate {
        guard let der = installed[slot] else {
            throw KeyMFailure(.invalidChainOfTrust, "\(subjectName): issuer \(slot) is not installed")
        }
        do {
            return try validate(der, slot: slot, installed: installed, now: now)
        } catch {
            throw KeyMFailure(.invalidChainOfTrust, "\(subjectName): issuer \(slot) is not valid (\(error))")
        }
    }

    /// The result for every slot, in the order J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K];
    /// an empty slot gives `.notAvailable`.
    public static func checkAll(_ installed: KeyMInstalledCertificates, now: Date) -> [KeyMCheckResult] {
        KeyMCertificateSlot.allCases.map { slot in
            guard let der = installed[slot] else {
                return KeyMCheckResult(status: .notAvailable, reason: "\(slot): not installed")
            }
            return check(der, slot: slot, installed: installed, now: now)
        }
    }

    /// The 7 KeyM statuses of DID 0xD120 / routine 0xD202, in slot order.
    public static func statusOfAll(_ installed: KeyMInstalledCertificates, now: Date) -> [KeyMCertificateStatus] {
        checkAll(installed, now: now).map(\.status)
    }

    /// The 7 KeyM status bytes of DID 0xD120 / routine 0xD202, in slot order.
    public static func statusBytes(_ installed: KeyMInstalledCertificates, now: Date) -> [UInt8] {
        statusOfAll(installed, now: now).map(\.rawValue)
    }
}
