#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a secure store operation failed. Never carries key material.
public enum SecureStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The entry is damaged, truncated or tampered with; it is not used.
    case corrupt(SecureStoreEntry, reason: String)
    /// The key slot holds no key.
    case keyAbsent(SecureStoreKeySlot)
    /// After the change, an identity certificate would not carry its key slot's public key
    /// (or its slot would be empty, or the certificate would not parse).
    case certificateDoesNotMatchKey(SecureStoreRecord, SecureStoreKeySlot)
    /// The operation makes no sense (for example promoting a pending slot).
    case invalidOperation(String)
    /// The record exceeds the store's size limit.
    case recordTooLarge(SecureStoreRecord, size: Int, limit: Int)
    /// A CSR could not be made (for example an empty common name).
    case csrFailed(String)
    /// A file-system call failed; `errno` is the C error number (0 if not applicable).
    case io(operation: String, path: String, errno: Int32)
    /// The device key is missing, damaged or unusable.
    case deviceKey(String)
    /// An earlier failure left the store unusable (a simulated crash in tests, or a
    /// failed recovery): it must be opened again.
    case unusable(String)

    /// A sentence for the logs.
    public var description: String {
        switch self {
        case .corrupt(let entry, let reason):
            return "secure store: \(entry) is corrupt (\(reason)); it is not used"
        case .keyAbsent(let slot):
            return "secure store: key slot \(slot) holds no key"
        case .certificateDoesNotMatchKey(let record, let slot):
            return "secure store: certificate \(record) would not carry the public key of key slot \(slot)"
        case .invalidOperation(let what):
            return "secure store: invalid operation: \(what)"
        case .recordTooLarge(let record, let size, let limit):
            return "secure store: record \(record) of \(size) bytes exceeds the limit of \(limit) bytes"
        case .csrFailed(let why):
            return "secure store: cannot make the CSR: \(why)"
        case .io(let operation, let path, let code):
            if code == 0 { return "secure store: \(operation) \(path) failed" }
            return "secure store: \(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .deviceKey(let why):
            return "secure store: device key: \(why)"
        case .unusable(let why):
            return "secure store: unusable until reopened: \(why)"
        }
    }
}
