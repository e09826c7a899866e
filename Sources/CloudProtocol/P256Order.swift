/// Arithmetic on big-endian unsigned integers modulo the P-256 group order n, just what the
/// SPAKE2+ verifier checks and the CCC derivation (ICD 7.6) need.
enum P256Order {
    /// n, big-endian (SEC 2, secp256r1).
    static let n: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// n − 1, big-endian.
    static let nMinusOne: [UInt8] = {
        var v = n
        v[v.count - 1] -= 1  // n is odd, no borrow
        return v
    }()

    /// Whether `scalar` (32 bytes, big-endian) lies in [1, n − 1].
    static func isValidScalar(_ scalar: [UInt8]) -> Bool {
        guard scalar.count == 32 else { return false }
        guard scalar.contains(where: { $0 != 0 }) else { return false }
        return compare(limbs(scalar), limbs(n)) < 0
    }

    /// `value mod (n − 1) + 1` as 32 big-endian bytes: the CCC mapping of 40 scrypt bytes
    /// onto a scalar in [1, n − 1].
    static func reduceToScalar(_ value: [UInt8]) -> [UInt8] {
        var reduced = mod(value, limbs(nMinusOne))
        add(&reduced, 1)  // < n − 1 + 1 = n: no overflow beyond 256 bits
        return bytes(reduced)
    }

    // MARK: - Limbs: 5 × UInt64, least significant first (room for 2·m < 2^257).

    private static let limbCount = 5

    /// Big-endian bytes (at most 32) to limbs.
    private static func limbs(_ bigEndian: [UInt8]) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: limbCount)
        for (i, byte) in bigEndian.reversed().enumerated() where i < 8 * limbCount {
            out[i / 8] |= UInt64(byte) << (8 * (i % 8))
        }
        return out
    }

    /// The low 256 bits of limbs as 32 big-endian bytes.
    private static func bytes(_ limbs: [UInt64]) -> [UInt8] {
        (0..<32).reversed().map { i in UInt8(truncatingIfNeeded: limbs[i / 8] >> (8 * (i % 8))) }
    }

    /// −1, 0, 1 as a <, ==, > b.
    private static func compare(_ a: [UInt64], _ b: [UInt64]) -> Int {
        for i in (0..<limbCount).reversed() where a[i] != b[i] {
            return a[i] < b[i] ? -1 : 1
        }
        return 0
    }

    /// a −= b, with a ≥ b.
    private static func subtract(_ a: inout [UInt64], _ b: [UInt64]) {
        var borrow: UInt64 = 0
        for i in 0..<limbCount {
            let (d1, o1) = a[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            a[i] = d2
            borrow = (o1 || o2) ? 1 : 0
        }
    }

    /// a += small.
    private static func add(_ a: inout [UInt64], _ small: UInt64) {
        var carry = small
        for i in 0..<limbCount where carry != 0 {
            let (s, o) = a[i].addingReportingOverflow(carry)
            a[i] = s
            carry = o ? 1 : 0
        }
    }

    /// a <<= 1, inserting `bit` at the bottom.
    private static func shiftLeft(_ a: inout [UInt64], inserting bit: UInt64) {
        var carry = bit
        for i in 0..<limbCount {
            let next = a[i] >> 63
            a[i] = a[i] << 1 | carry
            carry = next
        }
    }

    /// `value mod m` for a big-endian `value` of any length, by shift-and-subtract.
    private static func mod(_ value: [UInt8], _ m: [UInt64]) -> [UInt64] {
        var r = [UInt64](repeating: 0, count: limbCount)
        for byte in value {
            for bit in (0..<8).reversed() {
                shiftLeft(&r, inserting: UInt64(byte >> UInt8(bit) & 1))
                if compare(r, m) >= 0 { subtract(&r, m) }
            }
        }
        return r
    }
}
