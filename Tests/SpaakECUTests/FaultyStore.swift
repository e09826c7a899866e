import Crypto
import SecureStore
import Synchronization

/// A secure store in memory whose commits and reads fail on demand, as a full disk (ENOSPC),
/// a failing disk (EIO) or a file the process may not read (EACCES) would make them.
final class FaultyStore: SecureStore {
    let inner = InMemorySecureStore()
    private let rules = Mutex<Rules>(Rules())

    struct Rules {
        var failCommit: (@Sendable ([SecureStoreOperation]) -> Bool)?
        var unreadable: Set<SecureStoreEntry> = []
        var failedCommits = 0
    }

    /// Commits for which `rule` is true fail with EIO and change nothing (`nil`: none fail).
    func failCommits(where rule: (@Sendable ([SecureStoreOperation]) -> Bool)?) {
        rules.withLock { $0.failCommit = rule }
    }

    /// Reading `entry` fails with EACCES (its status reads corrupt, "unreadable").
    func makeUnreadable(_ entry: SecureStoreEntry) { rules.withLock { _ = $0.unreadable.insert(entry) } }

    /// Commits that failed so far.
    var failedCommits: Int { rules.withLock { $0.failedCommits } }

    func commit(_ operations: [SecureStoreOperation]) throws(SecureStoreError) {
        let fails = rules.withLock { (rules: inout Rules) -> Bool in
            guard let rule = rules.failCommit, rule(operations) else { return false }
            rules.failedCommits += 1
            return true
        }
        if fails { throw .io(operation: "write", path: "journal", errno: 5) }
        try inner.commit(operations)
    }

    private func check(_ entry: SecureStoreEntry) throws(SecureStoreError) {
        if rules.withLock({ $0.unreadable.contains(entry) }) { throw .io(operation: "open", path: entry.description, errno: 13) }
    }

    func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus {
        if rules.withLock({ $0.unreadable.contains(entry) }) { return .corrupt(reason: "unreadable: EACCES") }
        return inner.status(entry)
    }

    func audit() -> [SecureStoreEntry: SecureStoreEntryStatus] { inner.audit() }

    func read(_ record: SecureStoreRecord) throws(SecureStoreError) -> [UInt8]? {
        try check(.record(record))
        return try inner.read(record)
    }

    func publicKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey? {
        try check(.key(slot))
        return try inner.publicKey(slot)
    }

    func sign(_ slot: SecureStoreKeySlot, message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        try check(.key(slot))
        return try inner.sign(slot, message: message)
    }

    func makeCSR(_ slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8] {
        try check(.key(slot))
        return try inner.makeCSR(slot, commonName: commonName)
    }
}

extension [SecureStoreOperation] {
    /// Whether one of the operations writes or deletes `record`.
    func touches(_ record: SecureStoreRecord) -> Bool {
        contains { operation in
            switch operation {
            case .write(let written, _, _): return written == record
            case .delete(let deleted): return deleted == record
            default: return false
            }
        }
    }
}
