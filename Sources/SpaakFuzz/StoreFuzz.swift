import SecureStore

/// The secure store's file decoding. The folder starts as a provisioned store (every kind
/// of entry, counters, a secret record, key slots); the first byte chooses one file —
/// an existing one (entry, manifest, …) by index, or `journal`, `manifest`, `device.key`,
/// a stray temporary file — and the rest of the input becomes its content. Then the store
/// is opened and everything is read, as the module does at start.
///
/// Invariants: opening either fails with an error or gives a store in which every entry
/// `audit()` reports present reads without error; a corrupt record is never read as a value;
/// with the first byte's top bit set, writes after opening succeed or fail with an error.
enum StoreFuzz {
    static let records: [SecureStoreRecord] = StoreSnapshot.records
    static let extraNames = ["journal", "manifest", "device.key", "rec.counter-c2v.tmp", "journal.tmp", "rec.unknown-record"]

    static func run(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let choice = Int(input.byte())
        let content = input.rest()
        let fileSystem = FuzzFixtures.provisionedCopy()
        let directory = FuzzFixtures.directory
        let existing = ((try? fileSystem.contentsOfDirectory(directory)) ?? []).sorted()
        let names = existing + extraNames.filter { !existing.contains($0) }
        let name = names[(choice & 0x7F) % names.count]
        let path = directory + "/" + name
        do {
            try fileSystem.remove(path)
            let handle = try fileSystem.createFile(path, mode: 0o600)
            try fileSystem.write(handle, content)
            try fileSystem.sync(handle)
            try fileSystem.close(handle)
            try fileSystem.syncDirectory(directory)
        } catch {
            preconditionFailure("simulated file system: \(error)")
        }
        guard let store = try? FuzzFixtures.open(fileSystem) else { return }
        let audit = store.audit()
        for record in records {
            let value: [UInt8]??
            do { value = try store.read(record) } catch { value = nil }
            switch audit[.record(record)] ?? .absent {
            case .present: precondition(value != nil && value! != nil, "\(record): audit says present, the read fails")
            case .corrupt: precondition(value == nil, "\(record): audit says corrupt, the read gives a value")
            case .absent: precondition(value == nil || value! == nil, "\(record): audit says absent, the read gives a value")
            }
        }
        for slot in SecureStoreKeySlot.allCases {
            _ = try? store.publicKey(slot)
        }
        // Writing after the damage (the first byte's top bit): the commit path over a damaged folder.
        if choice & 0x80 != 0 {
            _ = try? store.incrementCounter(.v2cCounter)
            _ = try? store.commit([.write(.drmUUID, Array(repeating: 7, count: 16)), .write(.subjectID, [1, 2, 3])])
        }
    }
}
