import Crypto
import Logging

/// The store of a module whose secure store cannot be opened (typically a damaged or lost
/// device key): the module still starts and answers diagnostics, but nothing in the store
/// can be trusted or changed.
///
/// Every entry reads as `.corrupt(reason:)` (so KeyM shows status 9, the plant lock counts
/// as set, counters as exhausted), every commit fails with `.unusable`, and nothing is ever
/// written: the device key is never regenerated automatically. Recovery is explicit:
/// `spaak-ecu recreate-store` (see `SecureStoreRecreation`).
public final class DegradedSecureStore: SecureStore {
    /// Why the store is degraded (logged, and the reason of every corrupt entry).
    public let reason: String

    /// A degraded store that says `reason`.
    public init(reason: String) { self.reason = reason }

    /// Always fails: nothing is written in degraded mode.
    public func commit(_ operations: [SecureStoreOperation]) throws(SecureStoreError) {
        throw .unusable("\(reason); nothing is written (recover with spaak-ecu recreate-store)")
    }

    /// Corrupt, whatever the entry.
    public func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus { .corrupt(reason: reason) }

    /// Every well-known entry, corrupt.
    public func audit() -> [SecureStoreEntry: SecureStoreEntryStatus] {
        Dictionary(uniqueKeysWithValues: SecureStoreEntry.wellKnown.map { ($0, SecureStoreEntryStatus.corrupt(reason: reason)) })
    }

    /// Throws `.corrupt`.
    public func read(_ record: SecureStoreRecord) throws(SecureStoreError) -> [UInt8]? {
        throw .corrupt(.record(record), reason: reason)
    }

    /// Throws `.corrupt`.
    public func publicKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey? {
        throw .corrupt(.key(slot), reason: reason)
    }

    /// Throws `.corrupt`.
    public func sign(_ slot: SecureStoreKeySlot, message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        throw .corrupt(.key(slot), reason: reason)
    }

    /// Throws `.corrupt`.
    public func makeCSR(_ slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8] {
        throw .corrupt(.key(slot), reason: reason)
    }
}

extension FileSecureStore {
    /// Opens the store in `directory` as `init` does; if it cannot be opened (damaged or
    /// missing device key, unusable folder) returns a `DegradedSecureStore` instead of
    /// throwing, after a loud log line that says what is wrong and how to recover.
    public static func openOrDegraded(directory: String, deviceKey: SecureStoreDeviceKey = .generatedFile,
                                      monotonicCounter: (any SecureStoreMonotonicCounter)? = nil,
                                      fileSystem: any SecureStoreFileSystem = POSIXFileSystem(),
                                      logger: Logger = Logger(label: "spaak.securestore")) -> any SecureStore {
        do throws(SecureStoreError) {
            return try FileSecureStore(directory: directory, deviceKey: deviceKey, monotonicCounter: monotonicCounter,
                                       fileSystem: fileSystem, logger: logger)
        } catch {
            let what: String
            if case .deviceKey(let why) = error { what = "device key damaged: \(why)" } else { what = "store unusable: \(error)" }
            logger.critical("""
                secure store DEGRADED: \(what). Every entry reads as corrupt, nothing is written, the \
                key is not regenerated. Recovery (destroys every key and record of the module): \
                spaak-ecu recreate-store --store \(directory) --confirm-destroy-keys (the old folder is kept \
                aside as \(directory).damaged-<time>); then provision the module again.
                """)
            return DegradedSecureStore(reason: what)
        }
    }
}
