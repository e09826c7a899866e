import Crypto
import Logging
import Synchronization

/// The secure store in a folder (ICD 6): one file per entry, each written atomically and
/// checked on every access.
///
/// - Folder mode 0700, files 0600 (corrected, with a warning, if found otherwise).
/// - A file = header (magic, version, kind, entry name, length) + body + HMAC-SHA256 tag;
///   keys and secret records are AES-256-GCM encrypted. Both keys derive from the device
///   key (`SecureStoreDeviceKey`). The entry name inside the file detects swapped files.
/// - One change: temporary file, write, fsync, close, rename over, fsync of the folder.
///   Several changes: every temporary file made durable first, then a `journal` naming the
///   renames and removals is renamed into place (the commit point), then applied, then
///   removed. Opening the store completes a committed journal and deletes stray temporary
///   files, so a crash at any instant leaves all old or all new values.
/// - A damaged entry reads as `.corrupt(reason:)`, is logged at open, is never used, and
///   is replaced only by an explicit operation (see `SecureStoreOperation.write`).
///
/// Not detected (a real ECU would use a hardware monotonic counter): the rollback of an
/// entry file to an older genuine version of itself, and the removal of an entry file
/// (it reads as absent). One process at a time may open a folder.
public final class FileSecureStore: SecureStore {
    struct Health: Sendable {
        var needsRecovery = false
    }

    /// The store folder.
    public let directory: String
    let fileSystem: any SecureStoreFileSystem
    let keys: StoreKeys
    let logger: Logger
    let health = Mutex(Health())

    /// Opens (creating if needed) the store in `directory`: creates or reads the device key,
    /// completes or discards an interrupted commit, fixes permissions, checks every entry
    /// and logs the damaged ones.
    ///
    /// Throws if the folder cannot be used or the device key is missing or damaged; damaged
    /// entries do not make the opening fail (see `audit()`).
    public init(directory: String, deviceKey: SecureStoreDeviceKey = .generatedFile,
                fileSystem: any SecureStoreFileSystem = POSIXFileSystem(),
                logger: Logger = Logger(label: "spaak.securestore")) throws(SecureStoreError) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.logger = logger
        try fileSystem.makeDirectory(directory, mode: 0o700)
        if let mode = try fileSystem.mode(directory), mode != 0o700 {
            logger.warning("secure store: folder \(directory) had mode \(String(mode, radix: 8)); set to 700")
            try fileSystem.setMode(directory, 0o700)
        }
        let names = try fileSystem.contentsOfDirectory(directory)
        let key: SymmetricKey
        switch deviceKey.source {
        case .secret(let secret):
            key = try SecureStoreDeviceKey.derive(secret)
        case .generatedFile:
            key = try FileSecureStore.loadOrCreateDeviceKey(directory: directory, names: names,
                                                            fileSystem: fileSystem, logger: logger)
        }
        keys = StoreKeys(deviceKey: key)
        try recover()
        try fixPermissions()
        for (entry, status) in audit().sorted(by: { $0.key < $1.key }) {
            if case .corrupt(let reason) = status {
                logger.error("secure store: \(entry) is corrupt: \(reason); it will not be used")
            }
        }
    }

    static func loadOrCreateDeviceKey(directory: String, names: [String], fileSystem: any SecureStoreFileSystem,
                                      logger: Logger) throws(SecureStoreError) -> SymmetricKey {
        let path = directory + "/" + DeviceKeyFile.name
        if let file = try fileSystem.readFile(path, limit: 256) {
            return SymmetricKey(data: try DeviceKeyFile.decode(file).get())
        }
        let held = names.filter { SecureStoreEntry(fileName: $0) != nil || $0 == JournalFile.name }
        guard held.isEmpty else {
            throw .deviceKey("\(DeviceKeyFile.name) is missing but the folder holds \(held.count) entries; a new key would make them unreadable")
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try writeDurably(DeviceKeyFile.encode(bytes), to: path, directory: directory, fileSystem: fileSystem)
        try fileSystem.syncDirectory(directory)
        logger.notice("secure store: generated a new device key in \(path)")
        return SymmetricKey(data: bytes)
    }

    /// Writes `bytes` to `path.tmp`, makes it durable and renames it to `path` (the caller
    /// syncs the folder). On failure before the rename the temporary file is removed.
    static func writeDurably(_ bytes: [UInt8], to path: String, directory: String,
                             fileSystem: any SecureStoreFileSystem) throws(SecureStoreError) {
        let temporary = path + ".tmp"
        try createDurably(bytes, at: temporary, fileSystem: fileSystem)
        do { try fileSystem.rename(temporary, path) } catch {
            try? fileSystem.remove(temporary)
            throw error
        }
    }

    /// Creates `path` (removing a stale one) holding `bytes`, synced and closed; removes it on failure.
    static func createDurably(_ bytes: [UInt8], at path: String, fileSystem: any SecureStoreFileSystem) throws(SecureStoreError) {
        try fileSystem.remove(path)
        let handle = try fileSystem.createFile(path, mode: 0o600)
        do {
            try fileSystem.write(handle, bytes)
            try fileSystem.sync(handle)
        } catch {
            try? fileSystem.close(handle)
            try? fileSystem.remove(path)
            throw error
        }
        do { try fileSystem.close(handle) } catch {
            try? fileSystem.remove(path)
            throw error
        }
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func fixPermissions() throws(SecureStoreError) {
        for name in try fileSystem.contentsOfDirectory(directory) {
            guard let mode = try fileSystem.mode(path(name)), mode != 0o600 else { continue }
            logger.warning("secure store: \(name) had mode \(String(mode, radix: 8)); set to 600")
            try fileSystem.setMode(path(name), 0o600)
        }
    }

    /// The entry's state, read and checked now; throws only for I/O errors.
    func load(_ entry: SecureStoreEntry) throws(SecureStoreError) -> EntryState {
        let file = try fileSystem.readFile(path(entry.fileName), limit: RecordCodec.maxFileSize)
        if let file, file.count > RecordCodec.maxFileSize { return .corrupt("file larger than \(RecordCodec.maxFileSize) bytes") }
        return RecordCodec.decode(entry, file: file, keys: keys)
    }

    /// Runs `body` under the store's lock, after completing an interrupted commit if needed.
    func locked<R: Sendable>(_ body: () throws(SecureStoreError) -> R) throws(SecureStoreError) -> R {
        try health.withLock { (health: inout Health) throws(SecureStoreError) -> R in
            try recoverIfNeeded(&health)
            return try body()
        }
    }

    /// Completes an interrupted commit if an earlier one could not finish.
    func recoverIfNeeded(_ health: inout Health) throws(SecureStoreError) {
        guard health.needsRecovery else { return }
        try recover()
        health.needsRecovery = false
        logger.notice("secure store: an interrupted commit was completed")
    }

    func payload(_ entry: SecureStoreEntry) throws(SecureStoreError) -> [UInt8]? {
        try locked { () throws(SecureStoreError) -> [UInt8]? in
            switch try load(entry) {
            case .absent: return nil
            case .present(let bytes): return bytes
            case .corrupt(let reason): throw .corrupt(entry, reason: reason)
            }
        }
    }

    /// The entry's state, checked now (an unreadable file reads as corrupt).
    public func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus {
        do { return try locked { () throws(SecureStoreError) in try load(entry).status } } catch {
            return .corrupt(reason: "unreadable: \(error)")
        }
    }

    /// Every present or corrupt entry with its state.
    public func audit() -> [SecureStoreEntry: SecureStoreEntryStatus] {
        do {
            return try locked { () throws(SecureStoreError) -> [SecureStoreEntry: SecureStoreEntryStatus] in
                var result: [SecureStoreEntry: SecureStoreEntryStatus] = [:]
                for name in try fileSystem.contentsOfDirectory(directory) {
                    guard let entry = SecureStoreEntry(fileName: name) else {
                        if name != DeviceKeyFile.name { logger.warning("secure store: unknown file \(name) ignored") }
                        continue
                    }
                    let status = try load(entry).status
                    if status != .absent { result[entry] = status }
                }
                return result
            }
        } catch {
            logger.error("secure store: audit failed: \(error)")
            return [:]
        }
    }

    /// The record's content; `nil` if absent; `.corrupt` if damaged.
    public func read(_ record: SecureStoreRecord) throws(SecureStoreError) -> [UInt8]? {
        try payload(.record(record))
    }

    /// The slot's public key; `nil` if empty; `.corrupt` if damaged.
    public func publicKey(_ slot: SecureStoreKeySlot) throws(SecureStoreError) -> P256.Signing.PublicKey? {
        guard let raw = try payload(.key(slot)) else { return nil }
        return try KeyMaterial.privateKey(raw).publicKey
    }

    /// ECDSA-with-SHA256 signature (DER) by the slot's key.
    public func sign(_ slot: SecureStoreKeySlot, message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        guard let raw = try payload(.key(slot)) else { throw .keyAbsent(slot) }
        return try KeyMaterial.sign(raw, message: message)
    }

    /// PKCS#10 CSR (DER) for the slot's key, `CN=<commonName>`, ecdsa-with-SHA256.
    public func makeCSR(_ slot: SecureStoreKeySlot, commonName: String) throws(SecureStoreError) -> [UInt8] {
        guard let raw = try payload(.key(slot)) else { throw .keyAbsent(slot) }
        return try KeyMaterial.csr(raw, commonName: commonName)
    }
}
