import KeyM
import SecureStore
import UDS

/// The slow half of the plant's UDS requests (RP-01, RP-02, the plant lock): KeyM checks,
/// key generation and store commits with their fsyncs, then re-reading the store. Each runs
/// as a `StoreJob` off the event loop; its product is a `StoreWorkResult` that
/// `DiagnosticApplication` turns into the UDS answer.
extension StoreWork {
    /// Checks a certificate with KeyM against `installed` (`slot` `nil`: the ECU identity
    /// certificate against the ECU key), then stores it in `record`.
    func writeCertificate(did: DataIdentifier, _ data: [UInt8], record: SecureStoreRecord, slot: KeyMCertificateSlot?,
                          installed: KeyMInstalledCertificates) -> StoreJob {
        job("write of DID \(did)") { [self] in
            let check = slot.map { KeyM.check(data, slot: $0, installed: installed, now: wallClock()) }
                ?? KeyM.checkECUIdentityCertificate(data, publicKey: installed.ecuIdentityPublicKey,
                                                    installed: installed, now: wallClock())
            guard check.isValid else {
                logger.warning("certificate for DID \(did) refused: \(check)")
                return .plant(.failure(.certificateRefused))
            }
            return .plant(commit([.write(record, data, replacingCorrupt: true)], what: "certificate \(record)"))
        }
    }

    /// Stores `operations` (the VIN, the plant lock) atomically.
    func commitJob(_ operations: [SecureStoreOperation], what: String) -> StoreJob {
        job(what) { [self] in .plant(commit(operations, what: what)) }
    }

    /// RP-02 (routine 0xD200): a new P-256 key pair in the store and its CSR (CN = `serial`),
    /// installed together; an ECU certificate of the previous key is removed in the same commit.
    func generateECUIdentity(serial: String) -> StoreJob {
        job("RP-02 key generation") { [self] in
            do {
                try store.generateKey(.ecuIdentityPending)
                let csr = try store.makeCSR(.ecuIdentityPending, commonName: serial)
                return .plant(commit([.promotePendingKey(.ecuIdentity), .delete(.ecuIdentityCertificate),
                                      .write(.ecuIdentityCSR, csr, replacingCorrupt: true)],
                                     what: "ECU identity key pair and CSR (CN=\(serial))"))
            } catch {
                logger.error("RP-02: key generation failed: \(error)")
                return .plant(.failure(.storeFailure))
            }
        }
    }
}
