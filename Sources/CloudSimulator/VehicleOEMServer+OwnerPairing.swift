import CloudProtocol
import Foundation
import SpaakCore

/// Owner pairing on the cloud side (ICD 8.5): the vehicle's OwnerPairingStatus 0x0D, the
/// VOS's OwnerPairingModeRequest 0x0E push, the KTS's owner key tracking.
extension VehicleOEMServer {
    /// Records a verified 0x0D and acknowledges it with 0x06. The record keeps the state,
    /// owner key id, status, transaction id and time of the latest report; a 0x0D that
    /// echoes the transaction id of the last 0x0E pushed is its answer (marked answered). A
    /// 0x0D with state 3 makes its key the KTS's active owner key; one without a key (state
    /// 0 or 1) clears it. A resent 0x0D (same transaction id, same content) is acknowledged
    /// again and changes nothing. A new 0x0D with state 2 or 3 (an owner key) ends the
    /// current verifier's pairing password (`paired`, forgotten).
    func recordOwnerPairing(_ message: CloudMessage, state: OwnerPairingState, ownerKeyID: [UInt8]?, status: CloudStatus,
                            store: any CloudStore, date: Date) throws -> Answer {
        guard message.useCase == .ownerPairing else {
            return .refuse(.unexpectedMessage, "OwnerPairingStatus with use case \(message.useCase), not \(UseCase.ownerPairing)")
        }
        var record = try store.ownerPairing(serial: message.serial) ?? OwnerPairingRecord(serial: message.serial)
        let report = "state \(state.rawValue) (\(state)), owner key \(ownerKeyID?.hexString ?? "-"), status \(status.rawValue) (\(status))"
        let answersPush = record.modeRequestTransactionId == message.transactionID
        let context = answersPush ? "answer to OwnerPairingModeRequest: " : ""
        if record.transactionId == message.transactionID, record.state == state.rawValue, record.ownerKeyId == ownerKeyID,
           record.status == status.rawValue {
            return .payload(.c2vUsecaseCompletionAck, summary: context + report + " (again)")
        }
        record.state = state.rawValue
        record.ownerKeyId = ownerKeyID
        record.status = status.rawValue
        record.transactionId = message.transactionID
        record.updatedAt = date
        if answersPush { record.modeAnsweredAt = date }
        switch state {
        case .ownerKeyActive: record.activeOwnerKeyId = ownerKeyID
        case .noOwnerKey, .windowOpen: record.activeOwnerKeyId = nil
        case .ownerKeyPending: break  // a pending key is not tracked until it is active
        }
        try store.saveOwnerPairing(record)
        var ended = ""
        if state.hasOwnerKey, let current = try store.currentPassword(serial: message.serial), var password = current.password,
           password.endReason == nil {
            password.end(.paired, date: date)
            try store.savePassword(password)
            ended = "; pairing password of verifier \(password.verifierId) ended (paired)"
        }
        let tracking = state == .ownerKeyActive ? "; KTS tracks owner key \(ownerKeyID?.hexString ?? "-")" : ""
        return .payload(.c2vUsecaseCompletionAck, summary: context + report + tracking + ended)
    }

    /// OP-01: asks the vehicle to open its pairing window, an OwnerPairingModeRequest 0x0E
    /// with a new transaction id (use case 7), signed by the VOS like every VOS push; the
    /// vehicle answers with a 0x0D echoing it.
    public func requestPairingMode(serial: String, date: Date) throws -> VOSResult {
        var result = VOSResult()
        let pending = try repository.transaction { store -> VOSResult in
            var pending = VOSResult()
            try requireECU(serial, store: store)
            let transactionID = randomBytes(16)
            var record = try store.ownerPairing(serial: serial) ?? OwnerPairingRecord(serial: serial)
            record.modeRequestTransactionId = transactionID
            record.modeRequestedAt = date
            record.modeAnsweredAt = nil
            try store.saveOwnerPairing(record)
            try emit(.ownerPairingModeRequest, serial: serial, transactionID: transactionID, useCase: .ownerPairing,
                     store: store, into: &pending)
            try queueInOutbox(pending, serial: serial, store: store, date: date)
            return pending
        }
        commit(pending, into: &result)
        return result
    }

    /// The KTS's side of an owner key termination: the owner key the vehicle holds (the
    /// active one, else the pending one of its last report) is recorded as terminated and no
    /// longer active. Returns a few words for the trace.
    func recordTermination(serial: String, store: any CloudStore, date: Date) throws -> String {
        guard var record = try store.ownerPairing(serial: serial) else { return "no owner key known" }
        let pendingKey = record.state == OwnerPairingState.ownerKeyPending.rawValue ? record.ownerKeyId : nil
        guard let key = record.activeOwnerKeyId ?? pendingKey else { return "no owner key known" }
        record.terminatedOwnerKeyId = key
        record.terminatedAt = date
        record.activeOwnerKeyId = nil
        try store.saveOwnerPairing(record)
        return "owner key \(key.hexString) terminated"
    }
}
