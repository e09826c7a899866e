import Crypto
import Foundation
import KeyM
import TestPKI
import X509

/// The fixed wall-clock time of the tests (2027-01-15).
let testNow = Date(timeIntervalSince1970: 1_800_000_000)

/// A good hierarchy from TestPKI, the module's two key pairs and their certificates.
struct Fixture {
    let pki: TestPKIHierarchy
    let ecuKey = P256.Signing.PrivateKey()
    let vehicleKey = P256.Signing.PrivateKey()
    let ecuIdentityDER: [UInt8]
    let vehicleIdentityDER: [UInt8]

    init(now: Date = testNow) throws {
        pki = try TestPKIHierarchy.generate(now: now, validityDays: 365)
        ecuIdentityDER = try pki.leafSpec(
            commonName: "SPK0000000001", publicKey: Certificate.PublicKey(ecuKey.publicKey), now: now, validityDays: 365
        ).issue().derBytes()
        vehicleIdentityDER = try pki.leafSpec(
            commonName: "SUBJECT-0001", publicKey: Certificate.PublicKey(vehicleKey.publicKey), now: now, validityDays: 365
        ).issue().derBytes()
    }

    /// The TestPKI role that makes a root slot's certificate.
    static func role(_ slot: KeyMCertificateSlot) -> TestPKIRole? {
        switch slot {
        case .j: return .j
        case .j1: return .j1
        case .jPhysicalKey: return .jPhysicalKey
        case .z1: return .z1
        case .zz2: return .zz2
        case .ecuIdentity, .vehicleIdentity: return nil
        }
    }

    /// The good DER of `slot`.
    func der(_ slot: KeyMCertificateSlot) -> [UInt8] {
        switch slot {
        case .ecuIdentity: return ecuIdentityDER
        case .vehicleIdentity: return vehicleIdentityDER
        default: return Fixture.role(slot).map { pki[$0].der } ?? []
        }
    }

    /// The module's state with the good certificates of `slots` and both public keys.
    func installed(_ slots: [KeyMCertificateSlot] = KeyMCertificateSlot.allCases) -> KeyMInstalledCertificates {
        var installed = KeyMInstalledCertificates(ecuIdentityPublicKey: ecuKey.publicKey, vehiclePublicKey: vehicleKey.publicKey)
        for slot in slots { installed[slot] = der(slot) }
        return installed
    }

    /// `slot`'s certificate rebuilt with `defect`.
    func defective(_ defect: TestPKIDefect, _ slot: KeyMCertificateSlot, now: Date = testNow) throws -> [UInt8] {
        switch slot {
        case .ecuIdentity: return try pki.defectiveLeafDER(defect, commonName: "SPK0000000001", publicKey: ecuKey.publicKey, now: now)
        case .vehicleIdentity: return try pki.defectiveLeafDER(defect, commonName: "SUBJECT-0001", publicKey: vehicleKey.publicKey, now: now)
        default: return try pki.defectiveDER(defect, role: Fixture.role(slot) ?? .j, now: now)
        }
    }
}

/// The status bytes written as in DID 0xD120: J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K].
func statuses(_ values: UInt8...) -> [UInt8] { values }
