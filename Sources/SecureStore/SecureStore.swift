import Crypto

/// One change of an atomic `SecureStore.commit(_:)`.
public enum SecureStoreOperation: Sendable, Hashable {
    /// Writes a record. Over a *corrupt* record this fails with `.corrupt` unless
    /// `replacingCorrupt` is `true`: a damaged record is never replaced by accident
    /// (for example a counter rewritten from a default after a failed read).
    case write(SecureStoreRecord, [UInt8], replacingCorrupt: Bool = false)
    /// Deletes a record (absent or corrupt alike: deleting is explicit; a corrupt one is logged).
    case delete(SecureStoreRecord)
    /// Generates a new P-256 key in the slot, replacing (destroying) the key it held, even
    /// a corrupt one (logged).
    case generateKey(SecureStoreKeySlot)
    /// Destroys the key in the slot (even a corrupt one, logged).
    case deleteKey(SecureStoreKeySlot)
    /// Moves the key of the slot's pending slot into the (active) slot, destroying the
    /// old active key; the pending slot becomes empty. Fails if the pending slot is empty.
    case promotePendingKey(SecureStoreKeySlot)
}

/// The module's secure store (ICD 6): key slots whose private keys never leave it,
/// certificates, counters and small records.
///
/// Every change is atomic, alone or as a `commit` of several operations: after a crash or a
/// power loss at any instant the store holds all the old values or all the new ones. Each
/// entry is checked on every access; a damaged one reads as `.corrupt(reason:)`, is never
/// used, and is replaced only by an explicit operation. A present identity certificate
/// always carries its key slot's public key: a commit that would break this is refused.
///
/// `FileSecureStore` keeps the entries in files; an HSM-backed store could implement the
/// same protocol. `InMemorySecureStore` serves unit tests of the other modules.
public protocol SecureStore: AnyObject, Sendable {
    /// Applies the operations in order, all or none, durably; returns when they are.
    func commit(_ operations: [SecureStoreOperation]) throws(SecureStoreError)

    /// The state of an entry (a fresh check of its integrity; an entry that cannot be read
    /// at all reads as corrupt, the reason saying "unreadable").
    func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus

    /// Every entry that is present or corrupt, with its state (absent entries are left out).
    func audit() -> [SecureStoreEntry: SecureStoreEntryStatus]

    /// A record's content; `nil` if absent; throws `.corrupt` if damaged.
    func read(_ record: SecureStoreRecord) throws(SecureStoreError) -> [UInt8]?

    /// The public key of a slot; `nil` if empty; throws `.corrupt` if damaged.
    func publicKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey?

    /// ECDSA-with-SHA256 signature of `message` by the slot's key, DER-encoded.
    func sign(_ slot: SecureStoreKeySlot, message: [UInt8]) throws(SecureStoreError) -> [UInt8]

    /// A PKCS#10 CSR (DER) for the slot's key: subject `CN=<commonName>`, ecdsa-with-SHA256.
    func makeCSR(_ slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8]
}

extension SecureStore {
    /// The state of a record.
    public func status(_ record: SecureStoreRecord) -> SecureStoreEntryStatus { status(.record(record)) }

    /// The state of a key slot.
    public func status(_ slot: SecureStoreKeySlot) -> SecureStoreEntryStatus { status(.key(slot)) }

    /// Writes one record atomically (see `SecureStoreOperation.write`).
    public func write(_ record: SecureStoreRecord, _ bytes: [UInt8], replacingCorrupt: Bool = false) throws(SecureStoreError) {
        try commit([.write(record, bytes, replacingCorrupt: replacingCorrupt)])
    }

    /// Deletes one record atomically.
    public func delete(_ record: SecureStoreRecord) throws(SecureStoreError) {
        try commit([.delete(record)])
    }

    /// Generates a new key in the slot and returns its public key.
    @discardableResult
    public func generateKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey {
        try commit([.generateKey(slot)])
        guard let key = try publicKey(slot) else { throw .keyAbsent(slot) }
        return key
    }

    /// Destroys the key in the slot.
    public func deleteKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) {
        try commit([.deleteKey(slot)])
    }

    /// Reads an 8-byte big-endian counter; `nil` if absent; `.corrupt` if damaged or not 8 bytes.
    public func readCounter(_ record: SecureStoreRecord) throws(SecureStoreError) -> UInt64? {
        guard let bytes = try read(record) else { return nil }
        guard bytes.count == 8 else {
            throw .corrupt(.record(record), reason: "a counter holds 8 bytes, found \(bytes.count)")
        }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Writes an 8-byte big-endian counter.
    public func writeCounter(_ record: SecureStoreRecord, _ value: UInt64) throws(SecureStoreError) {
        try write(record, (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) })
    }

    /// Adds one to a counter (an absent counter counts as 0) and returns the new value.
    /// A corrupt counter is not reset: the error is thrown. (Read, then write: callers that
    /// share a counter across threads serialise themselves.)
    @discardableResult
    public func incrementCounter(_ record: SecureStoreRecord) throws(SecureStoreError) -> UInt64 {
        let current = try readCounter(record) ?? 0
        guard current < UInt64.max else { throw .invalidOperation("counter \(record) is at its maximum") }
        try writeCounter(record, current + 1)
        return current + 1
    }
}
