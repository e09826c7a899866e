import Foundation
import Synchronization
import Testing
@testable import SecureStore

/// The real file system, dying at a chosen mutating call: every later call fails too, as
/// if the process had been killed there.
final class CrashingFileSystem: SecureStoreFileSystem {
    let real = POSIXFileSystem()
    let counter = Mutex((steps: 0, crashAt: Int.max))

    func arm(crashAfter steps: Int) { counter.withLock { $0.crashAt = $0.steps + steps } }
    var steps: Int { counter.withLock { $0.steps } }

    func step(_ what: String, mutating: Bool = true) throws(SecureStoreError) {
        let dead = counter.withLock { c -> Bool in
            if mutating && c.steps < c.crashAt { c.steps += 1 }
            return c.steps >= c.crashAt
        }
        if dead { throw .io(operation: "\(what) (simulated crash)", path: "", errno: EIO) }
    }

    func makeDirectory(_ path: String, mode: UInt32) throws(SecureStoreError) { try step("mkdir"); try real.makeDirectory(path, mode: mode) }
    func contentsOfDirectory(_ path: String) throws(SecureStoreError) -> [String] { try step("list", mutating: false); return try real.contentsOfDirectory(path) }
    func readFile(_ path: String, limit: Int) throws(SecureStoreError) -> [UInt8]? { try step("read", mutating: false); return try real.readFile(path, limit: limit) }
    func createFile(_ path: String, mode: UInt32) throws(SecureStoreError) -> Int32 { try step("create"); return try real.createFile(path, mode: mode) }
    func write(_ handle: Int32, _ bytes: [UInt8]) throws(SecureStoreError) { try step("write"); try real.write(handle, bytes) }
    func sync(_ handle: Int32) throws(SecureStoreError) { try step("fsync"); try real.sync(handle) }
    func close(_ handle: Int32) throws(SecureStoreError) { try step("close"); try real.close(handle) }
    func rename(_ from: String, _ to: String) throws(SecureStoreError) { try step("rename"); try real.rename(from, to) }
    func remove(_ path: String) throws(SecureStoreError) { try step("unlink"); try real.remove(path) }
    func syncDirectory(_ path: String) throws(SecureStoreError) { try step("fsync dir"); try real.syncDirectory(path) }
    func mode(_ path: String) throws(SecureStoreError) -> UInt32? { try step("stat", mutating: false); return try real.mode(path) }
    func setMode(_ path: String, _ mode: UInt32) throws(SecureStoreError) { try step("chmod"); try real.setMode(path, mode) }
}

@Suite("Atomicity on disk")
struct DiskCrashTests {
    /// Old state: VIN A, [K] key, verifier; new state (one commit): VIN B, no verifier, a pending key promoted.
    @Test("a process killed at any step of a commit (counter advance included) leaves all old or all new values, a matching manifest and counter")
    func killedAtEveryStep() throws {
        var k = 1
        var sawOld = false, sawNew = false
        while true {
            let folder = TemporaryDirectory()
            let fs = CrashingFileSystem()
            let counterPath = folder.path + "/counter"
            let store = try FileSecureStore(directory: folder.store, monotonicCounter: FileMonotonicCounter(path: counterPath, fileSystem: fs),
                                            fileSystem: fs, logger: quietLogger)
            try store.write(.vin, Array("A".utf8))
            try store.write(.spake2Verifier, [1, 2, 3])
            let oldKey = try store.generateKey(.vehicleIdentity)
            let newKey = try store.generateKey(.vehicleIdentityPending)
            fs.arm(crashAfter: k)
            let finished = (try? store.commit([.write(.vin, Array("B".utf8)), .delete(.spake2Verifier),
                                               .promotePendingKey(.vehicleIdentity)])) != nil
            let reopened = try FileSecureStore(directory: folder.store, monotonicCounter: FileMonotonicCounter(path: counterPath),
                                               logger: quietLogger)
            // The manifest matches the entries and the counter follows it, whatever the step.
            guard case .trusted(let manifest) = try reopened.manifestState() else {
                Issue.record("killed at step \(k): manifest not trusted"); break
            }
            #expect(manifest.generation == 4 || manifest.generation == 5, "step \(k): generation \(manifest.generation)")
            #expect(try FileMonotonicCounter(path: counterPath).read() == manifest.generation, "step \(k)")
            let vin = try reopened.read(.vin), verifier = try reopened.read(.spake2Verifier)
            let active = x963(try reopened.publicKey(.vehicleIdentity)), pending = x963(try reopened.publicKey(.vehicleIdentityPending))
            let isOld = vin == Array("A".utf8) && verifier == [1, 2, 3] && active == x963(oldKey) && pending == x963(newKey)
            let isNew = vin == Array("B".utf8) && verifier == nil && active == x963(newKey) && pending == nil
            #expect(isOld || isNew, "killed at step \(k): vin \(String(describing: vin)), verifier \(String(describing: verifier))")
            sawOld = sawOld || isOld
            sawNew = sawNew || isNew
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.store)
            #expect(!names.contains { $0.hasSuffix(".tmp") || $0.hasPrefix("journal") }, "step \(k): \(names)")
            if finished { break }
            k += 1
            guard k < 200 else { Issue.record("the commit never finished"); break }
        }
        #expect(sawOld && sawNew)
        #expect(k > 10)
    }
}
