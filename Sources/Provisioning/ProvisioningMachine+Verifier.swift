import CloudProtocol
import SpaakCore

/// PP-02 (verifier pushed by the cloud), PP-03 (verifier requested by the module) and the
/// routines that trigger them or PP-01 (ICD 5.4, 7.6).
extension ProvisioningMachine {
    /// PP-02: a push of Spake2VerifierProvisioning (0x0A). A waiting SP-02/PP-01 is suspended.
    mutating func startPP02(_ message: ReceivedC2V, now: Instant) {
        if var interrupted = run {
            interrupted.request?.retryAt = nil
            suspended = interrupted
            log(.info, "\(interrupted.useCase) suspended by a PP-02 push")
        }
        run = Run(useCase: .pp02, step: .verifierStoring, pushTransactionID: message.transactionID)
        log(.info, "PP-02 started: verifier pushed")
        publishStatus()
        verifierReceived(message, now: now)
    }

    /// PP-03 step 1: Spake2VerifierRequest (0x09) with the owed reason.
    mutating func startPP03(now: Instant) {
        guard let reason = facts.pendingVerifierRequest else { return }
        run = Run(useCase: .pp03, step: .verifierRequested)
        log(.info, "PP-03 started, reason \(reason.rawValue)")
        publishStatus()
        request(.spake2VerifierRequest(reason), answer: .spake2VerifierProvisioning, now: now)
    }

    /// A verifier record (PP-02 push, PP-03 answer): stored if valid, else status 1.
    mutating func verifierReceived(_ message: ReceivedC2V, now: Instant) {
        guard let record = message.verifier else {
            log(.warning, "verifier record missing or invalid: not stored")
            return reportVerifierStatus(.malformed, now: now)
        }
        enter(.verifierStoring)
        output.append(.perform(.storeVerifier(record, alongWith: [
            .setFailedPairingAttempts(0), .setPendingVerifierRequest(nil),
        ])))
    }

    /// After the store: Spake2VerifierStatus (0x0B).
    mutating func verifierStored(_ success: Bool, now: Instant) {
        if success {
            facts.verifierPresent = true
            facts.failedPairingAttempts = 0
            facts.pendingVerifierRequest = nil
            log(.info, "verifier stored")
            output.append(.verifierChanged)
        }
        reportVerifierStatus(success ? .ok : .storeFailure, now: now)
    }

    /// Spake2VerifierStatus (0x0B): PP-02 echoes the push's transaction id, PP-03 takes a
    /// fresh one; the acknowledgement ends the use case, failed unless `status` is `.ok`.
    mutating func reportVerifierStatus(_ status: CloudStatus, now: Instant) {
        enter(.verifierStatusSent(status))
        request(.spake2VerifierStatus(status), answer: .c2vUsecaseCompletionAck,
                transactionID: run?.pushTransactionID, now: now)
    }

    /// OwnerKeyTermination (0x0C): the owner key and the verifier are deleted (one commit)
    /// and PP-03 (reason 1) owed (ICD 8.5).
    mutating func ownerKeyTermination(now: Instant) {
        log(.info, "owner key termination: owner key and verifier deleted")
        verifierDeleted(reason: .ownerKeyTermination, alongWith: [.deleteOwnerKey], now: now)
        output.append(.ownerKeyDeleted(reason: "owner key termination"))
    }

    /// Starts a routine of ICD 5.4.
    mutating func start(_ routine: ProvisioningRoutine, now: Instant) {
        switch routine {
        case .ownerChange: ownerChange(now: now)
        case .ownerPairingStarted: ownerPairingStarted(now: now)
        case .ownerPairingFailed: ownerPairingFailed(now: now)
        }
    }

    /// 0xD203: delete [K], subject id and verifier in one commit, then PP-01 again.
    mutating func ownerChange(now: Instant) {
        suspended = nil
        abort(because: "owner change", now: now)
        facts.vehicleCertificatePresent = false
        facts.verifierPresent = false
        facts.pendingVerifierRequest = nil
        output.append(.persist([.deleteVehicleIdentity, .deleteVerifier, .setPendingVerifierRequest(nil), .deleteOwnerKey]))
        output.append(.verifierChanged)
        output.append(.ownerKeyDeleted(reason: "owner change"))
        restartAt.removeAll()
        log(.info, "owner change: [K], subject id, verifier and owner key deleted")
        publishStatus()
        schedule(now: now)
    }

    /// 0xF010: without a verifier, PP-03 with reason 3 (unless one is already on its way).
    mutating func ownerPairingStarted(now: Instant) {
        if facts.verifierPresent {
            log(.info, "owner pairing start: verifier present")
        } else if facts.pendingVerifierRequest != nil || run?.useCase == .pp02 || run?.useCase == .pp03 {
            log(.info, "owner pairing start: verifier already requested")
        } else {
            log(.info, "owner pairing start without a verifier")
            facts.pendingVerifierRequest = .verifierMissingAtPairing
            restartAt[.verifierRequest] = nil
            output.append(.persist([.setPendingVerifierRequest(.verifierMissingAtPairing)]))
            schedule(now: now)
        }
    }

    /// 0xF011: one more failed attempt; the limit (8th) deletes the verifier, PP-03 reason 2.
    mutating func ownerPairingFailed(now: Instant) {
        let attempts = facts.failedPairingAttempts == .max ? .max : facts.failedPairingAttempts + 1
        facts.failedPairingAttempts = attempts
        log(.info, "failed owner pairing attempt \(attempts)")
        if attempts >= configuration.failedPairingLimit && facts.verifierPresent {
            log(.warning, "\(attempts) failed owner pairings: verifier deleted")
            verifierDeleted(reason: .verifierDeletedAfterFailedPairings,
                            alongWith: [.setFailedPairingAttempts(attempts)], now: now)
        } else {
            output.append(.persist([.setFailedPairingAttempts(attempts)]))
            publishStatus()
        }
    }

    /// Deletes the verifier, owes PP-03 for `reason` (one commit with `alongWith`) and
    /// abandons a PP-02/PP-03 in progress, whose verifier is now void.
    mutating func verifierDeleted(reason: PP03Reason, alongWith: [ProvisioningStoreOperation], now: Instant) {
        facts.verifierPresent = false
        facts.pendingVerifierRequest = reason
        restartAt[.verifierRequest] = nil
        output.append(.persist(alongWith + [.deleteVerifier, .setPendingVerifierRequest(reason)]))
        output.append(.verifierChanged)
        if run?.useCase == .pp02 || run?.useCase == .pp03 {
            abort(because: "verifier deleted", now: now)
            resumeOrSchedule(now: now)
        } else {
            publishStatus()
            schedule(now: now)
        }
    }
}
