import CloudProtocol
import E2E
import Provisioning

/// The facts the module reports, and the one mapping from them to `SPAAK_Status` (ICD 3)
/// and to DID 0xD120 (ICD 5.2): typed fields to typed signals, no bytes by index.
///
/// `SpaakModule` builds it from its components after every event: the store
/// (`StoreView.snapshot`), the TBM supervision, and what the cloud use cases show.
struct ModuleStatus {
    /// What the store holds.
    var store: ProvisioningSnapshot
    /// `TBM_Status` says online (ICD 3).
    var tbmOnline: Bool
    /// The use case, step, last error and failed pairings the cloud use cases show.
    var provisioning: ProvisioningStatus
    /// A store write a cloud use case owes is not stored yet.
    var storeWriteOwed: Bool
    /// Byte 7: the owner pairing state (ICD 8).
    var ownerPairing: OwnerPairingState = .noOwnerKey

    /// Byte 2 of `SPAAK_Status`, also the first byte of D120.
    var flags: SpaakProvisioningFlags {
        var flags = store.flags
        if tbmOnline { flags.insert(.tbmOnline) }
        return flags
    }

    /// The signals of `SPAAK_Status`.
    var signals: SpaakStatusSignals {
        SpaakStatusSignals(provisioningFlags: flags, activeUseCase: provisioning.activeUseCase,
                           useCaseStep: provisioning.step, lastErrorCode: provisioning.lastErrorCode,
                           failedPairingAttempts: provisioning.failedPairingAttempts, ownerPairing: ownerPairing.rawValue)
    }

    /// The module conditions byte of D120 (docs/ICD-CHOICES.md).
    var conditions: ModuleConditions {
        var conditions = store.conditions
        if storeWriteOwed { conditions.insert(.storeWriteOwed) }
        if !store.missingCloudPreconditions.isEmpty { conditions.insert(.cloudUseCasesWait) }
        return conditions
    }

    /// KeyM status of J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K] (D120, routine 0xD202).
    var certificateStatusBytes: [UInt8] { store.statuses.map(\.rawValue) }

    /// DID 0xD120: the flags, the seven KeyM status bytes, then the conditions byte when it
    /// is not zero.
    var provisioningStatusRecord: [UInt8] {
        let conditions = self.conditions
        return [flags.rawValue] + certificateStatusBytes + (conditions.isEmpty ? [] : [conditions.rawValue])
    }
}
