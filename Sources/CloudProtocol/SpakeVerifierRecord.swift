import Crypto
import SpaakCore

/// Why a SPAKE2+ verifier record is refused (ICD 7.1 tag 0x15, ICD 7.6 PP-02).
public enum SpakeVerifierRecordError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The record or one of its fields has the wrong size.
    case wrongLength(field: String, length: Int, expected: Int)
    /// w0 is 0 or ≥ n, the P-256 order.
    case w0OutOfRange
    /// L is not an uncompressed point (first byte 0x04).
    case lNotUncompressed
    /// L is not a point on P-256.
    case lNotOnCurve
    /// The scrypt cost N is not a power of two ≥ 2.
    case nNotPowerOfTwo(UInt32)
    /// The scrypt block size r is 0.
    case rZero
    /// The scrypt parallelism p is 0.
    case pZero

    /// The fault in words.
    public var description: String {
        switch self {
        case .wrongLength(let field, let length, let expected): return "\(field) has \(length) bytes, expected \(expected)"
        case .w0OutOfRange: return "w0 outside [1, n−1]"
        case .lNotUncompressed: return "L is not an uncompressed point"
        case .lNotOnCurve: return "L is not a point on P-256"
        case .nNotPowerOfTwo(let n): return "scrypt N = \(n) is not a power of two ≥ 2"
        case .rZero: return "scrypt r = 0"
        case .pZero: return "scrypt p = 0"
        }
    }
}

/// A SPAKE2+ verifier record: salt (16) ‖ N (4) ‖ r (2) ‖ p (2) ‖ w0 (32) ‖ L (65), all
/// integers big-endian. The sizes are an invariant of the type; the cryptographic checks are
/// `validate()`, so a well-formed 0x0A whose record fails them is answered with status 1
/// (ICD 7.6 PP-02) rather than discarded as malformed.
public struct SpakeVerifierRecord: Sendable, Hashable {
    /// Encoded size, 121 bytes.
    public static let byteCount = 121
    /// The scrypt salt, 16 bytes.
    public let salt: [UInt8]
    /// The scrypt cost N.
    public let n: UInt32
    /// The scrypt block size r.
    public let r: UInt16
    /// The scrypt parallelism p.
    public let p: UInt16
    /// The scalar w0, 32 bytes big-endian.
    public let w0: [UInt8]
    /// The point L = w1·G, 65 bytes uncompressed (X9.63).
    public let l: [UInt8]

    /// Creates a record; throws `.wrongLength` when a field has the wrong size.
    public init(salt: [UInt8], n: UInt32, r: UInt16, p: UInt16, w0: [UInt8], l: [UInt8]) throws(SpakeVerifierRecordError) {
        guard salt.count == 16 else { throw .wrongLength(field: "salt", length: salt.count, expected: 16) }
        guard w0.count == 32 else { throw .wrongLength(field: "w0", length: w0.count, expected: 32) }
        guard l.count == 65 else { throw .wrongLength(field: "L", length: l.count, expected: 65) }
        self.salt = salt
        self.n = n
        self.r = r
        self.p = p
        self.w0 = w0
        self.l = l
    }

    /// Splits the 121 bytes of tag 0x15; throws `.wrongLength` for any other size.
    public init(bytes: [UInt8]) throws(SpakeVerifierRecordError) {
        guard bytes.count == Self.byteCount else {
            throw .wrongLength(field: "verifier record", length: bytes.count, expected: Self.byteCount)
        }
        try self.init(
            salt: Array(bytes[0..<16]),
            n: UInt32(bytes.bigEndianInteger(at: 16, count: 4)),
            r: UInt16(bytes.bigEndianInteger(at: 20, count: 2)),
            p: UInt16(bytes.bigEndianInteger(at: 22, count: 2)),
            w0: Array(bytes[24..<56]),
            l: Array(bytes[56..<121])
        )
    }

    /// The 121 bytes of tag 0x15.
    public var bytes: [UInt8] { metadata + w0 + l }

    /// The public metadata for DID 0xD123: salt (16) ‖ N (4) ‖ r (2) ‖ p (2), 24 bytes.
    /// Never w0 or L.
    public var metadata: [UInt8] { salt + n.bigEndianBytes + r.bigEndianBytes + p.bigEndianBytes }

    /// ICD 7.6 PP-02 checks, in this order: N a power of two ≥ 2, r ≥ 1, p ≥ 1,
    /// w0 in [1, n−1], L an uncompressed point on P-256.
    public func validate() throws(SpakeVerifierRecordError) {
        guard n >= 2, n & (n - 1) == 0 else { throw .nNotPowerOfTwo(n) }
        guard r >= 1 else { throw .rZero }
        guard p >= 1 else { throw .pZero }
        guard P256Order.isValidScalar(w0) else { throw .w0OutOfRange }
        guard l.first == 0x04 else { throw .lNotUncompressed }
        guard (try? P256.Signing.PublicKey(x963Representation: l)) != nil else { throw .lNotOnCurve }
    }

    /// The status the module reports in 0x0B: `.ok`, or `.malformed` (1) when `validate()` fails.
    public var validationStatus: CloudStatus {
        do {
            try validate()
            return .ok
        } catch {
            return .malformed
        }
    }
}
