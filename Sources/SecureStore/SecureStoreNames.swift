/// The name of a record of the secure store: a certificate (DER) or a small datum.
///
/// The well-known names are static members; the module may add its own with
/// `init?(rawValue:)` (1 to 64 of `A-Z a-z 0-9 _ -`). A name decides how the record is kept
/// at rest: `isSecret` records (the verifier, any name starting with `secret-`) are
/// encrypted, the others are kept in clear and authenticated.
public struct SecureStoreRecord: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The record's name, as it appears in file names and logs.
    public let rawValue: String

    /// Creates a record name; `nil` unless 1 to 64 of `A-Z a-z 0-9 _ -`.
    public init?(rawValue: String) {
        guard SecureStoreRecord.isValidName(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// A name known to be valid (the static members).
    init(known: String) { rawValue = known }

    /// Whether `name` is an acceptable record or key slot name.
    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    /// [J] OEM CA root certificate (DID 0xD110).
    public static let rootJ = SecureStoreRecord(known: "cert-J")
    /// [J1] OEM sub-CA certificate (DID 0xD111).
    public static let rootJ1 = SecureStoreRecord(known: "cert-J1")
    /// [J_PhysicalKey] OEM CA root physical key certificate (DID 0xD112).
    public static let rootJPhysicalKey = SecureStoreRecord(known: "cert-J_PhysicalKey")
    /// [Z1] vehicle OEM server intermediate CA certificate (DID 0xD113).
    public static let rootZ1 = SecureStoreRecord(known: "cert-Z1")
    /// [ZZ2] KTS server signing certificate (DID 0xD114).
    public static let rootZZ2 = SecureStoreRecord(known: "cert-ZZ2")
    /// The ECU identity certificate (DID 0xD101); bound to the `.ecuIdentity` key slot.
    public static let ecuIdentityCertificate = SecureStoreRecord(known: "cert-ecu-identity")
    /// [K] the vehicle identity certificate (DID 0xD121); bound to the `.vehicleIdentity` key slot.
    public static let vehicleIdentityCertificate = SecureStoreRecord(known: "cert-K")
    /// The ECU identity CSR, DER (DID 0xD100).
    public static let ecuIdentityCSR = SecureStoreRecord(known: "csr-ecu-identity")
    /// The VIN, 17 ASCII characters (DID 0xF190).
    public static let vin = SecureStoreRecord(known: "vin")
    /// The drmUUID, 16 bytes (DID 0xD122).
    public static let drmUUID = SecureStoreRecord(known: "drm-uuid")
    /// The vehicle identity subject id received in PP-01.
    public static let subjectID = SecureStoreRecord(known: "subject-id")
    /// The SPAKE2+ verifier record (w0, L, salt, scrypt parameters): secret.
    public static let spake2Verifier = SecureStoreRecord(known: "spake2-verifier")
    /// The V2C message counter (ICD 7.3).
    public static let v2cCounter = SecureStoreRecord(known: "counter-v2c")
    /// The last accepted C2V counter (ICD 7.4).
    public static let c2vCounter = SecureStoreRecord(known: "counter-c2v")
    /// The security-access failed-attempt counter and delay state (ICD 5.3).
    public static let securityAccessAttempts = SecureStoreRecord(known: "security-access-attempts")
    /// The failed owner pairing attempt counter (routine 0xF011).
    public static let ownerPairingFailures = SecureStoreRecord(known: "owner-pairing-failures")
    /// The plant provisioning lock (routine 0xD201).
    public static let plantLock = SecureStoreRecord(known: "plant-lock")
    /// The owner's endpoint public key with its state and friendly name (ICD 8.3, DID 0xD125):
    /// public data, authenticated in clear.
    public static let ownerKey = SecureStoreRecord(known: "owner-key")

    /// Well-known records that are encrypted at rest (the others are authenticated in clear).
    public static let secretRecords: Set<SecureStoreRecord> = [.spake2Verifier]

    /// Whether the record is encrypted at rest: a member of `secretRecords`, or a name
    /// starting with `secret-`.
    public var isSecret: Bool { SecureStoreRecord.secretRecords.contains(self) || rawValue.hasPrefix("secret-") }

    /// The key slot whose public key this certificate record must carry, if any.
    ///
    /// The store refuses any change after which a present `ecuIdentityCertificate` or
    /// `vehicleIdentityCertificate` does not carry its slot's public key.
    public var boundKeySlot: SecureStoreKeySlot? {
        switch self {
        case .ecuIdentityCertificate: return .ecuIdentity
        case .vehicleIdentityCertificate: return .vehicleIdentity
        default: return nil
        }
    }

    /// Every well-known record (the static members).
    public static let wellKnown: [SecureStoreRecord] = [
        .rootJ, .rootJ1, .rootJPhysicalKey, .rootZ1, .rootZZ2, .ecuIdentityCertificate, .vehicleIdentityCertificate,
        .ecuIdentityCSR, .vin, .drmUUID, .subjectID, .spake2Verifier, .v2cCounter, .c2vCounter,
        .securityAccessAttempts, .ownerPairingFailures, .plantLock, .ownerKey,
    ]

    /// Every record with a bound key slot.
    public static let identityCertificates: [SecureStoreRecord] = [.ecuIdentityCertificate, .vehicleIdentityCertificate]

    /// Orders by name (for stable logs).
    public static func < (a: SecureStoreRecord, b: SecureStoreRecord) -> Bool { a.rawValue < b.rawValue }

    /// The name.
    public var description: String { rawValue }
}

/// A key slot: a P-256 private key generated inside the store that never leaves it.
///
/// Each identity has an active slot and a *pending* slot. A new identity is generated into
/// the pending slot (its CSR made from there) while the active one keeps working, and is
/// moved into the active slot by `SecureStoreOperation.promotePendingKey`, in the same
/// atomic commit that installs the matching certificate.
public enum SecureStoreKeySlot: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// The ECU identity key pair (RP-02).
    case ecuIdentity = "ecu-identity"
    /// A new ECU identity key pair, not yet in use.
    case ecuIdentityPending = "ecu-identity-pending"
    /// The vehicle identity key pair (PP-01).
    case vehicleIdentity = "vehicle-identity"
    /// A new vehicle identity key pair, not yet in use.
    case vehicleIdentityPending = "vehicle-identity-pending"

    /// The pending slot of an active slot (`nil` for a pending slot).
    public var pendingSlot: SecureStoreKeySlot? {
        switch self {
        case .ecuIdentity: return .ecuIdentityPending
        case .vehicleIdentity: return .vehicleIdentityPending
        case .ecuIdentityPending, .vehicleIdentityPending: return nil
        }
    }

    /// Whether this is a pending slot.
    public var isPending: Bool { pendingSlot == nil }

    /// The certificate record bound to this (active) slot, if any.
    public var boundCertificate: SecureStoreRecord? {
        SecureStoreRecord.identityCertificates.first { $0.boundKeySlot == self }
    }

    /// Orders by name (for stable logs).
    public static func < (a: SecureStoreKeySlot, b: SecureStoreKeySlot) -> Bool { a.rawValue < b.rawValue }

    /// The slot's name.
    public var description: String { rawValue }
}

/// Anything the store holds: a record or a key slot.
public enum SecureStoreEntry: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A record.
    case record(SecureStoreRecord)
    /// A key slot.
    case key(SecureStoreKeySlot)

    /// The file name of the entry in a `FileSecureStore` folder.
    var fileName: String {
        switch self {
        case .record(let record): return "rec.\(record.rawValue)"
        case .key(let slot): return "key.\(slot.rawValue)"
        }
    }

    /// The entry a file name denotes, `nil` for any other file.
    init?(fileName: String) {
        if fileName.hasPrefix("rec."), let record = SecureStoreRecord(rawValue: String(fileName.dropFirst(4))) {
            self = .record(record)
        } else if fileName.hasPrefix("key."), let slot = SecureStoreKeySlot(rawValue: String(fileName.dropFirst(4))) {
            self = .key(slot)
        } else {
            return nil
        }
    }

    /// Every well-known record and every key slot (what an untrusted store reports as corrupt).
    public static var wellKnown: [SecureStoreEntry] {
        SecureStoreRecord.wellKnown.map { .record($0) } + SecureStoreKeySlot.allCases.map { .key($0) }
    }

    /// Whether the entry is encrypted at rest (keys and secret records).
    var isSecret: Bool {
        switch self {
        case .record(let record): return record.isSecret
        case .key: return true
        }
    }

    /// Orders by name (for stable logs).
    public static func < (a: SecureStoreEntry, b: SecureStoreEntry) -> Bool { a.fileName < b.fileName }

    /// `record <name>` or `key <slot>`.
    public var description: String {
        switch self {
        case .record(let record): return "record \(record.rawValue)"
        case .key(let slot): return "key \(slot.rawValue)"
        }
    }
}

/// What the store knows about an entry: absent, present, or present but damaged.
public enum SecureStoreEntryStatus: Hashable, Sendable, CustomStringConvertible {
    /// Never written, or deleted (KeyM: NOT_AVAILABLE).
    case absent
    /// Present and intact.
    case present
    /// Present but damaged, truncated or tampered with (KeyM: invalid format): never used.
    case corrupt(reason: String)

    /// `absent`, `present` or `corrupt: <reason>`.
    public var description: String {
        switch self {
        case .absent: return "absent"
        case .present: return "present"
        case .corrupt(let reason): return "corrupt: \(reason)"
        }
    }
}
