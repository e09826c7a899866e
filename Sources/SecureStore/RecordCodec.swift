import Crypto
import SpaakCore

/// The two keys derived from the device key: one encrypts secrets, one authenticates files.
struct StoreKeys: Sendable {
    let encryption: SymmetricKey
    let authentication: SymmetricKey

    init(deviceKey: SymmetricKey) {
        let salt = Array("spaak-sim secure store v1".utf8)
        encryption = HKDF<SHA256>.deriveKey(inputKeyMaterial: deviceKey, salt: salt,
                                            info: Array("AES-256-GCM entries".utf8), outputByteCount: 32)
        authentication = HKDF<SHA256>.deriveKey(inputKeyMaterial: deviceKey, salt: salt,
                                                info: Array("HMAC-SHA256 files".utf8), outputByteCount: 32)
    }

    /// HMAC-SHA256 of `bytes`.
    func tag(_ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: authentication))
    }

    /// Whether `tag` is the HMAC-SHA256 of `bytes` (constant-time comparison).
    func isValid(tag: [UInt8], for bytes: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: bytes, using: authentication)
    }
}

/// The file format of one entry:
///
///     "SPKS" | version 1 | kind | name length | name (UTF-8) | body length (4, big endian)
///     | body | HMAC-SHA256 over everything before it
///
/// kind 1: a record in clear (body = the bytes); kind 2: a secret record, kind 3: a private
/// key (body = AES-256-GCM nonce | ciphertext | tag, the header as associated data). The
/// entry's name inside the file makes a file copied or renamed to another entry fail.
enum RecordCodec {
    static let magic: [UInt8] = Array("SPKS".utf8)
    static let version: UInt8 = 1
    static let tagLength = 32
    /// The largest file accepted: the largest record plus header, encryption and tag.
    static let maxFileSize = SecureStorePlanner.recordSizeLimit + 512

    static func kind(of entry: SecureStoreEntry) -> UInt8 {
        switch entry {
        case .record(let record): return record.isSecret ? 2 : 1
        case .key: return 3
        }
    }

    static func name(of entry: SecureStoreEntry) -> [UInt8] {
        switch entry {
        case .record(let record): return Array(record.rawValue.utf8)
        case .key(let slot): return Array(slot.rawValue.utf8)
        }
    }

    static func header(_ entry: SecureStoreEntry, bodyLength: Int) -> [UInt8] {
        let name = name(of: entry)
        return magic + [version, kind(of: entry), UInt8(name.count)] + name + UInt32(bodyLength).bigEndianBytes
    }

    /// The file content for `payload`.
    static func encode(_ entry: SecureStoreEntry, payload: [UInt8], keys: StoreKeys) throws(SecureStoreError) -> [UInt8] {
        var body = payload
        if entry.isSecret {
            let length = payload.count + 12 + 16
            do {
                let box = try AES.GCM.seal(payload, using: keys.encryption,
                                           authenticating: header(entry, bodyLength: length))
                guard let combined = box.combined, combined.count == length else {
                    throw SecureStoreError.invalidOperation("unexpected AES-GCM output")
                }
                body = Array(combined)
            } catch {
                throw .invalidOperation("encryption of \(entry) failed")
            }
        }
        let file = header(entry, bodyLength: body.count) + body
        return file + keys.tag(file)
    }

    /// The entry's state from the file content (`nil` = no file).
    static func decode(_ entry: SecureStoreEntry, file: [UInt8]?, keys: StoreKeys) -> EntryState {
        guard let file else { return .absent }
        let minimum = magic.count + 3
        guard file.count >= minimum else { return .corrupt("truncated: \(file.count) bytes, shorter than the header") }
        guard Array(file[0..<4]) == magic else { return .corrupt("not a secure store file (bad magic)") }
        guard file[4] == version else { return .corrupt("unsupported format version \(file[4])") }
        guard file[5] == kind(of: entry) else { return .corrupt("kind \(file[5]), expected \(kind(of: entry))") }
        let nameLength = Int(file[6])
        let bodyOffset = minimum + nameLength + 4
        guard file.count >= bodyOffset else { return .corrupt("truncated: \(file.count) bytes, shorter than the header") }
        let storedName = Array(file[minimum..<(minimum + nameLength)])
        guard storedName == name(of: entry) else {
            return .corrupt("the file holds \"\(String(decoding: storedName, as: UTF8.self))\", not \"\(String(decoding: name(of: entry), as: UTF8.self))\" (swapped or renamed file)")
        }
        let bodyLength = Int(Array(file[(bodyOffset - 4)..<bodyOffset]).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let expected = bodyOffset + bodyLength + tagLength
        guard file.count == expected else {
            if file.count < expected { return .corrupt("truncated: \(file.count) of \(expected) bytes") }
            return .corrupt("\(file.count) bytes where \(expected) are expected (trailing data)")
        }
        let signed = Array(file[0..<(bodyOffset + bodyLength)])
        guard keys.isValid(tag: Array(file[(bodyOffset + bodyLength)...]), for: signed) else {
            return .corrupt("integrity tag does not match (tampered, damaged or another device key)")
        }
        var payload = Array(file[bodyOffset..<(bodyOffset + bodyLength)])
        if entry.isSecret {
            do {
                let box = try AES.GCM.SealedBox(combined: payload)
                payload = Array(try AES.GCM.open(box, using: keys.encryption, authenticating: Array(file[0..<bodyOffset])))
            } catch {
                return .corrupt("decryption failed")
            }
        }
        if case .key = entry, (try? KeyMaterial.privateKey(payload)) == nil {
            return .corrupt("the key material is not a P-256 private key")
        }
        return .present(payload)
    }
}
