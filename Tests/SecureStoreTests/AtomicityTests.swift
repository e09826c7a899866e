import Crypto
import SpaakCore
import Testing
@testable import SecureStore

/// Crash, power loss and I/O failure at every step of every kind of change: afterwards the
/// store holds exactly the old or exactly the new values, never a mix, never damage, and a
/// trusted manifest whose generation is the old or the new one with them.
@Suite("Atomicity under injected failures")
struct AtomicityTests {
    typealias Snapshot = [SecureStoreEntry: String]

    /// A change to apply to the base state, and the entries whose new value is random.
    struct Change: CustomStringConvertible, Sendable {
        let name: String
        let randomEntries: Set<SecureStoreEntry>
        let apply: @Sendable (FileSecureStore, Base) throws -> Void
        var description: String { name }
    }

    /// A populated store (both identities certified, a pending vehicle key and its certificate).
    struct Base: Sendable {
        let fileSystem: SimulatedFileSystem
        let pendingCertificate: [UInt8]
        let ecuCSR: [UInt8]
    }

    static let directory = "/data/store"

    static func makeBase() throws -> Base {
        let fs = SimulatedFileSystem()
        try fs.makeDirectory("/data", mode: 0o755)
        let store = try FileSecureStore(directory: directory, fileSystem: fs, logger: quietLogger)
        let ca = TestCA()
        try store.write(.vin, Array("VF3ABCDEF12345678".utf8))
        try store.write(.drmUUID, [UInt8](0..<16))
        try store.write(.subjectID, Array("subject-0001".utf8))
        try store.write(.spake2Verifier, [UInt8](repeating: 7, count: 97))
        try store.writeCounter(.v2cCounter, 5)
        let ecu = try store.generateKey(.ecuIdentity)
        try store.write(.ecuIdentityCertificate, try ca.certify(ecu))
        let vehicle = try store.generateKey(.vehicleIdentity)
        try store.write(.vehicleIdentityCertificate, try ca.certify(vehicle))
        let pending = try store.generateKey(.vehicleIdentityPending)
        let csr = try store.makeCSR(.ecuIdentity, commonName: "SPK0000000001")
        return Base(fileSystem: fs.survivor(keepingMetadata: nil, keepingUnsyncedData: true),
                    pendingCertificate: try ca.certify(pending), ecuCSR: csr)
    }

    static let changes: [Change] = [
        Change(name: "overwrite one record", randomEntries: []) { s, _ in try s.write(.vin, Array("VF3ZZZZZZZZZZZZZZ".utf8)) },
        Change(name: "create one record", randomEntries: []) { s, _ in try s.write(.plantLock, [1]) },
        Change(name: "delete one record", randomEntries: []) { s, _ in try s.delete(.drmUUID) },
        Change(name: "increment a counter", randomEntries: []) { s, _ in try s.incrementCounter(.v2cCounter) },
        Change(name: "generate a pending key", randomEntries: [.key(.vehicleIdentityPending)]) { s, _ in
            try s.generateKey(.vehicleIdentityPending)
        },
        Change(name: "PP-01 install: key swap and [K]", randomEntries: []) { s, base in
            try s.commit([.promotePendingKey(.vehicleIdentity), .write(.vehicleIdentityCertificate, base.pendingCertificate)])
        },
        Change(name: "owner change: delete [K], subject id, verifier, key", randomEntries: []) { s, _ in
            try s.commit([.delete(.vehicleIdentityCertificate), .delete(.subjectID), .delete(.spake2Verifier),
                          .deleteKey(.vehicleIdentity)])
        },
        Change(name: "RP-02 again: new key, CSR, certificate removed", randomEntries: [.key(.ecuIdentity)]) { s, base in
            try s.commit([.generateKey(.ecuIdentity), .delete(.ecuIdentityCertificate), .write(.ecuIdentityCSR, base.ecuCSR)])
        },
    ]

    static func open(_ fs: SimulatedFileSystem) throws -> FileSecureStore {
        try FileSecureStore(directory: directory, fileSystem: fs, logger: quietLogger)
    }

    static func clone(_ fs: SimulatedFileSystem) -> SimulatedFileSystem {
        fs.survivor(keepingMetadata: nil, keepingUnsyncedData: true)
    }

    /// The pseudo-entry under which a snapshot records the manifest: its generation, or why
    /// it cannot be trusted (so that a manifest out of step with the entries fails a test).
    static let manifestPseudoEntry = SecureStoreEntry.record(SecureStoreRecord(rawValue: "zz-manifest")!)

    /// Every entry's value (record bytes, public key) or damage, and the manifest generation.
    static func snapshot(_ store: FileSecureStore) -> Snapshot {
        var result: Snapshot = [:]
        // Under the store's lock, as every access: an interrupted commit is completed first.
        switch try? store.locked({ () throws(SecureStoreError) in try store.manifestState() }) {
        case .trusted(let manifest)?: result[manifestPseudoEntry] = "generation \(manifest.generation)"
        case .untrusted(let why)?: result[manifestPseudoEntry] = "DAMAGED manifest: \(why)"
        case nil: result[manifestPseudoEntry] = "DAMAGED manifest: unreadable"
        }
        for (entry, status) in store.audit() {
            guard status == .present else { result[entry] = "DAMAGED: \(status)"; continue }
            switch entry {
            case .record(let record): result[entry] = ((try? store.read(record)) ?? nil).map(short) ?? "?"
            case .key(let slot): result[entry] = ((try? store.publicKey(slot)) ?? nil).map { short(Array($0.x963Representation)) } ?? "?"
            }
        }
        return result
    }

    /// A short, unique enough rendering of a value: its length and a hash prefix.
    static func short(_ bytes: [UInt8]) -> String {
        "\(bytes.count):" + Array(SHA256.hash(data: bytes)).prefix(6).hexString
    }

    /// Whether `snap` is the old state, or the new one (random entries: present and changed).
    static func isOldOrNew(_ snap: Snapshot, old: Snapshot, new: Snapshot, random: Set<SecureStoreEntry>) -> Bool {
        if snap == old { return true }
        guard Set(snap.keys) == Set(new.keys) else { return false }
        return snap.allSatisfy { entry, value in
            random.contains(entry) ? (value != old[entry] && !value.hasPrefix("DAMAGED")) : value == new[entry]
        }
    }

    static func leftovers(_ fs: SimulatedFileSystem) throws -> [String] {
        try fs.contentsOfDirectory(directory).filter { $0.hasSuffix(".tmp") || $0.hasPrefix("journal") }
    }

    /// The states a restart may find after `fs` stopped: every prefix of the pending
    /// directory changes, with unsynced file content kept or lost.
    static func survivors(_ fs: SimulatedFileSystem) -> [(String, SimulatedFileSystem)] {
        var result: [(String, SimulatedFileSystem)] = []
        for keepData in [true, false] {
            for prefix in [nil] + Array(0...fs.pendingMetadataCount) {
                result.append(("data kept \(keepData), metadata prefix \(prefix.map(String.init) ?? "all")",
                               fs.survivor(keepingMetadata: prefix, keepingUnsyncedData: keepData)))
            }
        }
        return result
    }

    /// The reference run: the new state and the number of file-system steps of the change.
    static func reference(_ change: Change, _ base: Base) throws -> (old: Snapshot, new: Snapshot, steps: Int) {
        let fs = clone(base.fileSystem)
        let store = try open(fs)
        let old = snapshot(store)
        let before = fs.stepCount
        try change.apply(store, base)
        let steps = fs.stepCount - before
        let new = snapshot(store)
        // Returned means durable: the strictest power loss right now keeps the new state.
        let strict = snapshot(try open(fs.survivor(keepingMetadata: 0, keepingUnsyncedData: false)))
        #expect(strict == new, "\(change): not durable when it returned")
        #expect(new != old)
        return (old, new, steps)
    }

    /// The longest test of the unit run (tens of seconds of CPU in a debug build): it yields
    /// the cooperative pool between steps, so that the real servers of other suites get a turn.
    @Test("crash or power loss at every step, and again during the recovery", arguments: changes)
    func crashAtEveryStep(change: Change) async throws {
        let base = try Self.makeBase()
        let (old, new, steps) = try Self.reference(change, base)
        #expect(steps >= 2)
        for k in 1...steps {
            await Task.yield()
            let fs = Self.clone(base.fileSystem)
            let store = try Self.open(fs)
            fs.injectFault(afterSteps: k, mode: .crash)
            #expect(throws: SecureStoreError.self, "\(change) step \(k)") { try change.apply(store, base) }
            // File systems that do not order metadata updates: any subset of the pending changes.
            let pending = fs.pendingMetadataCount
            #expect(pending <= 10)
            for keepData in [true, false] {
                for mask in 0..<(1 << min(pending, 10)) {
                    let kept = Set((0..<pending).filter { mask & (1 << $0) != 0 })
                    let snap = Self.snapshot(try Self.open(fs.survivor(keepingChanges: kept, keepingUnsyncedData: keepData)))
                    #expect(Self.isOldOrNew(snap, old: old, new: new, random: change.randomEntries),
                            "\(change), crash at step \(k) (\(fs.log.last ?? "")), changes kept \(kept.sorted()), data kept \(keepData): \(snap)")
                }
            }
            for (variant, survivor) in Self.survivors(fs) {
                let reopened = try Self.open(Self.clone(survivor))
                let snap = Self.snapshot(reopened)
                #expect(Self.isOldOrNew(snap, old: old, new: new, random: change.randomEntries),
                        "\(change), crash at step \(k) (\(fs.log.last ?? "")), \(variant): \(snap)")
                // A second crash while the restart recovers.
                let probe = Self.clone(survivor)
                let before = probe.stepCount
                _ = try Self.open(probe)
                let recovery = probe.stepCount - before
                for r in 0..<recovery {
                    let again = Self.clone(survivor)
                    again.injectFault(afterSteps: r + 1, mode: .crash)
                    #expect(throws: SecureStoreError.self) { try Self.open(again) }
                    for (variant2, survivor2) in [("kept", again.survivor(keepingMetadata: nil, keepingUnsyncedData: true)),
                                                  ("strict", again.survivor(keepingMetadata: 0, keepingUnsyncedData: false))] {
                        let snap2 = Self.snapshot(try Self.open(survivor2))
                        #expect(Self.isOldOrNew(snap2, old: old, new: new, random: change.randomEntries),
                                "\(change), crash at step \(k), \(variant), recovery crash at \(r + 1) \(variant2)")
                        #expect(try Self.leftovers(survivor2).isEmpty)
                    }
                }
            }
        }
    }

    @Test("an I/O error at any step: the change is made or the old values stay, and the caller knows which", arguments: changes)
    func transientFailureAtEveryStep(change: Change) throws {
        let base = try Self.makeBase()
        let (old, new, steps) = try Self.reference(change, base)
        for k in 1...steps {
            let fs = Self.clone(base.fileSystem)
            let store = try Self.open(fs)
            fs.injectFault(afterSteps: k, mode: .transient)
            let threw = (try? change.apply(store, base)) == nil
            let snap = Self.snapshot(store)
            if threw {
                #expect(snap == old, "\(change): failed at step \(k) (\(fs.log.last ?? "")) but changed the store")
            } else {
                #expect(Self.isOldOrNew(snap, old: old, new: new, random: change.randomEntries) && snap != old,
                        "\(change): succeeded despite a failure at step \(k) but the store is not new")
                let strict = Self.snapshot(try Self.open(fs.survivor(keepingMetadata: 0, keepingUnsyncedData: false)))
                #expect(strict == snap, "\(change): failure at step \(k), success returned before durable")
            }
            let reopened = try Self.open(fs)
            #expect(Self.snapshot(reopened) == snap)
            #expect(try Self.leftovers(fs).isEmpty)
            // The store keeps working after the failure.
            try reopened.write(.plantLock, [2])
            #expect(try store.read(.plantLock) == [2])
        }
    }

    @Test("a burst of I/O errors after the commit point: the commit completes before the next operation", arguments: changes)
    func burstOfFailures(change: Change) throws {
        let base = try Self.makeBase()
        let (old, new, steps) = try Self.reference(change, base)
        var deferred = 0
        for k in 1...steps {
            let fs = Self.clone(base.fileSystem)
            let store = try Self.open(fs)
            for offset in 0..<6 { fs.injectFault(afterSteps: k + offset, mode: .transient) }
            let threw = (try? change.apply(store, base)) == nil
            // The failures are over: the next operation sees a consistent store.
            fs.clearFaults()
            let snap = Self.snapshot(store)
            #expect(Self.isOldOrNew(snap, old: old, new: new, random: change.randomEntries), "\(change), burst at step \(k)")
            if threw && snap != old { deferred += 1 }
            #expect(Self.snapshot(try Self.open(fs.survivor(keepingMetadata: 0, keepingUnsyncedData: false))) == snap)
            // Temporary files a failed clean-up left behind go at the next opening.
            #expect(Self.snapshot(try Self.open(fs)) == snap)
            #expect(try Self.leftovers(fs).isEmpty)
        }
        // Some bursts hit after the commit point: the change was completed later.
        #expect(deferred > 0)
    }

    @Test("crash at every step of the very first opening (device key creation)")
    func firstOpening() throws {
        let probe = SimulatedFileSystem()
        _ = try Self.open(probe)
        for k in 1...probe.stepCount {
            let fs = SimulatedFileSystem()
            fs.injectFault(afterSteps: k, mode: .crash)
            #expect(throws: SecureStoreError.self) { try Self.open(fs) }
            for (variant, survivor) in Self.survivors(fs) {
                let store = try Self.open(survivor)
                try store.write(.vin, [1])
                #expect(try Self.open(survivor).read(.vin) == [1], "step \(k), \(variant)")
            }
        }
    }

    @Test("the simulated file system loses what was not synced (the model can catch a missing fsync)")
    func modelIsStrict() throws {
        let fs = SimulatedFileSystem()
        try fs.makeDirectory("/d", mode: 0o700)
        let handle = try fs.createFile("/d/a.tmp", mode: 0o600)
        try fs.write(handle, [1, 2, 3])
        try fs.close(handle)  // no fsync
        try fs.rename("/d/a.tmp", "/d/a")
        try fs.syncDirectory("/d")
        #expect(try fs.survivor(keepingMetadata: nil, keepingUnsyncedData: false).readFile("/d/a", limit: 10) == [])
        #expect(try fs.survivor(keepingMetadata: nil, keepingUnsyncedData: true).readFile("/d/a", limit: 10) == [1, 2, 3])
        let other = try fs.createFile("/d/b", mode: 0o600)
        try fs.sync(other)
        try fs.close(other)
        #expect(fs.pendingMetadataCount == 1)
        #expect(try fs.survivor(keepingMetadata: 0, keepingUnsyncedData: true).readFile("/d/b", limit: 10) == nil)
    }
}
