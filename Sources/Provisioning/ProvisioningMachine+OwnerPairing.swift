import CloudProtocol
import SpaakCore

/// Owner pairing's part in the cloud use cases (ICD 8.5): OwnerPairingStatus 0x0D as a use
/// case of its own (OP, use case 7) with the section 7 rules (one at a time, retries, sent
/// while the TBM is online, started over 60 s after a timeout), and the verifier facts that
/// a pairing changes.
extension ProvisioningMachine {
    /// Owes a 0x0D; it starts when the TBM is online and nothing else runs (reports first:
    /// they answer a push or finish a pairing the owner waits for).
    mutating func queueOwnerPairingReport(_ report: OwnerPairingStatusReport, now: Instant) {
        ownerPairingReports.append(report)
        log(.info, "OwnerPairingStatus owed: state \(report.state.rawValue), status \(report.status.rawValue)")
        schedule(now: now)
    }

    /// Sends the oldest owed 0x0D: echoing the 0x0E it answers, or with a fresh transaction id.
    mutating func startOwnerPairingReport(now: Instant) {
        guard !ownerPairingReports.isEmpty else { return }
        let report = ownerPairingReports.removeFirst()
        run = Run(useCase: .ownerPairing, step: .ownerPairingStatusSent, pushTransactionID: report.pushTransactionID,
                  ownerPairingReport: report)
        log(.info, "OP: OwnerPairingStatus 0x0D, state \(report.state.rawValue), status \(report.status.rawValue)")
        publishStatus()
        request(.ownerPairingStatus(state: report.state, ownerKeyID: report.ownerKeyID, status: report.status),
                answer: .c2vUsecaseCompletionAck, transactionID: report.pushTransactionID, now: now)
    }

    /// Phase 2 completed: its commit deleted the verifier (one verifier serves one pairing)
    /// and reset the count. No PP-03 is owed for it.
    mutating func verifierConsumedByPairing() {
        facts.verifierPresent = false
        facts.failedPairingAttempts = 0
        log(.info, "verifier used by a pairing: deleted, failed attempts reset")
        publishStatus()
    }
}
