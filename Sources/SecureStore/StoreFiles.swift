import Crypto

/// Where `FileSecureStore` gets its per-module device key, which encrypts the secrets and
/// authenticates every file.
///
/// A real ECU keeps this key in hardware (HSM, fuses) where software cannot read it. The
/// simulator either generates it into `device.key` inside the store folder (readable by
/// the owner only: this protects against other users and detects damage and tampering, but
/// not against someone who can read the folder), or derives it from a secret the caller
/// holds elsewhere (a configuration or an environment variable).
public struct SecureStoreDeviceKey: Sendable, CustomStringConvertible {
    enum Source: Sendable {
        case generatedFile
        case secret([UInt8])
    }

    let source: Source

    /// A random 32-byte key generated at the first start into `device.key` (mode 0600) in
    /// the store folder. A missing `device.key` next to existing entries, or a damaged
    /// one, is an error: it is never replaced, since a new key would make every entry unreadable.
    public static let generatedFile = SecureStoreDeviceKey(source: .generatedFile)

    /// A key derived (HKDF-SHA256) from `secret`, which must hold at least 16 bytes. Nothing
    /// is written; opening with another secret makes every entry read as corrupt.
    public static func derived(fromSecret secret: [UInt8]) -> SecureStoreDeviceKey {
        SecureStoreDeviceKey(source: .secret(secret))
    }

    /// Says where the key comes from, never the key.
    public var description: String {
        switch source {
        case .generatedFile: return "device key generated into device.key"
        case .secret: return "device key derived from a secret"
        }
    }

    /// The key from a secret.
    static func derive(_ secret: [UInt8]) throws(SecureStoreError) -> SymmetricKey {
        guard secret.count >= 16 else { throw .deviceKey("the secret holds \(secret.count) bytes, at least 16 are needed") }
        return HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret),
                                      salt: Array("spaak-sim device key".utf8),
                                      info: Array("secure store".utf8), outputByteCount: 32)
    }
}

/// `device.key`: "SPKD" | version 1 | 32 key bytes | SHA-256 of the preceding bytes.
enum DeviceKeyFile {
    static let name = "device.key"
    static let magic: [UInt8] = Array("SPKD".utf8)

    static func encode(_ key: [UInt8]) -> [UInt8] {
        let body = magic + [1] + key
        return body + Array(SHA256.hash(data: body))
    }

    /// The key, or why the file cannot be used.
    static func decode(_ file: [UInt8]) -> Result<[UInt8], SecureStoreError> {
        guard file.count == 4 + 1 + 32 + 32 else {
            return .failure(.deviceKey("\(name) holds \(file.count) bytes, not 69 (damaged)"))
        }
        let body = Array(file[0..<37])
        guard Array(file[0..<4]) == magic, file[4] == 1, Array(SHA256.hash(data: body)) == Array(file[37...]) else {
            return .failure(.deviceKey("\(name) is damaged (bad magic, version or checksum)"))
        }
        return .success(Array(file[5..<37]))
    }
}

/// `journal`: the list of renames and removals of a multi-entry commit. Its atomic rename
/// into place is the commit point; a restart that finds it completes the commit.
///
///     "SPKJ" | version 1 | count (2, big endian) | count × (op: 1 install, 2 remove,
///     3 install the manifest | name length | file name) | HMAC-SHA256 over everything before it
///
/// "install name" renames `name.tmp` over `name`; "remove name" removes `name`; "install
/// the manifest" (name `manifest`) renames `manifest.tmp` over `manifest`. Every commit
/// carries its new manifest.
enum JournalFile {
    static let name = "journal"
    static let magic: [UInt8] = Array("SPKJ".utf8)

    enum Step: Hashable, Sendable {
        case install(SecureStoreEntry)
        case remove(SecureStoreEntry)
        case installManifest
    }

    static func encode(_ steps: [Step], keys: StoreKeys) -> [UInt8] {
        var body = magic + [1, UInt8(steps.count >> 8 & 0xFF), UInt8(steps.count & 0xFF)]
        for step in steps {
            let (op, name): (UInt8, String)
            switch step {
            case .install(let e): (op, name) = (1, e.fileName)
            case .remove(let e): (op, name) = (2, e.fileName)
            case .installManifest: (op, name) = (3, StoreManifest.name)
            }
            let fileName = Array(name.utf8)
            body += [op, UInt8(fileName.count)] + fileName
        }
        return body + keys.tag(body)
    }

    /// The steps, or why the journal cannot be trusted.
    static func decode(_ file: [UInt8], keys: StoreKeys) -> Result<[Step], SecureStoreError> {
        func damaged(_ why: String) -> Result<[Step], SecureStoreError> { .failure(.unusable("the journal is damaged: \(why)")) }
        guard file.count >= 7 + RecordCodec.tagLength else { return damaged("\(file.count) bytes") }
        let body = Array(file[0..<(file.count - RecordCodec.tagLength)])
        guard keys.isValid(tag: Array(file[(file.count - RecordCodec.tagLength)...]), for: body) else {
            return damaged("integrity tag does not match")
        }
        guard Array(body[0..<4]) == magic, body[4] == 1 else { return damaged("bad magic or version") }
        let count = Int(body[5]) << 8 | Int(body[6])
        var steps: [Step] = []
        var offset = 7
        for _ in 0..<count {
            guard offset + 2 <= body.count else { return damaged("truncated") }
            let op = body[offset]
            let length = Int(body[offset + 1])
            guard offset + 2 + length <= body.count else { return damaged("truncated") }
            let fileName = String(decoding: body[(offset + 2)..<(offset + 2 + length)], as: UTF8.self)
            switch (op, SecureStoreEntry(fileName: fileName)) {
            case (1, let entry?): steps.append(.install(entry))
            case (2, let entry?): steps.append(.remove(entry))
            case (3, nil) where fileName == StoreManifest.name: steps.append(.installManifest)
            case (1...3, _): return damaged("bad file name")
            default: return damaged("unknown step \(op)")
            }
            offset += 2 + length
        }
        guard offset == body.count else { return damaged("trailing bytes") }
        return .success(steps)
    }
}
