import Crypto
import Foundation
import SecureStore
import SpaakFuzz
import Synchronization

/// A `SecureStore` that prints every commit to stdout around the real one, so that the soak
/// parent knows, at the moment of a `kill -9`, which commit may have been in flight and what
/// each entry may hold:
///
///     PRE <n> <entry>=<expected value>...      before the commit (`?` = a generated key)
///     POST <n> ok <entry>=<value read back>... after it returned
///     POST <n> err <error>                     after it failed
final class RecordingStore: SecureStore {
    let base: any SecureStore
    private let sequence = Mutex(0)

    init(_ base: any SecureStore) { self.base = base }

    func commit(_ operations: [SecureStoreOperation]) throws(SecureStoreError) {
        let number = sequence.withLock { value -> Int in
            value += 1
            return value
        }
        let expected = StoreSnapshot.expected(operations, before: base)
        SoakOutput.line("PRE \(number) \(StoreSnapshot.line(expected))")
        do {
            try base.commit(operations)
        } catch {
            SoakOutput.line("POST \(number) err \(error)".replacingOccurrences(of: "\n", with: " "))
            throw error
        }
        let after = StoreSnapshot.take(base).filter { expected[$0.key] != nil }
        SoakOutput.line("POST \(number) ok \(StoreSnapshot.line(after))")
    }

    func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus { base.status(entry) }
    func audit() -> [SecureStoreEntry: SecureStoreEntryStatus] { base.audit() }
    func read(_ record: SecureStoreRecord) throws(SecureStoreError) -> [UInt8]? { try base.read(record) }
    func publicKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey? { try base.publicKey(slot) }
    func sign(_ slot: SecureStoreKeySlot, message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        try base.sign(slot, message: message)
    }
    func makeCSR(_ slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8] {
        try base.makeCSR(slot, commonName: commonName)
    }
}

/// Unbuffered lines on stdout (a `kill -9` must not lose a printed line).
enum SoakOutput {
    static func line(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
