import Crypto
import Foundation
import X509

/// The JSON manifest written next to the hierarchy (`manifest.json`).
public struct TestPKIManifest: Codable, Sendable, Equatable {
    /// One certificate of the hierarchy.
    public struct Entry: Codable, Sendable, Equatable {
        /// The role: `J`, `J1`, `J_PhysicalKey`, `Z1`, `ZZ2`, `VOS`.
        public var role: String
        /// Subject name (RFC 4514 text).
        public var subject: String
        /// Issuer name (RFC 4514 text).
        public var issuer: String
        /// Serial number, lower-case hexadecimal.
        public var serialNumber: String
        /// Start of validity.
        public var notBefore: Date
        /// End of validity.
        public var notAfter: Date
        /// `true` for a CA.
        public var isCA: Bool
        /// File names (relative to the directory) of the DER, PEM and private key PEM.
        public var der: String, pem: String, key: String
        /// SHA-256 of the DER, lower-case hexadecimal.
        public var sha256: String
    }

    /// Format tag, `spaak-pki/1`.
    public var format: String
    /// When `init` ran.
    public var createdAt: Date
    /// The `--validity-days` of `init`.
    public var validityDays: Int
    /// The certificates, issuers first.
    public var certificates: [Entry]
}

extension TestPKIHierarchy {
    /// The manifest file name.
    public static let manifestFile = "manifest.json"

    /// Writes `<role>.der`, `<role>.pem`, `<role>.key.pem` (mode 0600) for every role and
    /// `manifest.json` into `directory`; refuses a directory that already holds a hierarchy
    /// unless `force`.
    public func write(to directory: URL, createdAt: Date, validityDays: Int, force: Bool = false) throws {
        let manifestURL = directory.appendingPathComponent(Self.manifestFile)
        if !force && FileManager.default.fileExists(atPath: manifestURL.path) {
            throw TestPKIError.alreadyInitialised(directory.path)
        }
        try TestPKIFiles.makeDirectory(directory)
        var entries: [TestPKIManifest.Entry] = []
        for role in TestPKIRole.allCases {
            let identity = self[role]
            let stem = role.fileStem
            try TestPKIFiles.write(identity.der, to: directory.appendingPathComponent("\(stem).der"))
            try TestPKIFiles.write(try identity.certificate.pemString() + "\n", to: directory.appendingPathComponent("\(stem).pem"))
            try TestPKIFiles.write(identity.key.pemRepresentation + "\n", to: directory.appendingPathComponent("\(stem).key.pem"), mode: 0o600)
            entries.append(Self.manifestEntry(identity))
        }
        let manifest = TestPKIManifest(format: "spaak-pki/1", createdAt: createdAt, validityDays: validityDays, certificates: entries)
        try TestPKIFiles.write(try Self.encodeManifest(manifest), to: manifestURL)
    }

    /// Loads the hierarchy from `directory` (`<role>.der` and `<role>.key.pem`), checking
    /// that every certificate carries its key.
    public static func load(from directory: URL) throws -> TestPKIHierarchy {
        var identities: [TestPKIRole: TestPKIIdentity] = [:]
        for role in TestPKIRole.allCases {
            let stem = role.fileStem
            let der = try TestPKIFiles.read(directory.appendingPathComponent("\(stem).der"))
            let keyURL = directory.appendingPathComponent("\(stem).key.pem")
            let keyText = String(decoding: try TestPKIFiles.read(keyURL), as: UTF8.self)
            guard let certificate = try? Certificate(derEncoded: der) else { throw TestPKIError.missingFile("\(stem).der (not a certificate)") }
            guard let key = try? P256.Signing.PrivateKey(pemRepresentation: keyText) else {
                throw TestPKIError.missingFile("\(keyURL.path) (not a P-256 private key)")
            }
            identities[role] = try TestPKIIdentity(role: role, key: key, certificate: certificate)
        }
        return try TestPKIHierarchy(identities: identities)
    }

    /// Reads `manifest.json` from `directory`.
    public static func loadManifest(from directory: URL) throws -> TestPKIManifest {
        let bytes = try TestPKIFiles.read(directory.appendingPathComponent(manifestFile))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(TestPKIManifest.self, from: Data(bytes))
        } catch {
            throw TestPKIError.missingFile("\(manifestFile) (\(error))")
        }
    }

    static func manifestEntry(_ identity: TestPKIIdentity) -> TestPKIManifest.Entry {
        let stem = identity.role.fileStem
        let certificate = identity.certificate
        return TestPKIManifest.Entry(
            role: stem,
            subject: "\(certificate.subject)",
            issuer: "\(certificate.issuer)",
            serialNumber: hex(certificate.serialNumber.bytes),
            notBefore: certificate.notValidBefore,
            notAfter: certificate.notValidAfter,
            isCA: identity.role.isCA,
            der: "\(stem).der",
            pem: "\(stem).pem",
            key: "\(stem).key.pem",
            sha256: hex(SHA256.hash(data: identity.der))
        )
    }

    static func encodeManifest(_ manifest: TestPKIManifest) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(manifest)) + [0x0A]
    }

    /// Lower-case hexadecimal of `bytes`.
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
