import Crypto
import Synchronization

/// A secure store in memory, with the same rules as `FileSecureStore` (atomic commits,
/// corrupt entries never used nor replaced by accident, identity certificates bound to
/// their keys): for unit tests of the other modules.
///
/// Tests can damage an entry (`injectCorruption`) to exercise KeyM NOT_AVAILABLE versus
/// invalid-format paths, and make commits fail (`commitFailure`) to exercise NRC 0x72.
public final class InMemorySecureStore: EntryPayloadStore {
    struct State: Sendable {
        var entries: [SecureStoreEntry: EntryState] = [:]
        var commitFailure: SecureStoreError?
        var commits = 0
    }

    let state = Mutex(State())

    /// Creates an empty store.
    public init() {}

    /// When set, every commit fails with this error and changes nothing.
    public var commitFailure: SecureStoreError? {
        get { state.withLock { $0.commitFailure } }
        set { state.withLock { $0.commitFailure = newValue } }
    }

    /// How many commits succeeded.
    public var commitCount: Int { state.withLock { $0.commits } }

    /// Marks a present or absent entry as damaged, as a tampered file would read.
    public func injectCorruption(_ entry: SecureStoreEntry, reason: String = "injected damage") {
        state.withLock { $0.entries[entry] = .corrupt(reason) }
    }

    /// Applies the operations in order, all or none (see `SecureStore.commit`).
    public func commit(_ operations: [SecureStoreOperation]) throws(SecureStoreError) {
        try state.withLock { (state: inout State) throws(SecureStoreError) in
            if let failure = state.commitFailure { throw failure }
            let entries = state.entries
            let plan = try SecureStorePlanner.plan(
                operations, current: { entries[$0] ?? .absent }, newKey: KeyMaterial.generate)
            for change in plan.changes {
                state.entries[change.entry] = change.payload.map { .present($0) }
            }
            state.commits += 1
        }
    }

    /// The entry's state, checked now (an unreadable file reads as corrupt).
    public func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus {
        entryState(entry).status
    }

    /// Every present or corrupt entry with its state.
    public func audit() -> [SecureStoreEntry: SecureStoreEntryStatus] {
        state.withLock { $0.entries.mapValues(\.status) }
    }

    /// The record's content; `nil` if absent; `.corrupt` if damaged.
    public func read(_ record: SecureStoreRecord) throws(SecureStoreError) -> [UInt8]? { try payload(.record(record)) }

    /// The slot's public key; `nil` if empty; `.corrupt` if damaged.
    public func publicKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey? { try publicKey(of: slot) }

    /// ECDSA-with-SHA256 signature (DER) by the slot's key.
    public func sign(_ slot: SecureStoreKeySlot, message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        try signature(by: slot, of: message)
    }

    /// PKCS#10 CSR (DER) for the slot's key, `CN=<commonName>`, ecdsa-with-SHA256.
    public func makeCSR(_ slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8] {
        try certificateSigningRequest(for: slot, commonName: commonName)
    }

    func entryState(_ entry: SecureStoreEntry) -> EntryState {
        state.withLock { $0.entries[entry] ?? .absent }
    }

    func payload(_ entry: SecureStoreEntry) throws(SecureStoreError) -> [UInt8]? {
        try entryState(entry).payload(of: entry)
    }
}
