import Crypto
import SecureStore

/// The value of every well-known store entry as a short text, for the crash soak: `absent`,
/// `corrupt`, `n:<value>` for a counter, `h:<SHA-256 prefix>` for other records, `k:<SHA-256
/// prefix of the public key>` for a key slot.
public enum StoreSnapshot {
    /// Every well-known record.
    public static let records: [SecureStoreRecord] = [
        .rootJ, .rootJ1, .rootJPhysicalKey, .rootZ1, .rootZZ2, .ecuIdentityCertificate, .vehicleIdentityCertificate,
        .ecuIdentityCSR, .vin, .drmUUID, .subjectID, .spake2Verifier, .v2cCounter, .c2vCounter,
        .securityAccessAttempts, .ownerPairingFailures, .plantLock,
    ]
    /// The records holding an 8-byte counter.
    public static let counters: Set<SecureStoreRecord> = [.v2cCounter, .c2vCounter, .securityAccessAttempts, .ownerPairingFailures]

    /// The entry's name in a snapshot (its file name).
    public static func name(_ record: SecureStoreRecord) -> String { "rec.\(record.rawValue)" }
    /// The key slot's name in a snapshot (its file name).
    public static func name(_ slot: SecureStoreKeySlot) -> String { "key.\(slot.rawValue)" }

    /// The text of a record value.
    public static func value(_ record: SecureStoreRecord, bytes: [UInt8]) -> String {
        if counters.contains(record), bytes.count == 8 { return "n:\(bytes.reduce(0) { $0 << 8 | UInt64($1) })" }
        return "h:" + digest(bytes)
    }

    static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    /// The text of a record as the store holds it.
    public static func value(of record: SecureStoreRecord, in store: any SecureStore) -> String {
        do {
            guard let bytes = try store.read(record) else { return "absent" }
            return value(record, bytes: bytes)
        } catch {
            return "corrupt"
        }
    }

    /// The text of a key slot as the store holds it.
    public static func value(of slot: SecureStoreKeySlot, in store: any SecureStore) -> String {
        do {
            guard let key = try store.publicKey(slot) else { return "absent" }
            return "k:" + digest(Array(key.x963Representation))
        } catch {
            return "corrupt"
        }
    }

    /// Every well-known entry, by name.
    public static func take(_ store: any SecureStore) -> [String: String] {
        var snapshot: [String: String] = [:]
        for record in records { snapshot[name(record)] = value(of: record, in: store) }
        for slot in SecureStoreKeySlot.allCases { snapshot[name(slot)] = value(of: slot, in: store) }
        return snapshot
    }

    /// What `operations` will leave in the entries they touch (`?` for a generated key),
    /// given the store before the commit.
    public static func expected(_ operations: [SecureStoreOperation], before store: any SecureStore) -> [String: String] {
        var after: [String: String] = [:]
        func current(_ slot: SecureStoreKeySlot) -> String { after[name(slot)] ?? value(of: slot, in: store) }
        for operation in operations {
            switch operation {
            case .write(let record, let bytes, _): after[name(record)] = value(record, bytes: bytes)
            case .delete(let record): after[name(record)] = "absent"
            case .generateKey(let slot): after[name(slot)] = "?"
            case .deleteKey(let slot): after[name(slot)] = "absent"
            case .promotePendingKey(let slot):
                guard let pending = slot.pendingSlot else { continue }
                after[name(slot)] = current(pending)
                after[name(pending)] = "absent"
            @unknown default: continue
            }
        }
        return after
    }

    /// `name=value` pairs sorted by name, space-separated.
    public static func line(_ values: [String: String]) -> String {
        values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
