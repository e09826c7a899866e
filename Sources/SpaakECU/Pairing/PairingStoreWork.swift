import CloudProtocol
import OwnerPairing
import SecureStore

/// Owner pairing's tasks (ICD 8.3) as `StoreJob`s: reading the verifier, the commits of the
/// owner key, and the vehicle identity key's AUTH1 signature (inside the store: the private
/// key never leaves it). The product is the machine's `.taskCompleted` input.
/// What `.loadMaterial` takes from the module (its snapshot and the provisioning facts, read
/// on the loop thread): the VIN, [K], [J1], and whether the stored verifier may be used (a
/// damaged failure count or owed PP-03 makes it unusable).
struct PairingMaterialSources: Sendable {
    var vin: [UInt8]?
    var vehicleCertificate: [UInt8]?
    var subCACertificate: [UInt8]?
    var verifierUsable: Bool
}

extension StoreWork {
    /// The job doing `task`; `sources` is needed by `.loadMaterial` only (`nil`: no material).
    func job(for task: OwnerPairingTask, sources: PairingMaterialSources?) -> StoreJob {
        switch task {
        case .loadMaterial:
            return job("pairing: read the verifier", rereadsStore: false) { [self] in
                .ownerPairing(.materialLoaded(sources.flatMap(material(from:))))
            }
        case .storePendingOwnerKey(let key):
            return job("pairing: store the pending owner key") { [self] in
                let done = commit([.write(.ownerKey, key.recordBytes, replacingCorrupt: true), .delete(.spake2Verifier),
                                   .write(.ownerPairingFailures, UInt64(0).bigEndianBytes, replacingCorrupt: true)],
                                  what: "pending owner key \(key) with the verifier deleted and the failed attempts reset")
                return .ownerPairing(.pendingOwnerKeyStored(success: done.succeeded))
            }
        case .activateOwnerKey(let key):
            return job("pairing: activate the owner key") { [self] in
                guard case .key(let stored) = storedOwnerKey(), stored.publicKey == key.publicKey, !stored.isActive else {
                    logger.error("pairing: the owner key to activate is no longer the pending key")
                    return .ownerPairing(.ownerKeyActivated(success: false))
                }
                let done = commit([.write(.ownerKey, key.recordBytes)], what: "active owner key \(key)")
                return .ownerPairing(.ownerKeyActivated(success: done.succeeded))
            }
        case .deletePendingOwnerKey:
            return job("pairing: delete the pending owner key") { [self] in
                switch storedOwnerKey() {
                case .key(let stored) where !stored.isActive:
                    let done = commit([.delete(.ownerKey)], what: "deletion of the pending owner key \(stored)")
                    return .ownerPairing(.pendingOwnerKeyDeleted(success: done.succeeded))
                case .key, .absent, .damaged:
                    return .ownerPairing(.pendingOwnerKeyDeleted(success: true))
                }
            }
        case .signWithVehicleKey(let message):
            return job("pairing: AUTH1 signature", rereadsStore: false) { [self] in
                do {
                    return .ownerPairing(.signed(try store.sign(.vehicleIdentity, message: message)))
                } catch {
                    logger.error("pairing: the vehicle identity key could not sign AUTH1: \(error)")
                    return .ownerPairing(.signed(nil))
                }
            }
        }
    }

    private func material(from sources: PairingMaterialSources) -> PairingMaterial? {
        guard sources.verifierUsable else { return nil }
        guard let vin = sources.vin, vin.count == 17, let vehicleCertificate = sources.vehicleCertificate,
              let subCACertificate = sources.subCACertificate else {
            logger.error("pairing: VIN, [K] or [J1] missing: no session")
            return nil
        }
        let bytes: [UInt8]?
        do {
            bytes = try store.read(.spake2Verifier)
        } catch {
            logger.error("pairing: the verifier is unreadable: \(error)")
            return nil
        }
        guard let bytes else { return nil }
        guard let record = try? SpakeVerifierRecord(bytes: bytes) else {
            logger.error("pairing: the stored verifier is not a verifier record")
            return nil
        }
        return PairingMaterial(verifier: record, vin: vin, vehicleCertificate: vehicleCertificate,
                               subCACertificate: subCACertificate)
    }

    private func storedOwnerKey() -> StoredOwnerKey {
        StoreReadings(ownerKeyFrom: store).storedOwnerKey
    }
}

extension Result where Success == Void {
    /// Whether the work succeeded.
    var succeeded: Bool {
        if case .success = self { return true }
        return false
    }
}
