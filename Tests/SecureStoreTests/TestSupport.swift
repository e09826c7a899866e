import Crypto
import Foundation
import Logging
import SwiftASN1
import X509
@testable import SecureStore

/// A fresh folder under the system temporary directory, removed at deinit.
final class TemporaryDirectory {
    let path: String

    init() {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("securestore-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    /// The store folder inside (not created: the store creates it).
    var store: String { path + "/store" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A logger that drops everything (the tests check behaviour, not log lines).
let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// The kinds of store the shared behaviour tests run against.
enum StoreKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case memory, simulatedFiles, posixFiles
    var description: String { rawValue }
}

/// A store under test, with what is needed to damage its entries.
final class StoreUnderTest {
    let store: any SecureStore
    let fileSystem: (any SecureStoreFileSystem)?
    let directory: String
    let folder: TemporaryDirectory?

    init(_ kind: StoreKind) throws {
        switch kind {
        case .memory:
            store = InMemorySecureStore()
            fileSystem = nil
            directory = ""
            folder = nil
        case .simulatedFiles:
            let fs = SimulatedFileSystem()
            fileSystem = fs
            directory = "/store"
            folder = nil
            store = try FileSecureStore(directory: directory, fileSystem: fs, logger: quietLogger)
        case .posixFiles:
            let temporary = TemporaryDirectory()
            let fs = POSIXFileSystem()
            folder = temporary
            fileSystem = fs
            directory = temporary.store
            store = try FileSecureStore(directory: directory, fileSystem: fs, logger: quietLogger)
        }
    }

    /// Damages an entry: flips a byte in the middle of its file (or injects damage in memory).
    func damage(_ entry: SecureStoreEntry) throws {
        if let memory = store as? InMemorySecureStore {
            memory.injectCorruption(entry)
            return
        }
        guard let fs = fileSystem else { return }
        let path = directory + "/" + entry.fileName
        var bytes = try fs.readFile(path, limit: 1 << 20) ?? []
        if bytes.isEmpty { bytes = [0] } else { bytes[bytes.count / 2] ^= 0xFF }
        try overwrite(path, with: bytes, in: fs)
    }
}

/// Replaces a file's content through a file system (not atomically: test damage).
func overwrite(_ path: String, with bytes: [UInt8], in fs: any SecureStoreFileSystem) throws {
    try fs.remove(path)
    let handle = try fs.createFile(path, mode: 0o600)
    try fs.write(handle, bytes)
    try fs.sync(handle)
    try fs.close(handle)
}

/// A test certificate authority that certifies public keys held by the store.
struct TestCA {
    let key = P256.Signing.PrivateKey()
    let name = TestCA.distinguishedName("SecureStore test CA")

    static func distinguishedName(_ commonName: String) -> DistinguishedName {
        DistinguishedName([RelativeDistinguishedName(RelativeDistinguishedName.Attribute(
            type: .RDNAttributeType.commonName, utf8String: commonName))])
    }

    /// A leaf certificate (DER) for `publicKey` with subject `CN=<commonName>`.
    func certify(_ publicKey: P256.Signing.PublicKey, commonName: String = "leaf") throws -> [UInt8] {
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(publicKey),
            notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(3600),
            issuer: name,
            subject: TestCA.distinguishedName(commonName),
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: Certificate.Extensions {},
            issuerPrivateKey: Certificate.PrivateKey(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}

/// A P-256 public key in the store's terms, for comparisons.
func x963(_ key: P256.Signing.PublicKey?) -> [UInt8]? { key.map { Array($0.x963Representation) } }
