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
/// - Every commit: every new file written as a durable temporary file, then a `journal`
///   naming the renames and removals (the new `manifest` among them) is renamed into place
///   (the commit point), then applied, then removed. Opening the store completes a
///   committed journal and deletes stray temporary files, so a crash at any instant leaves
///   all old or all new values, and a manifest that matches them.
/// - The `manifest` (see `StoreManifest`) lists every entry with its version (the file's
///   HMAC tag) and a generation, authenticated with the device key. At opening and at
///   every access an entry file the manifest lists but that is missing, a file it does not
///   list, or an older or foreign version of a file reads as `.corrupt(reason:)`; a missing
///   (next to entries) or damaged manifest makes every entry read as corrupt.
/// - A `SecureStoreMonotonicCounter` (optional) follows the generation: a manifest older
///   than the counter means the whole folder was rolled back, and every entry reads as
///   corrupt. Rolling back the folder *and* the counter together is not detectable without
///   hardware (the simulator's counter is a file, see `FileMonotonicCounter`).
/// - A damaged entry reads as `.corrupt(reason:)`, is logged at open, is never used, and
///   is replaced only by an explicit operation (see `SecureStoreOperation.write`), which
///   writes a manifest that still does not vouch for any file it did not write itself.
///
/// One process at a time may open a folder. A folder whose device key is damaged cannot be
/// opened (the initializer throws); `FileSecureStore.openOrDegraded` then gives a
/// `DegradedSecureStore` instead, so that the module still starts.
public final class FileSecureStore: EntryPayloadStore {
    struct Health: Sendable {
        var needsRecovery = false
    }

    /// The store folder.
    public let directory: String
    let fileSystem: any SecureStoreFileSystem
    let keys: StoreKeys
    let logger: Logger
    let health = Mutex(Health())
    /// The monotonic counter that follows the manifest generation, if any.
    let monotonicCounter: (any SecureStoreMonotonicCounter)?

    /// Opens (creating if needed) the store in `directory`: creates or reads the device key,
    /// completes or discards an interrupted commit, fixes permissions, creates the manifest
    /// of a new empty store (generation 0), advances the monotonic counter to the manifest
    /// generation if it lags, checks every entry and logs the damaged ones.
    ///
    /// Throws if the folder cannot be used or the device key is missing or damaged; damaged
    /// entries, a damaged manifest or a rolled-back folder do not make the opening fail
    /// (the entries read as corrupt, see `audit()`).
    ///
    /// - Parameter monotonicCounter: the counter that detects a rollback of the whole
    ///   folder; `nil` (the default) checks the manifest only.
    public init(directory: String, deviceKey: SecureStoreDeviceKey = .generatedFile,
                monotonicCounter: (any SecureStoreMonotonicCounter)? = nil,
                fileSystem: any SecureStoreFileSystem = POSIXFileSystem(),
                logger: Logger = Logger(label: "spaak.securestore")) throws(SecureStoreError) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.logger = logger
        self.monotonicCounter = monotonicCounter
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
        try openManifest()
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
        let held = names.filter { SecureStoreEntry(fileName: $0) != nil || $0 == JournalFile.name || $0 == StoreManifest.name }
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

    /// The entry's state, read and checked now against the file and the manifest; throws
    /// only for I/O errors.
    func load(_ entry: SecureStoreEntry, manifest: StoreManifestState) throws(SecureStoreError) -> EntryState {
        let file = try fileSystem.readFile(path(entry.fileName), limit: RecordCodec.maxFileSize)
        let decoded: EntryState
        if let file, file.count > RecordCodec.maxFileSize {
            decoded = .corrupt("file larger than \(RecordCodec.maxFileSize) bytes")
        } else {
            decoded = RecordCodec.decode(entry, file: file, keys: keys)
        }
        // A damaged file says so first; a genuine file must also be the one the manifest lists.
        if case .corrupt = decoded, case .trusted = manifest { return decoded }
        if let reason = StoreManifestCheck.mismatch(entry, file: file, state: manifest) { return .corrupt(reason) }
        return decoded
    }

    /// The entry's state, with the manifest read now.
    func load(_ entry: SecureStoreEntry) throws(SecureStoreError) -> EntryState {
        try load(entry, manifest: manifestState())
    }

    /// The monotonic counter's value, or why it cannot be read; `nil` without a counter.
    func readMonotonicCounter() -> Result<UInt64, SecureStoreError>? {
        guard let monotonicCounter else { return nil }
        do throws(SecureStoreError) { return .success(try monotonicCounter.read()) } catch { return .failure(error) }
    }

    /// The manifest as it stands now (read from the folder, judged by `StoreManifestCheck`).
    func manifestState() throws(SecureStoreError) -> StoreManifestState {
        let file = try fileSystem.readFile(path(StoreManifest.name), limit: 64 * 1024)
        let holdsEntries = file == nil
            ? try fileSystem.contentsOfDirectory(directory).contains { SecureStoreEntry(fileName: $0) != nil }
            : true
        return StoreManifestCheck.state(manifestFile: file, folderHoldsEntries: holdsEntries,
                                        counter: readMonotonicCounter(), keys: keys)
    }

    /// At opening: creates the manifest of a new empty store, advances a lagging counter,
    /// and says loudly when the manifest cannot be trusted.
    func openManifest() throws(SecureStoreError) {
        let state = try manifestState()
        switch state {
        case .untrusted(let reason):
            logger.critical("secure store: \(reason); every entry reads as corrupt (fail closed). Recovery: spaak-ecu recreate-store")
        case .trusted(let manifest):
            if try fileSystem.readFile(path(StoreManifest.name), limit: 64 * 1024) == nil {
                try FileSecureStore.writeDurably(manifest.encode(keys: keys), to: path(StoreManifest.name),
                                                 directory: directory, fileSystem: fileSystem)
                try fileSystem.syncDirectory(directory)
                logger.info("secure store: new empty store, manifest at generation \(manifest.generation)")
            }
            if case .success(let counter)? = readMonotonicCounter(), manifest.generation > counter {
                advanceCounter(to: manifest.generation)
            }
        }
    }

    /// Moves the monotonic counter up to `generation`; a failure is logged (the next opening
    /// advances it: a counter behind the manifest is not a rollback).
    func advanceCounter(to generation: UInt64) {
        guard let monotonicCounter else { return }
        do { try monotonicCounter.advance(to: generation) } catch {
            logger.warning("secure store: the monotonic counter could not be advanced to \(generation): \(error); retried at the next opening")
        }
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
            try load(entry).payload(of: entry)
        }
    }

    /// The entry's state, checked now (an unreadable file reads as corrupt).
    public func status(_ entry: SecureStoreEntry) -> SecureStoreEntryStatus {
        do { return try locked { () throws(SecureStoreError) in try load(entry).status } } catch {
            return .corrupt(reason: "unreadable: \(error)")
        }
    }

    /// The manifest generation (the number of commits since the store was created), checked
    /// now; throws `.unusable(reason)` when the manifest cannot be trusted (missing next to
    /// entries, damaged, or behind the monotonic counter). For checks such as the crash soak.
    public func manifestGeneration() throws(SecureStoreError) -> UInt64 {
        try locked { () throws(SecureStoreError) -> UInt64 in
            switch try manifestState() {
            case .trusted(let manifest): return manifest.generation
            case .untrusted(let reason): throw .unusable(reason)
            }
        }
    }

    /// Every present or corrupt entry with its state.
    public func audit() -> [SecureStoreEntry: SecureStoreEntryStatus] {
        do {
            return try locked { () throws(SecureStoreError) -> [SecureStoreEntry: SecureStoreEntryStatus] in
                var result: [SecureStoreEntry: SecureStoreEntryStatus] = [:]
                let manifest = try manifestState()
                var candidates: Set<SecureStoreEntry> = []
                for name in try fileSystem.contentsOfDirectory(directory) {
                    guard let entry = SecureStoreEntry(fileName: name) else {
                        if name != DeviceKeyFile.name && name != StoreManifest.name {
                            logger.warning("secure store: unknown file \(name) ignored")
                        }
                        continue
                    }
                    candidates.insert(entry)
                }
                switch manifest {
                case .trusted(let m): candidates.formUnion(m.versions.keys)
                case .untrusted: candidates.formUnion(SecureStoreEntry.wellKnown)
                }
                for entry in candidates {
                    let status = try load(entry, manifest: manifest).status
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
}
