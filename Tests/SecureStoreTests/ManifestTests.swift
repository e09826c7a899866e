import Foundation
import SpaakCore
import Testing
@testable import SecureStore

/// The store manifest and the monotonic counter (issue 7, defect 4): a missing, extra or
/// older entry file, a deleted or damaged manifest, and a rolled-back folder all read as
/// corrupt, never as absent or as the older value.
@Suite("Store manifest and monotonic counter")
struct ManifestTests {
    func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { Array($0) } }
    func put(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }

    func counterPath(_ folder: TemporaryDirectory) -> String { folder.path + "/store.counter" }

    func open(_ folder: TemporaryDirectory, counter: Bool = true) throws -> FileSecureStore {
        try FileSecureStore(directory: folder.store,
                            monotonicCounter: counter ? FileMonotonicCounter(path: counterPath(folder)) : nil,
                            logger: quietLogger)
    }

    /// A store with the three security records the module relies on, and a VIN.
    func populated(_ folder: TemporaryDirectory) throws -> FileSecureStore {
        let store = try open(folder)
        try store.writeCounter(.c2vCounter, 41)
        try store.write(.plantLock, [1])
        try store.write(.securityAccessAttempts, [3, 0, 0, 0])
        try store.write(.vin, Array("VF3ABCDEF12345678".utf8))
        return store
    }

    func isCorrupt(_ status: SecureStoreEntryStatus) -> Bool {
        if case .corrupt = status { return true }
        return false
    }

    static let securityRecords: [SecureStoreRecord] = [.c2vCounter, .plantLock, .securityAccessAttempts]

    @Test("deleting a security record's file is detected: it reads corrupt, not absent", arguments: securityRecords)
    func deletedEntry(record: SecureStoreRecord) throws {
        let folder = TemporaryDirectory()
        let store = try populated(folder)
        try remove(folder.store + "/" + SecureStoreEntry.record(record).fileName)
        #expect(isCorrupt(store.status(record)), "while open")
        let reopened = try open(folder)
        #expect(isCorrupt(reopened.status(record)), "after a restart")
        #expect(throws: SecureStoreError.self) { try reopened.read(record) }
        #expect(reopened.audit()[.record(record)].map(isCorrupt) == true)
        // A plain write does not replace it (a counter is never silently reset)...
        #expect(throws: SecureStoreError.self) { try reopened.write(record, [0]) }
        // ...an explicit one does, and the new manifest is consistent.
        try reopened.write(record, [9], replacingCorrupt: true)
        #expect(try open(folder).read(record) == [9])
        #expect(try open(folder).read(.vin) == Array("VF3ABCDEF12345678".utf8))
    }

    @Test("an older genuine copy of an entry file put back is detected")
    func olderCopy() throws {
        let folder = TemporaryDirectory()
        let store = try populated(folder)
        let path = folder.store + "/rec.counter-c2v"
        let old = try #require(bytes(path))
        try store.writeCounter(.c2vCounter, 42)
        try put(old, path)
        #expect(isCorrupt(try open(folder).status(.c2vCounter)))
        #expect(throws: SecureStoreError.self) { try open(folder).readCounter(.c2vCounter) }
        // An entry deleted by the store and its old file put back: not in the manifest.
        let lock = try #require(bytes(folder.store + "/rec.plant-lock"))
        try store.delete(.plantLock)
        try put(lock, folder.store + "/rec.plant-lock")
        #expect(isCorrupt(try open(folder).status(.plantLock)))
    }

    @Test("deleting the manifest: every entry reads corrupt, present or not")
    func deletedManifest() throws {
        let folder = TemporaryDirectory()
        _ = try populated(folder)
        try remove(folder.store + "/manifest")
        let reopened = try open(folder)
        for record in Self.securityRecords + [.vin, .ownerPairingFailures] {
            #expect(isCorrupt(reopened.status(record)), "\(record)")
        }
        #expect(bytes(folder.store + "/manifest") == nil, "a manifest is never made up next to entries")
        // An explicit write makes a new manifest that vouches only for what it wrote.
        try reopened.write(.plantLock, [1], replacingCorrupt: true)
        let again = try open(folder)
        #expect(try again.read(.plantLock) == [1])
        #expect(isCorrupt(again.status(.vin)))
        #expect(isCorrupt(again.status(.c2vCounter)))
    }

    @Test("a damaged manifest: every entry reads corrupt")
    func damagedManifest() throws {
        let folder = TemporaryDirectory()
        _ = try populated(folder)
        var manifest = try #require(bytes(folder.store + "/manifest"))
        manifest[8] ^= 0x01
        try put(manifest, folder.store + "/manifest")
        let reopened = try open(folder)
        for record in Self.securityRecords + [.vin] { #expect(isCorrupt(reopened.status(record)), "\(record)") }
    }

    @Test("rolling back the whole folder with the counter kept is detected")
    func folderRollback() throws {
        let folder = TemporaryDirectory()
        let store = try populated(folder)
        let copy = folder.path + "/copy"
        try FileManager.default.copyItem(atPath: folder.store, toPath: copy)
        try store.writeCounter(.c2vCounter, 50)
        try store.delete(.plantLock)
        try FileManager.default.removeItem(atPath: folder.store)
        try FileManager.default.copyItem(atPath: copy, toPath: folder.store)
        let reopened = try open(folder)
        for record in Self.securityRecords + [.vin] { #expect(isCorrupt(reopened.status(record)), "\(record)") }
        #expect(throws: SecureStoreError.self) { try reopened.manifestGeneration() }
        // Emptying the folder (manifest included) is a rollback too.
        try FileManager.default.removeItem(atPath: folder.store)
        let emptied = try open(folder)
        #expect(isCorrupt(emptied.status(.plantLock)))
        // Rolling back the counter file with it is the documented limit: not detected.
        try FileManager.default.removeItem(atPath: folder.store)
        try FileManager.default.copyItem(atPath: copy, toPath: folder.store)
        try remove(counterPath(folder))
        #expect(try open(folder).read(.plantLock) == [1])
    }

    @Test("the counter follows the generation; a counter behind the manifest is advanced at opening")
    func counterFollows() throws {
        let folder = TemporaryDirectory()
        let counter = FileMonotonicCounter(path: counterPath(folder))
        let store = try populated(folder)
        let generation = try #require({ if case .trusted(let m) = try store.manifestState() { return m.generation } else { return nil } }())
        #expect(generation == 4)
        #expect(try counter.read() == 4)
        // A crash between the commit and the advance: the counter lags.
        try remove(counterPath(folder))
        _ = try open(folder)
        #expect(try counter.read() == 4)
        #expect(try open(folder).read(.plantLock) == [1])
        // A damaged counter file: fail closed.
        try put([1, 2, 3], counterPath(folder))
        #expect(isCorrupt(try open(folder).status(.vin)))
    }

    @Test("a new empty store has a manifest at generation 0; each commit adds one")
    func emptyStore() throws {
        let folder = TemporaryDirectory()
        let store = try open(folder)
        #expect(bytes(folder.store + "/manifest") != nil)
        guard case .trusted(let manifest) = try store.manifestState() else { Issue.record("untrusted"); return }
        #expect(manifest == StoreManifest(generation: 0, versions: [:]))
        try store.commit([.write(.vin, [1]), .write(.drmUUID, [2])])
        guard case .trusted(let next) = try store.manifestState() else { Issue.record("untrusted"); return }
        #expect(next.generation == 1)
        #expect(try store.manifestGeneration() == 1)
        #expect(Set(next.versions.keys) == [.record(.vin), .record(.drmUUID)])
        #expect(store.status(.plantLock) == .absent)
    }

    // MARK: the pure check

    @Test("StoreManifestCheck: missing, extra and other versions; untrusted states")
    func pureCheck() {
        let keys = StoreKeys(deviceKey: .init(data: [UInt8](repeating: 1, count: 32)))
        let fileA = [UInt8](repeating: 0xA, count: 40), fileB = [UInt8](repeating: 0xB, count: 40)
        let manifest = StoreManifest(generation: 7, versions: [.record(.plantLock): StoreManifest.version(ofFile: fileA)])
        let trusted = StoreManifestState.trusted(manifest)
        #expect(StoreManifestCheck.mismatch(.record(.plantLock), file: fileA, state: trusted) == nil)
        #expect(StoreManifestCheck.mismatch(.record(.plantLock), file: fileB, state: trusted) != nil)
        #expect(StoreManifestCheck.mismatch(.record(.plantLock), file: nil, state: trusted) != nil)
        #expect(StoreManifestCheck.mismatch(.record(.vin), file: fileA, state: trusted) != nil)
        #expect(StoreManifestCheck.mismatch(.record(.vin), file: nil, state: trusted) == nil)
        #expect(StoreManifestCheck.mismatch(.record(.vin), file: nil, state: .untrusted("x")) == "x")

        let encoded = manifest.encode(keys: keys)
        #expect(StoreManifest.decode(encoded, keys: keys) == .success(manifest))
        func state(_ file: [UInt8]?, entries: Bool, counter: Result<UInt64, SecureStoreError>?) -> StoreManifestState {
            StoreManifestCheck.state(manifestFile: file, folderHoldsEntries: entries, counter: counter, keys: keys)
        }
        #expect(state(encoded, entries: true, counter: nil) == trusted)
        #expect(state(encoded, entries: true, counter: .success(7)) == trusted)
        #expect(state(encoded, entries: true, counter: .success(6)) == trusted)
        guard case .untrusted = state(encoded, entries: true, counter: .success(8)) else { Issue.record("rollback"); return }
        guard case .untrusted = state(encoded, entries: true, counter: .failure(.unusable("x"))) else { Issue.record("counter"); return }
        guard case .untrusted = state(nil, entries: true, counter: nil) else { Issue.record("deleted manifest"); return }
        guard case .untrusted = state(nil, entries: false, counter: .success(3)) else { Issue.record("emptied"); return }
        #expect(state(nil, entries: false, counter: .success(0)) == .trusted(StoreManifest(generation: 0, versions: [:])))
        var damaged = encoded
        damaged[damaged.count - 1] ^= 1
        guard case .untrusted = state(damaged, entries: true, counter: nil) else { Issue.record("damaged"); return }

        // The next manifest: carries the trusted versions, none of an untrusted one.
        let next = StoreManifestCheck.next(after: trusted, counter: 9, changes: [(.record(.vin), fileB)])
        #expect(next.generation == 10)
        #expect(next.versions.count == 2)
        let fresh = StoreManifestCheck.next(after: .untrusted("x"), counter: nil, changes: [(.record(.vin), fileB), (.record(.plantLock), nil)])
        #expect(fresh.versions == [.record(.vin): StoreManifest.version(ofFile: fileB)])
    }
}
