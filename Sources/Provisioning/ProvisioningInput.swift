import CloudProtocol

/// Everything that drives the provisioning machine, besides the passing of time
/// (`ProvisioningMachine.handleTimeout(now:)`).
public enum ProvisioningInput: Sendable {
    /// `TBM_Status` says online (ICD 3): a transition from offline. Starts owed use cases and
    /// resends an outstanding request; ends the wait after a failure.
    case tbmWentOnline
    /// The TBM went offline: nothing is sent until it returns.
    case tbmWentOffline
    /// A C2V message that passed CloudProtocol's verification (ICD 7.4) against
    /// `ProvisioningMachine.expectation`.
    case messageAccepted(CloudMessage)
    /// A C2V message that failed verification: counted, and its code shown as last error.
    case messageRejected(CloudStatus)
    /// The result of the `ProvisioningTask` the machine asked for last.
    case taskCompleted(ProvisioningTaskResult)
    /// A diagnostic routine (ICD 5.4) was started.
    case routine(ProvisioningRoutine)
    /// The preconditions of the module-initiated use cases changed (see
    /// `ProvisioningFacts.missingPreconditions`): empty when they all hold, which starts an
    /// owed use case if the TBM is online.
    case preconditionsChanged(missing: [String])
    /// Owner pairing (ICD 8.3): a real failed attempt, counted like 0xF011 (the 8th deletes the
    /// verifier, PP-03 reason 2).
    case pairingAttemptFailed
    /// Owner pairing found no verifier in a phase 2 session: PP-03 reason 3, like 0xF010.
    case pairingWithoutVerifier
    /// Phase 2 completed: the pairing's own commit deleted the verifier and reset the count.
    case verifierConsumedByPairing
    /// Send OwnerPairingStatus 0x0D (ICD 8.5) when the TBM is online and no use case runs.
    case ownerPairingReport(OwnerPairingStatusReport)
}

/// The routines of ICD 5.4 that concern the cloud use cases.
public enum ProvisioningRoutine: Hashable, Sendable {
    /// 0xD203: owner change. Deletes [K], subject id and verifier, then runs PP-01 again.
    case ownerChange
    /// 0xF010: owner pairing starts; without a verifier this starts PP-03 (reason 3).
    case ownerPairingStarted
    /// 0xF011: an owner pairing attempt failed; the 8th deletes the verifier (PP-03 reason 2).
    case ownerPairingFailed
}

/// The outcome of a `ProvisioningTask`, one case per task.
public enum ProvisioningTaskResult: Hashable, Sendable {
    /// `storeDrmUUID` done (`true`) or the store failed.
    case drmUUIDStored(success: Bool)
    /// `storeSubjectID` done or failed.
    case subjectIDStored(success: Bool)
    /// `generateVehicleKeyPair` done or failed.
    case vehicleKeyPairGenerated(success: Bool)
    /// `makeVehicleCSR`: the CSR (DER), or `nil` if it could not be made.
    case vehicleCSRMade([UInt8]?)
    /// `checkVehicleCertificate`: `.ok`, or why [K] fails (1 malformed, 3 chain of trust,
    /// 4 not the pending key, ...).
    case vehicleCertificateChecked(CloudStatus)
    /// `installVehicleCertificate` done or failed (then nothing changed).
    case vehicleCertificateInstalled(success: Bool)
    /// `storeVerifier` done or failed (then nothing changed).
    case verifierStored(success: Bool)
}
