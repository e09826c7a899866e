import CloudProtocol
import Foundation
import Logging
import OwnerPairing
import SecureStore
import SpaakCore
import Testing
@testable import SpaakECU

/// The phase 2 commit of owner pairing (ICD 8.3: the pending owner key, the verifier deleted
/// and the failed-attempt count reset, in one store commit) with a crash or power loss at
/// every file-system step of a `FileSecureStore` on a `SimulatedFileSystem`: the store a
/// restart finds holds all the old values or all the new ones, and a module started on it
/// shows a consistent state (a pending key from before the restart is deleted, no window).
@Suite("Owner pairing: the phase 2 commit under crashes")
struct OwnerPairingCrashTests {
    static let directory = "/data/store"
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func open(_ fs: SimulatedFileSystem) throws -> FileSecureStore {
        try FileSecureStore(directory: directory, fileSystem: fs, logger: quiet)
    }

    static func clone(_ fs: SimulatedFileSystem) -> SimulatedFileSystem {
        fs.survivor(keepingMetadata: nil, keepingUnsyncedData: true)
    }

    /// The three records of the commit as a store shows them.
    struct Records: Equatable, CustomStringConvertible {
        var ownerKey: String
        var verifier: String
        var failures: String
        var description: String { "owner-key \(ownerKey), spake2-verifier \(verifier), owner-pairing-failures \(failures)" }

        init(_ store: any SecureStore) {
            func show(_ record: SecureStoreRecord) -> String {
                switch store.status(record) {
                case .absent: return "absent"
                case .corrupt(let reason): return "DAMAGED \(reason)"
                case .present: return ((try? store.read(record)) ?? nil)?.hexString ?? "unreadable"
                }
            }
            ownerKey = show(.ownerKey)
            verifier = show(.spake2Verifier)
            failures = show(.ownerPairingFailures)
        }
    }

    /// A store after PP-02 and two wrong passwords (count 2), its file system, and the
    /// pending owner key a phase 2 would store.
    struct Base {
        let fileSystem: SimulatedFileSystem
        let key: OwnerKey
        let phone: PairingPhone
    }

    static func makeBase() throws -> Base {
        let fs = SimulatedFileSystem()
        let b = try PairingBench.provisioned(store: try open(fs))
        let right = try #require(b.phone)
        b.phone = PairingPhone(secrets: try PairingBench.secrets(password: "wrong", metadata: b.uds([0x22, 0xD1, 0x23])))
        b.headUnitStartsPairing()
        for _ in 0..<2 {
            b.tap()
            b.remove()
        }
        try #require(b.failedAttempts == 2 && b.flags & 0x40 == 0x40 && b.pairingState == 1)
        let key = try #require(OwnerKey(publicKey: right.endpointPublicKey, friendlyName: right.name))
        return Base(fileSystem: clone(fs), key: key, phone: right)
    }

    /// The job the module runs for `.storePendingOwnerKey` (`PairingStoreWork`), on `store`.
    static func phase2Commit(_ key: OwnerKey, on store: any SecureStore) -> Bool {
        let work = StoreWork(store: store, wallClock: { ModuleHarness.wallTime }, logger: quiet)
        let job = work.job(for: .storePendingOwnerKey(key), sources: nil)
        guard case .ownerPairing(.pendingOwnerKeyStored(let success)) = job.run().product else { return false }
        return success
    }

    /// The states a restart may find after `fs` stopped: every prefix of the pending
    /// directory changes (ordered metadata journal), with unsynced file content kept or lost.
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

    /// A module started on `store`: after its first turns the store and what it shows are
    /// consistent with `old` (no key, verifier, count 2) or with a deleted pending key.
    static func checkRestart(on store: FileSecureStore, wasNew: Bool, _ context: String) {
        let h = ModuleHarness(store: store)
        h.advance(by: .milliseconds(300))
        let status = h.frames(on: 0x3A8).last?.data ?? []
        guard status.count == 8 else {
            Issue.record("\(context): no SPAAK_Status")
            return
        }
        #expect(status[7] == 0, "\(context): byte 7 (owner pairing) \(status[7]) after the restart")
        #expect(h.uds([0x22, 0xD1, 0x25]) == [0x7F, 0x22, 0x22], "\(context): D125 shows a key")
        #expect(h.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 0, 0, 0] + [UInt8](repeating: 0, count: 8), "\(context): D124")
        #expect((try? store.read(.ownerKey)) == .some(nil), "\(context): the pending key from before the restart is still stored")
        if wasNew {
            #expect(status[2] & 0x40 == 0, "\(context): verifier flag")
            #expect(status[6] == 0, "\(context): failed attempts")
        } else {
            #expect(status[2] & 0x40 == 0x40, "\(context): verifier flag")
            #expect(status[6] == 2, "\(context): failed attempts")
        }
    }

    @Test("the phase 2 commit with a crash at every step: old or new, never a mix; a restarted module is consistent")
    func crashAtEveryStepOfThePhase2Commit() throws {
        let base = try Self.makeBase()
        let reference = Self.clone(base.fileSystem)
        let store = try Self.open(reference)
        let old = Records(store)
        #expect(old.ownerKey == "absent" && old.verifier != "absent" && old.failures == UInt64(2).bigEndianBytes.hexString)
        let before = reference.stepCount
        #expect(Self.phase2Commit(base.key, on: store))
        let steps = reference.stepCount - before
        let new = Records(try Self.open(Self.clone(reference)))
        #expect(new.ownerKey == base.key.recordBytes.hexString && new.verifier == "absent"
                && new.failures == UInt64(0).bigEndianBytes.hexString, "\(new)")
        // The job commits exactly the operations of ICD 8.3 step 5.
        let listed = try Self.open(Self.clone(base.fileSystem))
        try listed.commit([.write(.ownerKey, base.key.recordBytes, replacingCorrupt: true), .delete(.spake2Verifier),
                           .write(.ownerPairingFailures, UInt64(0).bigEndianBytes, replacingCorrupt: true)])
        #expect(Records(listed) == new)
        // Returned means durable.
        #expect(Records(try Self.open(reference.survivor(keepingMetadata: 0, keepingUnsyncedData: false))) == new)
        // A module restarted after the commit: the pending key goes, the window is closed.
        Self.checkRestart(on: try Self.open(Self.clone(reference)), wasNew: true, "after a completed commit")
        #expect(steps >= 4)

        var sawOld = false, sawNew = false
        for k in 1...steps {
            let fs = Self.clone(base.fileSystem)
            let crashing = try Self.open(fs)
            fs.injectFault(afterSteps: k, mode: .crash)
            #expect(!Self.phase2Commit(base.key, on: crashing), "crash at step \(k): the job reports a failure")
            for (variant, survivor) in Self.survivors(fs) {
                let context = "crash at step \(k) (\(fs.log.last ?? "")), \(variant)"
                let reopened = try Self.open(survivor)
                let found = Records(reopened)
                #expect(found == old || found == new, "\(context): \(found)")
                sawOld = sawOld || found == old
                sawNew = sawNew || found == new
                Self.checkRestart(on: reopened, wasNew: found == new, context)
            }
        }
        #expect(sawOld && sawNew, "the crashes hit both sides of the commit point")
    }

    @Test("the module's own phase 2 with a crash at every step of the tap: old or new, never a mix")
    func crashDuringTheModulesPhase2() throws {
        let base = try Self.makeBase()
        // How many file-system steps the module's tap takes (the commit, nothing else).
        let probe = Self.clone(base.fileSystem)
        let steps = try Self.tapSteps(base, probe)
        #expect(Records(try Self.open(Self.clone(probe))).ownerKey.hasPrefix("02"), "the reference tap stored a pending key")
        #expect(steps >= 4)
        for k in 1...steps {
            let fs = Self.clone(base.fileSystem)
            _ = try Self.tapSteps(base, fs, crashAt: k)
            for (variant, survivor) in Self.survivors(fs) where variant.contains("prefix all") || variant.contains("prefix 0") {
                let context = "module tap, crash at step \(k) (\(fs.log.last ?? "")), \(variant)"
                let reopened = try Self.open(survivor)
                let found = Records(reopened)
                let isNew = found.ownerKey.hasPrefix("02") && found.verifier == "absent"
                    && found.failures == UInt64(0).bigEndianBytes.hexString
                let isOld = found.ownerKey == "absent" && found.verifier != "absent"
                    && found.failures == UInt64(2).bigEndianBytes.hexString
                #expect(isNew || isOld, "\(context): \(found)")
                Self.checkRestart(on: reopened, wasNew: isNew, context)
            }
        }
    }

    /// A module on `fs` (the base state), the window opened by HU_Request, one tap of the
    /// right phone; with `crashAt` the file system dies at that step after the window
    /// opened. Returns the file-system steps the tap took.
    static func tapSteps(_ base: Base, _ fs: SimulatedFileSystem, crashAt: Int? = nil) throws -> Int {
        let b = try PairingBench(store: try open(fs), planted: false, linkState: .offline)
        b.phone = base.phone
        b.headUnitStartsPairing()
        #expect(b.pairingState == 1)
        let before = fs.stepCount
        if let crashAt { fs.injectFault(afterSteps: crashAt, mode: .crash) }
        b.tap()
        if crashAt == nil { #expect(b.pairingState == 2) }
        return fs.stepCount - before
    }
}
