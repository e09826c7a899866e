import Foundation
import KeyM
import Logging
import SecureStore
import UDS

/// The slow half of the plant's UDS requests (RP-01, RP-02, the plant lock): KeyM checks,
/// key generation and store commits with their fsyncs, then re-reading the store. It runs
/// as a `StoreJob` off the event loop, so it touches no module state: what it needs is
/// copied in, what it produces goes back in the `StoreJobOutcome`.
struct PlantStoreWork: Sendable {
    let store: any SecureStore
    let wallClock: @Sendable () -> Date
    let logger: Logger
    /// The ECU serial (CN of the CSR).
    let serial: String

    /// Checks a certificate with KeyM against `installed`, then stores it in `record`.
    func writeCertificate(did: UInt16, _ data: [UInt8], record: SecureStoreRecord, slot: KeyMCertificateSlot?,
                          installed: KeyMInstalledCertificates) -> StoreJob {
        StoreJob(name: "write of DID \(hex(did))") {
            let check = slot.map { KeyM.check(data, slot: $0, installed: installed, now: wallClock()) }
                ?? KeyM.checkECUIdentityCertificate(data, publicKey: installed.ecuIdentityPublicKey,
                                                    installed: installed, now: wallClock())
            guard check.isValid else {
                logger.warning("certificate for DID \(hex(did)) refused: \(check)")
                return StoreJobOutcome(result: .negative(.requestOutOfRange), snapshot: nil, routineResult: nil)
            }
            return outcome(commit([.write(record, data, replacingCorrupt: true)], what: "certificate \(record)"))
        }
    }

    /// Stores `operations` (the VIN, the plant lock) atomically; `routine` gets the result
    /// `[status, 0]` recorded (0 done, 2 failed).
    func commitJob(_ operations: [SecureStoreOperation], what: String, routine: UInt16? = nil) -> StoreJob {
        StoreJob(name: what) {
            let result = commit(operations, what: what)
            let status: [UInt8] = result == .positive([]) ? [0x00, 0x00] : [0x02, NegativeResponseCode.generalProgrammingFailure.rawValue]
            return outcome(result == .positive([]) && routine != nil ? .positive([0x00]) : result,
                           routine: routine.map { ($0, status) })
        }
    }

    /// RP-02 (routine 0xD200): a new P-256 key pair in the store and its CSR (CN = serial),
    /// installed together; an ECU certificate of the previous key is removed in the same commit.
    func generateECUIdentity() -> StoreJob {
        StoreJob(name: "RP-02 key generation") {
            let result: ApplicationResult
            do {
                try store.generateKey(.ecuIdentityPending)
                let csr = try store.makeCSR(.ecuIdentityPending, commonName: serial)
                let stored = commit([.promotePendingKey(.ecuIdentity), .delete(.ecuIdentityCertificate),
                                     .write(.ecuIdentityCSR, csr, replacingCorrupt: true)],
                                    what: "ECU identity key pair and CSR (CN=\(serial))")
                result = stored == .positive([]) ? .positive([0x00]) : stored
            } catch {
                logger.error("RP-02: key generation failed: \(error)")
                result = .negative(.generalProgrammingFailure)
            }
            let status: [UInt8]
            if case .negative(let nrc) = result { status = [0x02, nrc.rawValue] } else { status = [0x00, 0x00] }
            return outcome(result, routine: (0xD200, status))
        }
    }

    /// Applies store operations atomically; NRC 0x72 on failure.
    func commit(_ operations: [SecureStoreOperation], what: String) -> ApplicationResult {
        do {
            try store.commit(operations)
        } catch {
            logger.error("secure store: writing \(what) failed: \(error)")
            return .negative(.generalProgrammingFailure)
        }
        logger.info("stored \(what)")
        return .positive([])
    }

    /// The outcome with the store re-read (after a failure too: the store may have changed).
    private func outcome(_ result: ApplicationResult, routine: (routine: UInt16, status: [UInt8])? = nil) -> StoreJobOutcome {
        StoreJobOutcome(result: result, snapshot: ProvisioningSnapshot(store: store, now: wallClock()), routineResult: routine)
    }
}
