import Crypto
import E2E
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KeyM
import Logging
import Provisioning
import SecureStore

/// What the store holds, as the module reports it: the certificates KeyM sees, their
/// status bytes (DID 0xD120, routine 0xD202), the provisioning flags of `SPAAK_Status`, and
/// the provisioning machine's `ProvisioningFacts` (one reading: the flags that say the same
/// as a fact, drmUUID and verifier, are taken from the fact).
///
/// Recomputed after every change of the store (not on every status frame): reading and
/// checking certificates is far too slow for a 100 ms cycle.
struct ProvisioningSnapshot {
    /// The certificates and public keys, for KeyM checks of new certificates.
    var installed = KeyMInstalledCertificates()
    /// KeyM status of J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K] (ICD 5.2 order).
    var statuses: [KeyMCertificateStatus] = Array(repeating: .notAvailable, count: 7)
    /// Flags byte of `SPAAK_Status` without the TBM bit (the module adds it).
    var flags: SpaakProvisioningFlags = []
    /// Whether routine 0xD201 locked the plant writes (also when `plant-lock` is damaged).
    var plantLocked = false
    /// The store entries found damaged, for logs.
    var damaged: [String] = []
    /// The records the fail-closed table decides on (see `StoreReadings`).
    var readings = StoreReadings()
    /// Module conditions of the store (DID 0xD120 trailing byte); the application adds its own.
    var conditions: ModuleConditions = []
    /// What the module-initiated cloud use cases lack (ICD 7), in words; empty when nothing.
    var missingCloudPreconditions: [String] = ["ECU identity key", "ECU identity certificate", "plant lock"]

    static let certificateRecords: [KeyMCertificateSlot: SecureStoreRecord] = [
        .j: .rootJ, .j1: .rootJ1, .jPhysicalKey: .rootJPhysicalKey, .z1: .rootZ1, .zz2: .rootZZ2,
        .ecuIdentity: .ecuIdentityCertificate, .vehicleIdentity: .vehicleIdentityCertificate,
    ]

    /// Reads the store and checks every certificate at wall-clock time `now`.
    init(store: any SecureStore, now: Date) {
        var corruptSlots: Set<KeyMCertificateSlot> = []
        for (slot, record) in Self.certificateRecords {
            switch store.status(record) {
            case .present: installed.certificates[slot] = try? store.read(record)
            case .corrupt(let reason):
                corruptSlots.insert(slot)
                damaged.append("\(record): \(reason)")
            case .absent: break
            }
        }
        installed.ecuIdentityPublicKey = Self.publicKey(store, .ecuIdentity, damaged: &damaged)
        installed.vehiclePublicKey = Self.publicKey(store, .vehicleIdentity, damaged: &damaged)
        statuses = KeyM.statusOfAll(installed, now: now)
        for slot in corruptSlots { statuses[slot.rawValue] = .invalidFormat }

        func present(_ record: SecureStoreRecord) -> Bool {
            switch store.status(record) {
            case .present: return true
            case .absent: return false
            case .corrupt(let reason):
                if !damaged.contains(where: { $0.hasPrefix("\(record):") }) { damaged.append("\(record): \(reason)") }
                return false
            }
        }
        readings = StoreReadings(store: store)
        plantLocked = readings.plantLocked
        if statuses[0..<5].allSatisfy({ $0 == .valid }) { flags.insert(.allRootCertificatesInstalled) }
        if installed.ecuIdentityPublicKey != nil && present(.ecuIdentityCSR) { flags.insert(.ecuIdentityKeyAndCSRPresent) }
        if statuses[KeyMCertificateSlot.ecuIdentity.rawValue] == .valid { flags.insert(.ecuIdentityCertificateInstalled) }
        if plantLocked { flags.insert(.plantLocked) }
        let facts = provisioningFacts
        if facts.drmUUIDPresent { flags.insert(.drmUUIDPresent) }
        if statuses[KeyMCertificateSlot.vehicleIdentity.rawValue] == .valid { flags.insert(.vehicleIdentityCertificateInstalled) }
        if facts.verifierPresent { flags.insert(.spake2PlusVerifierPresent) }
        for record in [SecureStoreRecord.drmUUID, .vin, .subjectID, .spake2Verifier] { _ = present(record) }
        for slot in [SecureStoreKeySlot.ecuIdentityPending, .vehicleIdentityPending] {
            if case .corrupt(let reason) = store.status(slot) { damaged.append("key \(slot): \(reason)") }
        }
        conditions = ModuleConditions(readings: readings, otherDamage: !damaged.isEmpty)
        damaged += readings.damagedWithConsequence

        var missing: [String] = []
        if installed.ecuIdentityPublicKey == nil { missing.append("ECU identity key") }
        if !flags.contains(.ecuIdentityCertificateInstalled) { missing.append("ECU identity certificate") }
        if !plantLocked { missing.append("plant lock") }
        if readings.v2cCounter.isDamaged { missing.append("a readable V2C counter") }
        if readings.c2vCounter.isDamaged { missing.append("a readable C2V counter") }
        missingCloudPreconditions = missing
    }

    init() {}

    /// What the provisioning machine starts from after a (re)start, by the fail-closed
    /// table (`StoreReadings`).
    var provisioningFacts: ProvisioningFacts {
        readings.provisioningFacts(limit: ProvisioningConfiguration().failedPairingLimit,
                                   missingPreconditions: missingCloudPreconditions)
    }

    private static func publicKey(_ store: any SecureStore, _ slot: SecureStoreKeySlot,
                                  damaged: inout [String]) -> P256.Signing.PublicKey? {
        do {
            return try store.publicKey(slot)
        } catch {
            damaged.append("key \(slot): \(error)")
            return nil
        }
    }
}
