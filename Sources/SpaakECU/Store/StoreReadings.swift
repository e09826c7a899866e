import CloudProtocol
import OwnerPairing
import Provisioning
import SecureStore

/// One store record as the module reads it: missing, a value, or damaged. Every failure to
/// read (a bad MAC, a truncated file, EACCES, EIO, EMFILE, ...) is `.damaged`.
enum StoredValue<Value: Sendable & Equatable>: Sendable, Equatable {
    /// Never written, or deleted.
    case missing
    /// Present and intact.
    case value(Value)
    /// Present but damaged, or unreadable: the reason, for the log.
    case damaged(String)

    /// Whether the record is damaged or unreadable.
    var isDamaged: Bool {
        if case .damaged = self { return true }
        return false
    }
}

/// The fail-closed table of docs/RELIABILITY.md section 1, in one place: the store records
/// the module's decisions depend on, and the value each decision takes when a record is
/// missing and when it is damaged or unreadable.
///
/// Only `init(store:)` touches the store (the imperative shell); every decision below is a
/// pure function of the readings, so tests can build readings by hand. A damaged record is
/// never read as missing where missing would open something: the plant lock reads as set,
/// the failed-pairing count as the limit, an owed PP-03 as owed, a damaged message counter
/// stops its direction of the cloud channel.
struct StoreReadings: Sendable, Equatable {
    /// `plant-lock` (routine 0xD201).
    var plantLock: StoredValue<[UInt8]> = .missing
    /// `owner-pairing-failures` (routine 0xF011).
    var ownerPairingFailures: StoredValue<UInt64> = .missing
    /// `pp03-pending`: the reason byte of an owed PP-03.
    var pendingVerifierRequest: StoredValue<[UInt8]> = .missing
    /// `counter-c2v`: the last accepted C2V counter.
    var c2vCounter: StoredValue<UInt64> = .missing
    /// `counter-v2c`: the last V2C counter used.
    var v2cCounter: StoredValue<UInt64> = .missing
    /// `owner-key`: the owner's endpoint key record (ICD 8.3).
    var ownerKey: StoredValue<[UInt8]> = .missing
    /// `drm-uuid`, `spake2-verifier`, `cert-K` and the vehicle identity key slot.
    var drmUUID: SecureStoreEntryStatus = .absent
    var verifier: SecureStoreEntryStatus = .absent
    var vehicleCertificate: SecureStoreEntryStatus = .absent
    var vehicleKey: SecureStoreEntryStatus = .absent

    /// The record that remembers an owed PP-03 and its reason across restarts.
    static let pendingVerifierRecord = SecureStoreRecord(rawValue: "pp03-pending")!

    /// Nothing stored (a new module).
    init() {}

    /// Reads the records from the store (the only part that touches it).
    init(store: any SecureStore) {
        plantLock = Self.value(store, .plantLock)
        ownerPairingFailures = Self.counter(store, .ownerPairingFailures)
        pendingVerifierRequest = Self.value(store, Self.pendingVerifierRecord)
        c2vCounter = Self.counter(store, .c2vCounter)
        v2cCounter = Self.counter(store, .v2cCounter)
        ownerKey = Self.value(store, .ownerKey)
        drmUUID = store.status(.drmUUID)
        verifier = store.status(.spake2Verifier)
        vehicleCertificate = store.status(.vehicleIdentityCertificate)
        vehicleKey = store.status(.vehicleIdentity)
    }

    /// Reads the owner key record only (owner pairing's store jobs).
    init(ownerKeyFrom store: any SecureStore) {
        ownerKey = Self.value(store, .ownerKey)
    }

    static func value(_ store: any SecureStore, _ record: SecureStoreRecord) -> StoredValue<[UInt8]> {
        do {
            return try store.read(record).map { .value($0) } ?? .missing
        } catch {
            return .damaged("\(error)")
        }
    }

    static func counter(_ store: any SecureStore, _ record: SecureStoreRecord) -> StoredValue<UInt64> {
        do {
            return try store.readCounter(record).map { .value($0) } ?? .missing
        } catch {
            return .damaged("\(error)")
        }
    }

    // MARK: - The table

    /// Plant writes end: missing → unlocked (a new module); present or damaged → locked.
    var plantLocked: Bool {
        if case .missing = plantLock { return false }
        return true
    }

    /// Failed owner pairings: missing → 0; damaged → the limit (no pairing).
    func failedPairingAttempts(limit: UInt8) -> UInt8 {
        switch ownerPairingFailures {
        case .missing: return 0
        case .value(let count): return UInt8(clamping: count)
        case .damaged: return limit
        }
    }

    /// The owed PP-03: missing → none, unless the failed-pairing limit counts as reached
    /// (a damaged count): then owed with reason 2, as after the 8th failure; damaged (or a
    /// reason byte it cannot hold) → owed with reason 3 (a verifier is needed: the stored
    /// one, if any, is not used). Storing the new verifier resets both records.
    func owedVerifierRequest(limit: UInt8) -> PP03Reason? {
        switch pendingVerifierRequest {
        case .value(let bytes):
            if bytes.count == 1, let reason = PP03Reason(rawValue: bytes[0]) { return reason }
            return .verifierMissingAtPairing
        case .damaged: return .verifierMissingAtPairing
        case .missing: return failedPairingAttempts(limit: limit) >= limit ? .verifierDeletedAfterFailedPairings : nil
        }
    }

    /// Whether the owed-PP-03 record is unusable (damaged, or a reason byte it cannot hold).
    var pendingVerifierRequestDamaged: Bool {
        switch pendingVerifierRequest {
        case .missing: return false
        case .damaged: return true
        case .value(let bytes): return bytes.count != 1 || PP03Reason(rawValue: bytes[0]) == nil
        }
    }

    /// The verifier is used only when it is intact, the failed-pairing limit is not reached
    /// (a damaged count counts as reached) and the owed-PP-03 record is not damaged (either
    /// could hide a deletion that was due).
    func verifierUsable(limit: UInt8) -> Bool {
        verifier == .present && failedPairingAttempts(limit: limit) < limit && !pendingVerifierRequestDamaged
    }

    /// The owner key: missing → none; damaged, or a record that is not an owner key →
    /// damaged (no pairing window opens: it may hide an active key).
    var storedOwnerKey: StoredOwnerKey {
        switch ownerKey {
        case .missing: return .absent
        case .damaged: return .damaged
        case .value(let bytes): return OwnerKey(recordBytes: bytes).map { .key($0) } ?? .damaged
        }
    }

    /// [K] counts as installed only with its key, both intact (else PP-01 provisions anew).
    var vehicleIdentityUsable: Bool { vehicleCertificate == .present && vehicleKey == .present }

    /// The last accepted C2V counter: `.success(nil)` when missing (none accepted yet);
    /// `.failure` when damaged: every C2V message is refused.
    var lastC2VCounter: Result<UInt32?, StoreRecordDamaged> {
        switch c2vCounter {
        case .missing: return .success(nil)
        case .value(let counter): return .success(UInt32(clamping: counter))
        case .damaged(let reason): return .failure(StoreRecordDamaged(reason: reason))
        }
    }

    /// What the provisioning machine starts from, with `missingPreconditions`.
    func provisioningFacts(limit: UInt8, missingPreconditions: [String]) -> ProvisioningFacts {
        ProvisioningFacts(drmUUIDPresent: drmUUID == .present, vehicleCertificatePresent: vehicleIdentityUsable,
                          verifierPresent: verifierUsable(limit: limit), failedPairingAttempts: failedPairingAttempts(limit: limit),
                          pendingVerifierRequest: owedVerifierRequest(limit: limit), missingPreconditions: missingPreconditions)
    }

    /// The records among these that are damaged, with what the module does about each.
    var damagedWithConsequence: [String] {
        var lines: [String] = []
        if case .damaged(let reason) = plantLock { lines.append("plant-lock damaged (\(reason)): plant writes stay locked") }
        if case .damaged(let reason) = ownerPairingFailures {
            lines.append("owner-pairing-failures damaged (\(reason)): the limit counts as reached, the verifier is not used, PP-03 is owed")
        }
        if pendingVerifierRequestDamaged { lines.append("pp03-pending damaged: PP-03 is owed") }
        if case .damaged(let reason) = c2vCounter { lines.append("counter-c2v damaged (\(reason)): every C2V message is refused") }
        if case .damaged(let reason) = v2cCounter { lines.append("counter-v2c damaged (\(reason)): no V2C message is sent") }
        if storedOwnerKey == .damaged { lines.append("owner-key damaged: no pairing window opens until 0x0C or 0xD203 deletes it") }
        return lines
    }
}

/// A record the module cannot use because it is damaged or unreadable.
struct StoreRecordDamaged: Error, Equatable, CustomStringConvertible {
    var reason: String
    var description: String { "damaged: \(reason)" }
}
