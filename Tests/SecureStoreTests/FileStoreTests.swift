import Crypto
import Foundation
import SpaakCore
import Testing
@testable import SecureStore

/// `FileSecureStore` on disk: persistence, permissions, detection of every damage.
@Suite("File store on disk")
struct FileStoreTests {
    func open(_ folder: TemporaryDirectory, deviceKey: SecureStoreDeviceKey = .generatedFile) throws -> FileSecureStore {
        try FileSecureStore(directory: folder.store, deviceKey: deviceKey, logger: quietLogger)
    }

    func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { Array($0) } }

    func put(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// A store holding one entry of each kind: clear record, secret record, key.
    func populated(_ folder: TemporaryDirectory) throws -> (FileSecureStore, P256.Signing.PublicKey) {
        let store = try open(folder)
        try store.write(.vin, Array("VF3ABCDEF12345678".utf8))
        try store.write(.drmUUID, [UInt8](0..<16))
        try store.write(.spake2Verifier, [UInt8](repeating: 0xA5, count: 97))
        let key = try store.generateKey(.vehicleIdentity)
        return (store, key)
    }

    @Test("everything survives a restart; a key still signs for its old public key")
    func persistence() throws {
        let folder = TemporaryDirectory()
        let (_, key) = try populated(folder)
        let reopened = try open(folder)
        #expect(try reopened.read(.vin) == Array("VF3ABCDEF12345678".utf8))
        #expect(try reopened.read(.spake2Verifier) == [UInt8](repeating: 0xA5, count: 97))
        #expect(x963(try reopened.publicKey(.vehicleIdentity)) == x963(key))
        let signature = try P256.Signing.ECDSASignature(derRepresentation: try reopened.sign(.vehicleIdentity, message: [7]))
        #expect(key.isValidSignature(signature, for: [7]))
        #expect(reopened.audit().count == 4)
    }

    @Test("folder 0700, files 0600, loosened modes corrected at the next opening")
    func permissions() throws {
        let folder = TemporaryDirectory()
        _ = try populated(folder)
        #expect(try mode(folder.store) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.store).sorted()
        #expect(names == ["device.key", "key.vehicle-identity", "manifest", "rec.drm-uuid", "rec.spake2-verifier", "rec.vin"])
        for name in names { #expect(try mode(folder.store + "/" + name) == 0o600, "\(name)") }
        chmod(folder.store, 0o755)
        chmod(folder.store + "/rec.vin", 0o644)
        _ = try open(folder)
        #expect(try mode(folder.store) == 0o700)
        #expect(try mode(folder.store + "/rec.vin") == 0o600)
    }

    @Test("flipping any single byte of any entry file is detected", arguments: ["rec.vin", "rec.spake2-verifier", "key.vehicle-identity"])
    func tamperEveryByte(file: String) throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        let path = folder.store + "/" + file
        let original = try #require(bytes(path))
        let entry = try #require(SecureStoreEntry(fileName: file))
        for index in original.indices {
            var damaged = original
            damaged[index] ^= 0x01
            try put(damaged, path)
            guard case .corrupt = store.status(entry) else {
                Issue.record("byte \(index) of \(file) flipped: not detected")
                continue
            }
        }
        try put(original, path)
        #expect(store.status(entry) == .present)
    }

    @Test("a file cut at any length, or extended, is detected", arguments: ["rec.drm-uuid", "rec.spake2-verifier", "key.vehicle-identity"])
    func truncateEveryLength(file: String) throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        let path = folder.store + "/" + file
        let original = try #require(bytes(path))
        let entry = try #require(SecureStoreEntry(fileName: file))
        for length in 0..<original.count {
            try put(Array(original.prefix(length)), path)
            guard case .corrupt = store.status(entry) else {
                Issue.record("\(file) cut to \(length) of \(original.count) bytes: not detected")
                continue
            }
            #expect(throws: SecureStoreError.self) {
                if case .key(let slot) = entry { _ = try store.publicKey(slot) } else if case .record(let r) = entry { _ = try store.read(r) }
            }
        }
        try put(original + [0], path)
        #expect(store.status(entry) == .corrupt(reason: "\(original.count + 1) bytes where \(original.count) are expected (trailing data)"))
    }

    @Test("files swapped or copied between entries are detected, and left in place")
    func swappedFiles() throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        try store.write(.subjectID, [UInt8](1...16))
        let a = folder.store + "/rec.drm-uuid", b = folder.store + "/rec.subject-id"
        let bytesA = try #require(bytes(a)), bytesB = try #require(bytes(b))
        try put(bytesB, a)
        try put(bytesA, b)
        let reopened = try open(folder)
        #expect(reopened.status(.drmUUID) == .corrupt(reason: "the file holds \"subject-id\", not \"drm-uuid\" (swapped or renamed file)"))
        guard case .corrupt = reopened.status(.subjectID) else { Issue.record("swap not detected"); return }
        // Opening neither repaired nor replaced them.
        #expect(bytes(a) == bytesB)
        #expect(bytes(b) == bytesA)
        // A key copied into the pending slot is not taken for a pending key.
        try put(try #require(bytes(folder.store + "/key.vehicle-identity")), folder.store + "/key.vehicle-identity-pending")
        #expect(throws: SecureStoreError.self) { try reopened.publicKey(.vehicleIdentityPending) }
    }

    @Test("secrets are encrypted at rest, clear records are not")
    func encryptedAtRest() throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        let raw = try #require({ if case .present(let b) = try store.load(.key(.vehicleIdentity)) { return b } else { return nil } }())
        #expect(raw.count == 32)
        let keyFile = try #require(bytes(folder.store + "/key.vehicle-identity"))
        #expect(!contains(keyFile, raw))
        let verifierFile = try #require(bytes(folder.store + "/rec.spake2-verifier"))
        #expect(!contains(verifierFile, [UInt8](repeating: 0xA5, count: 8)))
        let custom = try #require(SecureStoreRecord(rawValue: "secret-pin"))
        try store.write(custom, Array("0123456789".utf8))
        #expect(!contains(try #require(bytes(folder.store + "/rec.secret-pin")), Array("0123456789".utf8)))
        #expect(try store.read(custom) == Array("0123456789".utf8))
        let vinFile = try #require(bytes(folder.store + "/rec.vin"))
        #expect(contains(vinFile, Array("VF3ABCDEF12345678".utf8)))
        // Nor does the private key appear in anything the API describes.
        let hex = raw.hexString
        let texts = [String(describing: store), String(reflecting: store.audit()),
                     String(describing: SecureStoreError.corrupt(.key(.vehicleIdentity), reason: "x")),
                     String(describing: SecureStoreDeviceKey.derived(fromSecret: raw))]
        for text in texts { #expect(!text.uppercased().contains(hex)) }
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    @Test("a missing or damaged device key stops the opening and is not replaced")
    func deviceKey() throws {
        let folder = TemporaryDirectory()
        _ = try populated(folder)
        let keyPath = folder.store + "/device.key"
        let original = try #require(bytes(keyPath))
        var damaged = original
        damaged[10] ^= 0x40
        try put(damaged, keyPath)
        #expect(throws: SecureStoreError.deviceKey("device.key is damaged (bad magic, version or checksum)")) { try open(folder) }
        #expect(bytes(keyPath) == damaged)
        try FileManager.default.removeItem(atPath: keyPath)
        #expect(throws: SecureStoreError.self) { try open(folder) }
        #expect(bytes(keyPath) == nil)
        try put(original, keyPath)
        #expect(try open(folder).read(.drmUUID) == [UInt8](0..<16))
    }

    @Test("a key derived from a secret: same secret reads, another one sees only damage")
    func derivedDeviceKey() throws {
        let folder = TemporaryDirectory()
        let secret = [UInt8](repeating: 0x42, count: 32)
        let store = try open(folder, deviceKey: .derived(fromSecret: secret))
        try store.write(.vin, [1, 2, 3])
        #expect(bytes(folder.store + "/device.key") == nil)
        #expect(try open(folder, deviceKey: .derived(fromSecret: secret)).read(.vin) == [1, 2, 3])
        let stranger = try open(folder, deviceKey: .derived(fromSecret: [UInt8](repeating: 0x43, count: 32)))
        // The manifest, authenticated with the device key, is the first thing that does not match.
        #expect(stranger.status(.vin) == .corrupt(reason: "the manifest is damaged: integrity tag does not match (tampered, damaged or another device key)"))
        #expect(throws: SecureStoreError.deviceKey("the secret holds 8 bytes, at least 16 are needed")) {
            try open(folder, deviceKey: .derived(fromSecret: [UInt8](repeating: 1, count: 8)))
        }
    }

    @Test("leftover temporary files are removed at opening; a damaged journal is set aside, not applied")
    func leftovers() throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        let vin = try #require(bytes(folder.store + "/rec.vin"))
        try put([1, 2, 3], folder.store + "/rec.vin.tmp")
        try put([4, 5, 6], folder.store + "/journal.tmp")
        try put(try RecordCodec.encode(.record(.drmUUID), payload: [9], keys: store.keys), folder.store + "/rec.drm-uuid.tmp")
        try put(Array("SPKJ garbage".utf8), folder.store + "/journal")
        let reopened = try open(folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.store).sorted()
        #expect(names == ["device.key", "journal.damaged", "key.vehicle-identity", "manifest", "rec.drm-uuid", "rec.spake2-verifier", "rec.vin"])
        #expect(bytes(folder.store + "/rec.vin") == vin)
        #expect(try reopened.read(.drmUUID) == [UInt8](0..<16))
    }

    @Test("a committed journal found at opening is completed")
    func journalRollForward() throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        let file = try RecordCodec.encode(.record(.drmUUID), payload: [9], keys: store.keys)
        try put(file, folder.store + "/rec.drm-uuid.tmp")
        let manifest = StoreManifestCheck.next(after: try store.manifestState(), counter: nil,
                                               changes: [(.record(.drmUUID), file), (.record(.vin), nil)])
        try put(manifest.encode(keys: store.keys), folder.store + "/manifest.tmp")
        try put(JournalFile.encode([.install(.record(.drmUUID)), .remove(.record(.vin)), .installManifest], keys: store.keys),
                folder.store + "/journal")
        let reopened = try open(folder)
        #expect(try reopened.read(.drmUUID) == [9])
        #expect(try reopened.read(.vin) == nil)
        #expect(bytes(folder.store + "/journal") == nil)
    }

    @Test("unknown and oversized files")
    func oddFiles() throws {
        let folder = TemporaryDirectory()
        let (store, _) = try populated(folder)
        try put([1], folder.store + "/notes.txt")
        try put([UInt8](repeating: 0, count: RecordCodec.maxFileSize + 10), folder.store + "/rec.plant-lock")
        #expect(store.status(.plantLock) == .corrupt(reason: "file larger than \(RecordCodec.maxFileSize) bytes"))
        #expect(store.audit()[.record(.plantLock)] != nil)
        #expect(try open(folder).read(.vin) != nil)
    }
}
