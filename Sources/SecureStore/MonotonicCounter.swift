import Crypto
import SpaakCore
import Synchronization

/// A counter that never goes back: on a real ECU a hardware monotonic counter (HSM, secure
/// element, eMMC RPMB); it lets the store detect that its whole folder was rolled back.
///
/// `FileSecureStore` advances it to the manifest generation after every commit and, at every
/// access, treats a manifest older than the counter as a rolled-back folder (every entry
/// reads as corrupt). A counter behind the manifest (a crash between the commit and the
/// advance) is advanced at the next opening.
public protocol SecureStoreMonotonicCounter: AnyObject, Sendable {
    /// The counter's value (0 if it was never advanced); throws if it cannot be read or is damaged.
    func read() throws(SecureStoreError) -> UInt64
    /// Moves the counter up to `value` (never down: a lower value changes nothing), durably.
    func advance(to value: UInt64) throws(SecureStoreError)
}

/// The simulator's monotonic counter: a small file kept *outside* the store folder (by
/// default the hidden file `.<store name>.counter` beside it, see
/// `FileMonotonicCounter.defaultPath(forStore:)`).
///
/// File: "SPKC" | version 1 | value (8, big endian) | SHA-256 of the preceding bytes. A
/// missing file reads as 0; a damaged one throws (the store then fails closed). Written
/// like every store file: temporary file, fsync, rename, fsync of its folder.
///
/// Limit: a file is not hardware. Whoever rolls back the store folder *and* this file
/// together (or deletes both) is not detected.
public final class FileMonotonicCounter: SecureStoreMonotonicCounter {
    static let magic: [UInt8] = Array("SPKC".utf8)

    /// The counter file.
    public let path: String
    let fileSystem: any SecureStoreFileSystem

    /// The counter kept in `path` (its folder must exist).
    public init(path: String, fileSystem: any SecureStoreFileSystem = POSIXFileSystem()) {
        self.path = path
        self.fileSystem = fileSystem
    }

    /// `.<store name>.counter` beside the store folder, not inside it: `./spaak-store` →
    /// `./.spaak-store.counter`, `/var/spaak/store-1/` → `/var/spaak/.store-1.counter`.
    public static func defaultPath(forStore store: String) -> String {
        var trimmed = store
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." + trimmed + ".counter" }
        return String(trimmed[...slash]) + "." + String(trimmed[trimmed.index(after: slash)...]) + ".counter"
    }

    static func encode(_ value: UInt64) -> [UInt8] {
        let body = magic + [1] + value.bigEndianBytes
        return body + Array(SHA256.hash(data: body))
    }

    static func decode(_ file: [UInt8]) -> Result<UInt64, SecureStoreError> {
        guard file.count == 4 + 1 + 8 + 32 else {
            return .failure(.unusable("monotonic counter file holds \(file.count) bytes, not 45 (damaged)"))
        }
        let body = Array(file[0..<13])
        guard Array(file[0..<4]) == magic, file[4] == 1, Array(SHA256.hash(data: body)) == Array(file[13...]) else {
            return .failure(.unusable("monotonic counter file is damaged (bad magic, version or checksum)"))
        }
        return .success(body[5..<13].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// See `SecureStoreMonotonicCounter.read`.
    public func read() throws(SecureStoreError) -> UInt64 {
        guard let file = try fileSystem.readFile(path, limit: 256) else { return 0 }
        return try FileMonotonicCounter.decode(file).get()
    }

    /// See `SecureStoreMonotonicCounter.advance(to:)`.
    public func advance(to value: UInt64) throws(SecureStoreError) {
        let current = try read()
        guard value > current else { return }
        let directory = SimulatedFileSystem.directory(of: path)
        try FileSecureStore.writeDurably(FileMonotonicCounter.encode(value), to: path, directory: directory,
                                         fileSystem: fileSystem)
        try fileSystem.syncDirectory(directory)
    }
}

/// A monotonic counter in memory, for tests (it survives "restarts" that reuse the object).
public final class InMemoryMonotonicCounter: SecureStoreMonotonicCounter {
    let value: Mutex<UInt64>

    /// A counter at `value`.
    public init(_ value: UInt64 = 0) { self.value = Mutex(value) }

    /// See `SecureStoreMonotonicCounter.read`.
    public func read() throws(SecureStoreError) -> UInt64 { value.withLock { $0 } }

    /// See `SecureStoreMonotonicCounter.advance(to:)`.
    public func advance(to newValue: UInt64) throws(SecureStoreError) {
        value.withLock { $0 = max($0, newValue) }
    }
}
