import Logging

/// The explicit recovery of a store that cannot be used (`spaak-ecu recreate-store`): the
/// old folder is moved aside, never deleted, and a new empty store is created.
public enum SecureStoreRecreation {
    /// What `recreate` did.
    public struct Outcome: Sendable, Hashable {
        /// Where the old folder went (`nil` if there was none).
        public var movedFolderTo: String?
        /// Where the old monotonic counter file went (`nil` if there was none).
        public var movedCounterTo: String?
    }

    /// Moves `directory` to `<directory>.damaged-<timestamp>` and the counter file to
    /// `<counterPath>.damaged-<timestamp>` (renames in place, never across devices), then
    /// opens a new empty store in `directory` (new device key or the given secret's,
    /// manifest at generation 0, counter from 0).
    ///
    /// Refuses unless `confirmed` (every key and record of the module is given up), and if
    /// the place aside is taken. Nothing is deleted.
    public static func recreate(directory: String, counterPath: String, timestamp: String, confirmed: Bool,
                                deviceKey: SecureStoreDeviceKey = .generatedFile,
                                fileSystem: any SecureStoreFileSystem = POSIXFileSystem(),
                                logger: Logger = Logger(label: "spaak.securestore")) throws(SecureStoreError) -> Outcome {
        guard confirmed else {
            throw .invalidOperation("""
                recreate-store gives up every key, certificate and counter of the module (it must be \
                provisioned again); add --confirm-destroy-keys to confirm. The old folder is kept aside, not deleted
                """)
        }
        var folder = directory
        while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
        let aside = folder + ".damaged-" + timestamp
        var outcome = Outcome()
        let counterAside = counterPath + ".damaged-" + timestamp
        let asideTaken = try fileSystem.mode(aside) != nil
        let counterAsideTaken = try fileSystem.mode(counterAside) != nil
        if asideTaken || counterAsideTaken {
            throw .invalidOperation("\(aside) already exists; try again in a second")
        }
        let parent = SimulatedFileSystem.directory(of: folder)
        if try fileSystem.mode(folder) != nil {
            try fileSystem.rename(folder, aside)
            outcome.movedFolderTo = aside
        }
        if try fileSystem.mode(counterPath) != nil {
            try fileSystem.rename(counterPath, counterAside)
            try fileSystem.syncDirectory(SimulatedFileSystem.directory(of: counterPath))
            outcome.movedCounterTo = counterAside
        }
        try fileSystem.syncDirectory(parent)
        if outcome.movedFolderTo != nil { logger.notice("secure store: old folder moved aside to \(aside)") }
        _ = try FileSecureStore(directory: folder, deviceKey: deviceKey,
                                monotonicCounter: FileMonotonicCounter(path: counterPath, fileSystem: fileSystem),
                                fileSystem: fileSystem, logger: logger)
        logger.notice("secure store: new empty store created in \(folder)")
        return outcome
    }
}
