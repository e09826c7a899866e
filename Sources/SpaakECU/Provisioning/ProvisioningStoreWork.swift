import CloudProtocol
import KeyM
import Provisioning
import SecureStore

/// The provisioning machine's tasks (ICD 7.6: PP-01 steps 7–15, SP-02, PP-02/PP-03) as
/// `StoreJob`s: store commits, key generation, the CSR and the KeyM check of [K]. The
/// product is the machine's `.taskCompleted` input.
extension StoreWork {
    /// The job doing `task`; `installed` are the certificates KeyM checks [K] against.
    func job(for task: ProvisioningTask, installed: KeyMInstalledCertificates) -> StoreJob {
        switch task {
        case .storeDrmUUID(let uuid):
            return job("store the drmUUID") { [self] in
                .provisioning(.drmUUIDStored(success: stored([.write(.drmUUID, uuid, replacingCorrupt: true)], "drmUUID")))
            }
        case .storeSubjectID(let subject):
            return job("store the subject id") { [self] in
                .provisioning(.subjectIDStored(success: stored([.write(.subjectID, Array(subject.utf8), replacingCorrupt: true)],
                                                               "subject id \(subject)")))
            }
        case .generateVehicleKeyPair:
            return job("PP-01 key generation") { [self] in
                .provisioning(.vehicleKeyPairGenerated(success: stored([.generateKey(.vehicleIdentityPending)],
                                                                       "new vehicle identity key pair")))
            }
        case .makeVehicleCSR(let commonName):
            return job("PP-01 CSR", rereadsStore: false) { [self] in
                do {
                    return .provisioning(.vehicleCSRMade(try store.makeCSR(.vehicleIdentityPending, commonName: commonName)))
                } catch {
                    logger.error("PP-01: vehicle CSR failed: \(error)")
                    return .provisioning(.vehicleCSRMade(nil))
                }
            }
        case .checkVehicleCertificate(let der):
            return job("PP-01 check of [K]", rereadsStore: false) { [self] in
                .provisioning(.vehicleCertificateChecked(checkVehicleCertificate(der, installed: installed)))
            }
        case .installVehicleCertificate(let der):
            return job("PP-01 install [K]") { [self] in
                .provisioning(.vehicleCertificateInstalled(success: stored(
                    [.promotePendingKey(.vehicleIdentity), .write(.vehicleIdentityCertificate, der, replacingCorrupt: true)],
                    "vehicle identity certificate [K] with its key")))
            }
        case .storeVerifier(let record, let along):
            return job("store the SPAKE2+ verifier") { [self] in
                .provisioning(.verifierStored(success: stored(
                    [.write(.spake2Verifier, record.bytes, replacingCorrupt: true)]
                        + along.flatMap(VehicleProvisioning.storeOperations),
                    "SPAKE2+ verifier")))
            }
        }
    }

    private func stored(_ operations: [SecureStoreOperation], _ what: String) -> Bool {
        if case .success = commit(operations, what: what) { return true }
        return false
    }

    /// PP-01 step 14: [K] carries the pending key, chains to [J] through [J1], has
    /// digitalSignature; the ICD 7.5 status of the answer.
    private func checkVehicleCertificate(_ der: [UInt8], installed: KeyMInstalledCertificates) -> CloudStatus {
        let key = try? store.publicKey(.vehicleIdentityPending)
        let check = KeyM.checkVehicleIdentityCertificate(der, publicKey: key, installed: installed, now: wallClock())
        if !check.isValid { logger.warning("PP-01: [K] refused: \(check)") }
        switch check.status {
        case .valid: return .ok
        case .invalidFormat: return .malformed
        case .invalid: return .certificateKeyMismatch
        default: return .chainOfTrustInvalid
        }
    }
}
