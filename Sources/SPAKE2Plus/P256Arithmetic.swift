import CLibCrypto
import Crypto

/// Why a P-256 point or scalar is refused, or an operation has no result.
public enum P256ArithmeticError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The encoding has the wrong size (65 bytes for a point, 32 for a scalar).
    case wrongLength(Int, expected: Int)
    /// The point encoding does not start with 0x04 (compressed and hybrid forms are refused).
    case notUncompressed
    /// The coordinates are not those of a point on P-256 (or not below the field prime).
    case notOnCurve
    /// The point, or the result of an operation, is the identity (the point at infinity).
    case identity
    /// The scalar is 0 or not below n, the group order.
    case scalarOutOfRange
    /// libcrypto failed (allocation or an internal error): the function that did.
    case libcrypto(String)

    /// The fault in words.
    public var description: String {
        switch self {
        case .wrongLength(let length, let expected): return "\(length) bytes, expected \(expected)"
        case .notUncompressed: return "not an uncompressed point (first byte not 04)"
        case .notOnCurve: return "not a point on P-256"
        case .identity: return "the identity"
        case .scalarOutOfRange: return "scalar outside [1, n−1]"
        case .libcrypto(let function): return "libcrypto: \(function) failed"
        }
    }
}

/// A P-256 scalar in [1, n − 1], 32 bytes big-endian.
public struct P256Scalar: Sendable, Equatable {
    /// n, the order of P-256's base point, big-endian (SEC 2, secp256r1).
    public static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// The scalar, 32 bytes big-endian.
    public let bytes: [UInt8]

    /// Takes 32 big-endian bytes; throws `.wrongLength` or `.scalarOutOfRange` (0 or ≥ n).
    public init(bytes: [UInt8]) throws(P256ArithmeticError) {
        guard bytes.count == 32 else { throw .wrongLength(bytes.count, expected: 32) }
        guard bytes.contains(where: { $0 != 0 }), bytes.lexicographicallyPrecedes(Self.order) else {
            throw .scalarOutOfRange
        }
        self.bytes = bytes
    }

    /// `value mod n` for a big-endian integer of any length; throws `.scalarOutOfRange` when
    /// that is 0.
    public init(reducing value: [UInt8]) throws(P256ArithmeticError) {
        let reduced = try P256Group.withGroup { group throws(P256ArithmeticError) in
            try group.reduceModOrder(value)
        }
        try self.init(bytes: reduced)
    }

    /// A random scalar in [1, n − 1] from `generator`: 48 bytes reduced mod n (bias below
    /// 2^-128), drawn again in the (2^-256) case of 0. For machines that take their
    /// randomness as an input.
    public static func random(using generator: inout some RandomNumberGenerator) -> P256Scalar {
        while true {
            var bytes: [UInt8] = []
            for _ in 0..<6 {
                let word = generator.next()
                bytes += (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
            }
            if let scalar = try? P256Scalar(reducing: bytes) { return scalar }
        }
    }

    /// A uniformly random scalar in [1, n − 1] (swift-crypto's key generation).
    public static func random() -> P256Scalar {
        let raw = Array(P256.KeyAgreement.PrivateKey().rawRepresentation)
        // A P-256 private key is a scalar in [1, n − 1] by construction.
        guard let scalar = try? P256Scalar(bytes: raw) else { preconditionFailure("P-256 private key out of range") }
        return scalar
    }
}

/// A point of P-256 other than the identity, kept as its 65-byte uncompressed encoding
/// `04 ‖ x ‖ y` (SEC 1). Every value of this type has been checked by libcrypto to lie on
/// the curve; every operation returns such a point or throws (`.identity` when the result
/// is the point at infinity, which has no uncompressed encoding).
///
/// Only what SPAKE2+ needs: s·G, s·P, P + Q, P − Q. The OpenSSL objects live inside each
/// call and are freed before it returns.
public struct P256Point: Sendable, Hashable {
    /// `04 ‖ x ‖ y`, 65 bytes.
    public let uncompressed: [UInt8]

    /// Validates an uncompressed encoding: 65 bytes, first byte 04, coordinates below the
    /// field prime, on the curve (the identity has no such encoding).
    public init(uncompressed bytes: [UInt8]) throws(P256ArithmeticError) {
        guard bytes.count == 65 else { throw .wrongLength(bytes.count, expected: 65) }
        guard bytes[0] == 0x04 else { throw .notUncompressed }
        self.uncompressed = try P256Group.withGroup { group throws(P256ArithmeticError) in
            let point = try group.decode(bytes)
            defer { EC_POINT_free(point) }
            return try group.encode(point)
        }
    }

    /// Any SEC 1 encoding libcrypto accepts (compressed included), re-encoded uncompressed:
    /// for the constants M and N, which RFC 9383 gives compressed.
    init(sec1 bytes: [UInt8]) throws(P256ArithmeticError) {
        self.uncompressed = try P256Group.withGroup { group throws(P256ArithmeticError) in
            let point = try group.decode(bytes)
            defer { EC_POINT_free(point) }
            return try group.encode(point)
        }
    }

    /// An encoding known to be valid: a result of libcrypto, or a constant that a test checks.
    init(trusted bytes: [UInt8]) {
        self.uncompressed = bytes
    }

    /// s·G, G the base point.
    public static func generatorMultiple(_ scalar: P256Scalar) throws(P256ArithmeticError) -> P256Point {
        try P256Group.withGroup { group throws(P256ArithmeticError) in
            let k = try group.bignum(scalar.bytes, secret: true)
            defer { BN_clear_free(k) }
            let result = try group.newPoint()
            defer { EC_POINT_clear_free(result) }
            guard EC_POINT_mul(group.group, result, k, nil, nil, group.ctx) == 1 else { throw .libcrypto("EC_POINT_mul") }
            return P256Point(trusted: try group.encode(result))
        }
    }

    /// s·self.
    public func multiplied(by scalar: P256Scalar) throws(P256ArithmeticError) -> P256Point {
        try P256Group.withGroup { group throws(P256ArithmeticError) in
            let point = try group.decode(uncompressed)
            defer { EC_POINT_free(point) }
            let k = try group.bignum(scalar.bytes, secret: true)
            defer { BN_clear_free(k) }
            let result = try group.newPoint()
            defer { EC_POINT_clear_free(result) }
            // One point, one scalar: libcrypto's constant-time path (no g_scalar term).
            guard EC_POINT_mul(group.group, result, nil, point, k, group.ctx) == 1 else { throw .libcrypto("EC_POINT_mul") }
            return P256Point(trusted: try group.encode(result))
        }
    }

    /// self + other.
    public func adding(_ other: P256Point) throws(P256ArithmeticError) -> P256Point {
        try combine(other, negatingOther: false)
    }

    /// self − other.
    public func subtracting(_ other: P256Point) throws(P256ArithmeticError) -> P256Point {
        try combine(other, negatingOther: true)
    }

    private func combine(_ other: P256Point, negatingOther: Bool) throws(P256ArithmeticError) -> P256Point {
        try P256Group.withGroup { group throws(P256ArithmeticError) in
            let a = try group.decode(uncompressed)
            defer { EC_POINT_free(a) }
            let b = try group.decode(other.uncompressed)
            defer { EC_POINT_free(b) }
            if negatingOther {
                guard EC_POINT_invert(group.group, b, group.ctx) == 1 else { throw .libcrypto("EC_POINT_invert") }
            }
            let result = try group.newPoint()
            defer { EC_POINT_clear_free(result) }
            guard EC_POINT_add(group.group, result, a, b, group.ctx) == 1 else { throw .libcrypto("EC_POINT_add") }
            return P256Point(trusted: try group.encode(result))
        }
    }
}

/// The P-256 group, made once per process: libcrypto never changes an `EC_GROUP` after it
/// is built, and its point operations only read it, so one group serves every thread
/// (building it costs about as much as a point addition; it was once per operation).
private final class SharedP256Group: @unchecked Sendable {
    static let shared = SharedP256Group()
    let group: OpaquePointer?
    private init() { group = EC_GROUP_new_by_curve_name(spaak_nid_p256) }
}

/// The libcrypto objects of one computation: the shared P-256 group and a BN_CTX of its own
/// (a BN_CTX is not thread-safe), freed at the end of `withGroup`.
struct P256Group: ~Copyable {
    let group: OpaquePointer
    let ctx: OpaquePointer

    private init() throws(P256ArithmeticError) {
        guard let group = SharedP256Group.shared.group else { throw .libcrypto("EC_GROUP_new_by_curve_name") }
        guard let ctx = BN_CTX_new() else { throw .libcrypto("BN_CTX_new") }
        self.group = group
        self.ctx = ctx
    }

    deinit {
        BN_CTX_free(ctx)
    }

    /// Runs `body` with a fresh group and context.
    static func withGroup<T>(_ body: (borrowing P256Group) throws(P256ArithmeticError) -> T) throws(P256ArithmeticError) -> T {
        let group = try P256Group()
        return try body(group)
    }

    /// A new point (the caller frees it).
    func newPoint() throws(P256ArithmeticError) -> OpaquePointer {
        guard let point = EC_POINT_new(group) else { throw .libcrypto("EC_POINT_new") }
        return point
    }

    /// Decodes and validates a SEC 1 encoding (the caller frees the point): on the curve and
    /// not the identity.
    func decode(_ bytes: [UInt8]) throws(P256ArithmeticError) -> OpaquePointer {
        let point = try newPoint()
        let decoded = bytes.withUnsafeBufferPointer { EC_POINT_oct2point(group, point, $0.baseAddress, $0.count, ctx) }
        guard decoded == 1 else {
            EC_POINT_free(point)
            ERR_clear_error()
            throw .notOnCurve
        }
        guard EC_POINT_is_at_infinity(group, point) == 0 else {
            EC_POINT_free(point)
            throw .identity
        }
        guard EC_POINT_is_on_curve(group, point, ctx) == 1 else {
            EC_POINT_free(point)
            ERR_clear_error()
            throw .notOnCurve
        }
        return point
    }

    /// `04 ‖ x ‖ y`; `.identity` for the point at infinity.
    func encode(_ point: OpaquePointer) throws(P256ArithmeticError) -> [UInt8] {
        guard EC_POINT_is_at_infinity(group, point) == 0 else { throw .identity }
        var out = [UInt8](repeating: 0, count: 65)
        let written = out.withUnsafeMutableBufferPointer {
            EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, $0.baseAddress, $0.count, ctx)
        }
        guard written == 65 else { throw .libcrypto("EC_POINT_point2oct") }
        return out
    }

    /// A BIGNUM from big-endian bytes (the caller frees it with BN_clear_free); `secret`
    /// marks it for libcrypto's constant-time code paths.
    func bignum(_ bytes: [UInt8], secret: Bool) throws(P256ArithmeticError) -> OpaquePointer {
        let bn = bytes.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        guard let bn else { throw .libcrypto("BN_bin2bn") }
        if secret { BN_set_flags(bn, spaak_bn_flg_consttime) }
        return bn
    }

    /// `value mod n` as 32 big-endian bytes.
    func reduceModOrder(_ value: [UInt8]) throws(P256ArithmeticError) -> [UInt8] {
        let a = try bignum(value, secret: true)
        defer { BN_clear_free(a) }
        guard let r = BN_new() else { throw .libcrypto("BN_new") }
        defer { BN_clear_free(r) }
        guard let order = EC_GROUP_get0_order(group) else { throw .libcrypto("EC_GROUP_get0_order") }
        guard BN_nnmod(r, a, order, ctx) == 1 else { throw .libcrypto("BN_nnmod") }
        var out = [UInt8](repeating: 0, count: 32)
        let written = out.withUnsafeMutableBufferPointer { BN_bn2binpad(r, $0.baseAddress, 32) }
        guard written == 32 else { throw .libcrypto("BN_bn2binpad") }
        return out
    }
}
