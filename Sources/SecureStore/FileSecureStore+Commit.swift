import Logging

extension FileSecureStore {
    /// Applies the operations in order, all or none (see `SecureStore.commit`).
    public func commit(_ operations: [SecureStoreOperation]) throws(SecureStoreError) {
        try health.withLock { (health: inout Health) throws(SecureStoreError) in
            try recoverIfNeeded(&health)
            let manifest = try manifestState()
            var current: [SecureStoreEntry: EntryState] = [:]
            for entry in FileSecureStore.entriesRead(by: operations) { current[entry] = try load(entry, manifest: manifest) }
            let plan = try SecureStorePlanner.plan(operations, current: { current[$0] ?? .absent },
                                                   newKey: KeyMaterial.generate)
            guard !plan.changes.isEmpty else { return }
            for entry in plan.replacedCorrupt {
                logger.warning("secure store: corrupt \(entry) replaced or deleted on request")
            }
            let generation = try writeUpToCommitPoint(plan, manifest: manifest)
            do throws(SecureStoreError) { try finishCommitted() } catch {
                health.needsRecovery = true
                throw error
            }
            advanceCounter(to: generation)
        }
    }

    /// The entries whose current state the planner may look at.
    static func entriesRead(by operations: [SecureStoreOperation]) -> Set<SecureStoreEntry> {
        var entries: Set<SecureStoreEntry> = []
        for operation in operations {
            switch operation {
            case .write(let record, _, _), .delete(let record): entries.insert(.record(record))
            case .generateKey(let slot), .deleteKey(let slot): entries.insert(.key(slot))
            case .promotePendingKey(let slot):
                entries.insert(.key(slot))
                if let pending = slot.pendingSlot { entries.insert(.key(pending)) }
            }
        }
        for record in SecureStoreRecord.identityCertificates {
            guard let slot = record.boundKeySlot else { continue }
            if entries.contains(.record(record)) || entries.contains(.key(slot)) {
                entries.insert(.record(record))
                entries.insert(.key(slot))
            }
        }
        return entries
    }

    /// Writes the plan's changes and the next manifest up to and including the commit point
    /// (the journal renamed into place) and returns the new generation. A failure here
    /// leaves the old values and the old manifest.
    func writeUpToCommitPoint(_ plan: SecureStorePlan, manifest: StoreManifestState) throws(SecureStoreError) -> UInt64 {
        var files: [(entry: SecureStoreEntry, file: [UInt8]?)] = []
        for change in plan.changes {
            files.append((change.entry, try change.payload.map { (payload) throws(SecureStoreError) in
                try RecordCodec.encode(change.entry, payload: payload, keys: keys)
            }))
        }
        let counter: UInt64? = if case .success(let value)? = readMonotonicCounter() { value } else { nil }
        let next = StoreManifestCheck.next(after: manifest, counter: counter, changes: files)
        try prepareAndCommitJournal(files, manifest: next.encode(keys: keys))
        return next.generation
    }

    /// Before the commit point: every new file and the new manifest as durable `.tmp`
    /// files, then the journal renamed into place. A failure here removes what was written
    /// and leaves the old values.
    func prepareAndCommitJournal(_ files: [(entry: SecureStoreEntry, file: [UInt8]?)], manifest: [UInt8]) throws(SecureStoreError) {
        var created: [String] = []
        do {
            var steps: [JournalFile.Step] = []
            for item in files {
                if let file = item.file {
                    let temporary = path(item.entry.fileName + ".tmp")
                    try FileSecureStore.createDurably(file, at: temporary, fileSystem: fileSystem)
                    created.append(temporary)
                    steps.append(.install(item.entry))
                } else {
                    steps.append(.remove(item.entry))
                }
            }
            let manifestTemporary = path(StoreManifest.name + ".tmp")
            try FileSecureStore.createDurably(manifest, at: manifestTemporary, fileSystem: fileSystem)
            created.append(manifestTemporary)
            steps.append(.installManifest)
            try fileSystem.syncDirectory(directory)
            created.append(path(JournalFile.name + ".tmp"))
            try FileSecureStore.writeDurably(JournalFile.encode(steps, keys: keys), to: path(JournalFile.name),
                                             directory: directory, fileSystem: fileSystem)
        } catch {
            for temporary in created { try? fileSystem.remove(temporary) }
            throw error
        }
    }

    /// After the commit point: makes the change durable and complete, with one retry. If
    /// both fail, the caller marks the store so that the commit is completed before its
    /// next operation (which fails as long as it cannot be).
    func finishCommitted() throws(SecureStoreError) {
        do { try recover() } catch let first {
            logger.warning("secure store: completing a commit failed (\(first)); retrying")
            try recover()
        }
    }

    /// Completes a committed journal, deletes stray temporary files and syncs the folder.
    /// Idempotent: safe to run after a crash at any step, including inside itself.
    func recover() throws(SecureStoreError) {
        let names = try fileSystem.contentsOfDirectory(directory)
        if names.contains(JournalFile.name) {
            let journal = try fileSystem.readFile(path(JournalFile.name), limit: 64 * 1024) ?? []
            switch JournalFile.decode(journal, keys: keys) {
            case .success(let steps):
                try fileSystem.syncDirectory(directory)  // the journal is durable before any rename
                for step in steps {
                    switch step {
                    case .install(let entry):
                        let temporary = path(entry.fileName + ".tmp")
                        if try fileSystem.mode(temporary) != nil {
                            try fileSystem.rename(temporary, path(entry.fileName))
                        }
                    case .remove(let entry):
                        try fileSystem.remove(path(entry.fileName))
                    case .installManifest:
                        let temporary = path(StoreManifest.name + ".tmp")
                        if try fileSystem.mode(temporary) != nil {
                            try fileSystem.rename(temporary, path(StoreManifest.name))
                        }
                    }
                }
                try fileSystem.syncDirectory(directory)
                try fileSystem.remove(path(JournalFile.name))
            case .failure(let error):
                // Cannot be trusted: set aside for inspection, never applied; every entry
                // is still checked on its own.
                logger.error("secure store: \(error); set aside as journal.damaged")
                try fileSystem.rename(path(JournalFile.name), path("journal.damaged"))
            }
        }
        for name in try fileSystem.contentsOfDirectory(directory) where name.hasSuffix(".tmp") {
            try fileSystem.remove(path(name))
        }
        try fileSystem.syncDirectory(directory)
    }
}
