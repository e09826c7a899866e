import Crypto
import SwiftASN1
import X509

/// An entry as a store implementation holds it: absent, its payload (a record's bytes or
/// a private key's raw scalar), or damaged.
enum EntryState: Sendable {
    case absent
    case present([UInt8])
    case corrupt(String)

    /// The public status, without the payload.
    var status: SecureStoreEntryStatus {
        switch self {
        case .absent: return .absent
        case .present: return .present
        case .corrupt(let reason): return .corrupt(reason: reason)
        }
    }
}

/// The net effect of a commit: the new payload of each changed entry (`nil` = delete),
/// sorted by entry, and the corrupt entries it replaces (to be logged).
struct SecureStorePlan: Sendable {
    var changes: [(entry: SecureStoreEntry, payload: [UInt8]?)]
    var replacedCorrupt: [SecureStoreEntry]
}

/// The rules every store implementation applies to a commit, whatever its medium.
enum SecureStorePlanner {
    /// The largest record the store accepts.
    static let recordSizeLimit = 16 * 1024

    /// Validates `operations` against the current state and returns their net effect.
    ///
    /// - Parameters:
    ///   - current: the state of an entry before the commit.
    ///   - newKey: a fresh private key's raw scalar (32 bytes).
    static func plan(_ operations: [SecureStoreOperation],
                     current: (SecureStoreEntry) -> EntryState,
                     newKey: () -> [UInt8]) throws(SecureStoreError) -> SecureStorePlan {
        var overlay: [SecureStoreEntry: [UInt8]?] = [:]
        var replaced: [SecureStoreEntry] = []
        func state(_ entry: SecureStoreEntry) -> EntryState {
            if let changed = overlay[entry] { return changed.map { .present($0) } ?? .absent }
            return current(entry)
        }
        func set(_ entry: SecureStoreEntry, _ payload: [UInt8]?) {
            if case .corrupt = state(entry), !replaced.contains(entry) { replaced.append(entry) }
            overlay[entry] = .some(payload)
        }
        for operation in operations {
            switch operation {
            case .write(let record, let bytes, let replacingCorrupt):
                guard bytes.count <= recordSizeLimit else {
                    throw .recordTooLarge(record, size: bytes.count, limit: recordSizeLimit)
                }
                if case .corrupt(let reason) = state(.record(record)), !replacingCorrupt {
                    throw .corrupt(.record(record), reason: reason + "; write with replacingCorrupt to replace it")
                }
                set(.record(record), bytes)
            case .delete(let record):
                set(.record(record), nil)
            case .generateKey(let slot):
                set(.key(slot), newKey())
            case .deleteKey(let slot):
                set(.key(slot), nil)
            case .promotePendingKey(let slot):
                guard let pending = slot.pendingSlot else {
                    throw .invalidOperation("\(slot) is a pending slot; promote its active slot")
                }
                switch state(.key(pending)) {
                case .absent: throw .keyAbsent(pending)
                case .corrupt(let reason): throw .corrupt(.key(pending), reason: reason)
                case .present(let raw):
                    set(.key(slot), raw)
                    set(.key(pending), nil)
                }
            }
        }
        try checkBindings(touched: Set(overlay.keys), state: state)
        let changes = overlay.sorted { $0.key < $1.key }.map { (entry: $0.key, payload: $0.value) }
        return SecureStorePlan(changes: changes, replacedCorrupt: replaced)
    }

    /// Refuses a commit after which an identity certificate it touches (directly or through
    /// its key slot) is present but does not carry the key slot's public key.
    static func checkBindings(touched: Set<SecureStoreEntry>,
                              state: (SecureStoreEntry) -> EntryState) throws(SecureStoreError) {
        for record in SecureStoreRecord.identityCertificates {
            guard let slot = record.boundKeySlot,
                  touched.contains(.record(record)) || touched.contains(.key(slot)) else { continue }
            guard case .present(let der) = state(.record(record)) else { continue }
            guard case .present(let raw) = state(.key(slot)),
                  let key = try? KeyMaterial.privateKey(raw),
                  let certificatePublicKey = KeyMaterial.certificatePublicKey(der),
                  certificatePublicKey.x963Representation == key.publicKey.x963Representation
            else { throw .certificateDoesNotMatchKey(record, slot) }
        }
    }
}

/// Operations on private keys, shared by the store implementations; nothing here returns
/// or describes the private scalar.
enum KeyMaterial {
    /// A new P-256 private key's raw scalar.
    static func generate() -> [UInt8] { Array(P256.Signing.PrivateKey().rawRepresentation) }

    /// The private key from its raw scalar; `.invalidOperation` (no bytes) if not a valid scalar.
    static func privateKey(_ raw: [UInt8]) throws(SecureStoreError) -> P256.Signing.PrivateKey {
        do { return try P256.Signing.PrivateKey(rawRepresentation: raw) } catch {
            throw .invalidOperation("stored key material is not a P-256 private key")
        }
    }

    /// The P-256 public key a DER certificate carries, `nil` if it does not parse or is not P-256.
    static func certificatePublicKey(_ der: [UInt8]) -> P256.Signing.PublicKey? {
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        return P256.Signing.PublicKey(certificate.publicKey)
    }

    /// ECDSA-with-SHA256 over `message`, DER.
    static func sign(_ raw: [UInt8], message: [UInt8]) throws(SecureStoreError) -> [UInt8] {
        let key = try privateKey(raw)
        do { return Array(try key.signature(for: message).derRepresentation) } catch {
            throw .invalidOperation("signing failed")
        }
    }

    /// PKCS#10 CSR, DER: version 1, subject `CN=<commonName>`, no attributes, ecdsa-with-SHA256.
    static func csr(_ raw: [UInt8], commonName: String) throws(SecureStoreError) -> [UInt8] {
        guard !commonName.isEmpty, commonName.utf8.count <= 64 else {
            throw .csrFailed("the common name must hold 1 to 64 bytes, not \(commonName.utf8.count)")
        }
        let key = try privateKey(raw)
        do {
            let subject = DistinguishedName([
                RelativeDistinguishedName(RelativeDistinguishedName.Attribute(
                    type: .RDNAttributeType.commonName, utf8String: commonName))
            ])
            let request = try CertificateSigningRequest(
                version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key),
                attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
            var serializer = DER.Serializer()
            try serializer.serialize(request)
            return serializer.serializedBytes
        } catch {
            throw .csrFailed("\(error)")
        }
    }
}
