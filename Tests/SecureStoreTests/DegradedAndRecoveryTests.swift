import Foundation
import SpaakCore
import Testing
@testable import SecureStore

/// A damaged device key (issue 7, defect 5): a degraded store instead of a failed start,
/// and the explicit recovery `recreate-store`; secrets from files and the environment
/// (defect 6).
@Suite("Degraded store, recreation, secret inputs")
struct DegradedAndRecoveryTests {
    func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { Array($0) } }
    func put(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    /// Every file of a folder with its content.
    func contents(_ directory: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            result[name] = bytes(directory + "/" + name)
        }
        return result
    }

    func populated(_ folder: TemporaryDirectory) throws {
        let store = try FileSecureStore(directory: folder.store, logger: quietLogger)
        try store.write(.plantLock, [1])
        try store.writeCounter(.c2vCounter, 7)
        try store.generateKey(.ecuIdentity)
    }

    @Test("a damaged device.key gives a degraded store: no throw, every entry corrupt, commits refused, nothing written")
    func damagedDeviceKey() throws {
        let folder = TemporaryDirectory()
        try populated(folder)
        var key = try #require(bytes(folder.store + "/device.key"))
        key[20] ^= 0x10
        try put(key, folder.store + "/device.key")
        let before = try contents(folder.store)
        let store = FileSecureStore.openOrDegraded(directory: folder.store, logger: quietLogger)
        #expect(store is DegradedSecureStore)
        for entry in [SecureStoreEntry.record(.plantLock), .record(.c2vCounter), .record(.vin), .key(.ecuIdentity)] {
            guard case .corrupt(let reason) = store.status(entry) else { Issue.record("\(entry) not corrupt"); continue }
            #expect(reason.hasPrefix("device key damaged: "))
        }
        #expect(throws: SecureStoreError.self) { try store.read(.plantLock) }
        #expect(throws: SecureStoreError.self) { try store.sign(.ecuIdentity, message: [1]) }
        #expect(throws: SecureStoreError.self) { try store.write(.vin, Array("VF3ABCDEF12345678".utf8), replacingCorrupt: true) }
        #expect(throws: SecureStoreError.self) { try store.generateKey(.ecuIdentity) }
        #expect(store.audit()[.record(.plantLock)] != nil)
        #expect(try contents(folder.store) == before, "nothing written, the key not regenerated")
        // A missing device key next to entries: degraded as well, and no new key.
        try FileManager.default.removeItem(atPath: folder.store + "/device.key")
        #expect(FileSecureStore.openOrDegraded(directory: folder.store, logger: quietLogger) is DegradedSecureStore)
        #expect(bytes(folder.store + "/device.key") == nil)
    }

    @Test("recreate-store refuses without the confirmation, then keeps the old folder and counter aside")
    func recreate() throws {
        let folder = TemporaryDirectory()
        try populated(folder)
        let counter = folder.path + "/.store.counter"
        try FileMonotonicCounter(path: counter).advance(to: 5)
        let before = try contents(folder.store)
        #expect(throws: SecureStoreError.self) {
            try SecureStoreRecreation.recreate(directory: folder.store, counterPath: counter, timestamp: "T1", confirmed: false,
                                               logger: quietLogger)
        }
        #expect(try contents(folder.store) == before)
        #expect(FileManager.default.fileExists(atPath: folder.store + ".damaged-T1") == false)

        let outcome = try SecureStoreRecreation.recreate(directory: folder.store + "/", counterPath: counter, timestamp: "T1",
                                                         confirmed: true, logger: quietLogger)
        #expect(outcome.movedFolderTo == folder.store + ".damaged-T1")
        #expect(outcome.movedCounterTo == counter + ".damaged-T1")
        #expect(try contents(folder.store + ".damaged-T1") == before)
        let fresh = try FileSecureStore(directory: folder.store, monotonicCounter: FileMonotonicCounter(path: counter),
                                        logger: quietLogger)
        #expect(fresh.audit().isEmpty)
        #expect(fresh.status(.plantLock) == .absent)
        try fresh.write(.vin, Array("VF3ABCDEF12345678".utf8))
        #expect(try fresh.read(.vin) != nil)
        // The place aside is never overwritten.
        #expect(throws: SecureStoreError.self) {
            try SecureStoreRecreation.recreate(directory: folder.store, counterPath: counter, timestamp: "T1", confirmed: true,
                                               logger: quietLogger)
        }
    }

    @Test("K_plant: file (hex or raw), option, environment, precedence and clear errors")
    func plantKeyInputs() throws {
        let key = [UInt8](0x10...0x1F)
        let files: [String: [UInt8]] = [
            "hex": Array((key.hexString.lowercased() + "\n").utf8),
            "raw": key,
            "short": Array("0011".utf8),
        ]
        func read(_ path: String) throws(SecretInput.Failure) -> [UInt8]? { files[path] }
        func resolve(option: String? = nil, file: String? = nil, env: String? = nil) throws(SecretInput.Failure) -> String {
            let r = try SecretInput.plantKey(option: option, file: file, environment: env, readFile: read)
            return r.key.hexString + " from " + r.source.rawValue
        }
        let zeros = "00000000000000000000000000000000"
        #expect(try resolve(file: "hex") == key.hexString + " from --plant-key-file")
        #expect(try resolve(file: "raw") == key.hexString + " from --plant-key-file")
        #expect(try resolve(file: "hex", env: zeros) == key.hexString + " from --plant-key-file")
        #expect(try resolve(env: key.hexString) == key.hexString + " from SPAAK_PLANT_KEY")
        #expect(try resolve(env: " " + key.hexString.lowercased() + "\n") == key.hexString + " from SPAAK_PLANT_KEY")
        #expect(try resolve(option: key.hexString, env: zeros) == key.hexString + " from --plant-key")
        #expect(try resolve() == SecretInput.defaultPlantKey.hexString + " from the built-in test key")
        #expect(throws: SecretInput.Failure.self) { try resolve(file: "short") }
        #expect(throws: SecretInput.Failure.self) { try resolve(file: "missing") }
        #expect(throws: SecretInput.Failure.self) { try resolve(option: key.hexString, file: "hex") }
        #expect(throws: SecretInput.Failure.self) { try resolve(env: "12") }
        #expect(throws: SecretInput.Failure.self) { try resolve(option: "xyz") }
        do {
            _ = try resolve(file: "short")
        } catch {
            #expect(!"\(error)".contains("0011"), "the error never shows the content")
        }
    }

    @Test("device key secret file: 16 to 4096 bytes, read from disk; the derived key opens the store")
    func deviceSecretFile() throws {
        let folder = TemporaryDirectory()
        let path = folder.path + "/secret"
        #expect(throws: SecretInput.Failure.self) { try SecretInput.deviceSecret(fileContent: nil, path: path) }
        #expect(throws: SecretInput.Failure.self) { try SecretInput.deviceSecret(fileContent: [1, 2, 3], path: path) }
        #expect(throws: SecretInput.Failure.self) {
            try SecretInput.deviceSecret(fileContent: [UInt8](repeating: 1, count: 4097), path: path)
        }
        #expect(try SecretInput.readSecretFile(path) == nil)
        let secret = [UInt8](repeating: 0x5A, count: 32)
        try put(secret, path)
        let read = try SecretInput.deviceSecret(fileContent: try SecretInput.readSecretFile(path), path: path)
        #expect(read == secret)
        let store = try FileSecureStore(directory: folder.store, deviceKey: .derived(fromSecret: read), logger: quietLogger)
        try store.write(.vin, [1])
        #expect(bytes(folder.store + "/device.key") == nil, "the key does not lie beside the data")
    }

    @Test("the default counter file lies beside the store folder, not inside")
    func counterDefaultPath() {
        #expect(FileMonotonicCounter.defaultPath(forStore: "./spaak-store") == "./.spaak-store.counter")
        #expect(FileMonotonicCounter.defaultPath(forStore: "/var/spaak/store-1/") == "/var/spaak/.store-1.counter")
        #expect(FileMonotonicCounter.defaultPath(forStore: "store") == ".store.counter")
    }
}
