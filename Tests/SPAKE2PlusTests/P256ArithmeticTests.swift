import Crypto
import SpaakCore
import Testing

@testable import SPAKE2Plus

@Suite("P-256 point arithmetic over libcrypto")
struct P256ArithmeticTests {
    static let g = "04" + "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
        + "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"
    static let p = "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF"

    static func scalar(_ value: UInt8) throws -> P256Scalar {
        try P256Scalar(bytes: [UInt8](repeating: 0, count: 31) + [value])
    }

    static func bytes(_ hex: String) -> [UInt8] { [UInt8](hex: hex) ?? [] }

    @Test("1·G is the base point; G + G = 2·G; 3·G − G = 2·G; s·(t·G) = (s·t)·G")
    func groupLaws() throws {
        let g = try P256Point.generatorMultiple(Self.scalar(1))
        #expect(g.uncompressed.hexString == Self.g)
        #expect(try P256Point(uncompressed: Self.bytes(Self.g)) == g)
        let two = try P256Point.generatorMultiple(Self.scalar(2))
        #expect(try g.adding(g) == two)
        #expect(try g.multiplied(by: Self.scalar(2)) == two)
        #expect(try P256Point.generatorMultiple(Self.scalar(3)).subtracting(g) == two)
        #expect(try two.multiplied(by: Self.scalar(3)) == P256Point.generatorMultiple(Self.scalar(6)))
    }

    @Test("results at infinity throw .identity")
    func identityResults() throws {
        let g = try P256Point.generatorMultiple(Self.scalar(1))
        #expect(throws: P256ArithmeticError.identity) { try g.subtracting(g) }
        var nMinusOne = P256Scalar.order
        nMinusOne[31] -= 1
        let minusG = try P256Point.generatorMultiple(P256Scalar(bytes: nMinusOne))
        #expect(throws: P256ArithmeticError.identity) { try g.adding(minusG) }
        #expect(try minusG.adding(g.multiplied(by: Self.scalar(2))) == g)
    }

    @Test("decoding refuses wrong sizes, compressed form, the identity, off-curve points, coordinates ≥ p")
    func decoding() throws {
        let g = Self.bytes(Self.g)
        #expect(throws: P256ArithmeticError.wrongLength(64, expected: 65)) { try P256Point(uncompressed: Array(g.dropLast())) }
        #expect(throws: P256ArithmeticError.wrongLength(1, expected: 65)) { try P256Point(uncompressed: [0x00]) }
        #expect(throws: P256ArithmeticError.wrongLength(33, expected: 65)) { try P256Point(uncompressed: Array(g[0..<33])) }
        var compressedTag = g
        compressedTag[0] = 0x02
        #expect(throws: P256ArithmeticError.notUncompressed) { try P256Point(uncompressed: compressedTag) }
        var hybrid = g
        hybrid[0] = 0x07
        #expect(throws: P256ArithmeticError.notUncompressed) { try P256Point(uncompressed: hybrid) }
        #expect(throws: P256ArithmeticError.notOnCurve) { try P256Point(uncompressed: [0x04] + [UInt8](repeating: 0, count: 64)) }
        var offCurve = g
        offCurve[64] ^= 0x01
        #expect(throws: P256ArithmeticError.notOnCurve) { try P256Point(uncompressed: offCurve) }
        // A coordinate ≥ p (2^256 − 1), and p itself.
        let tooLarge = [UInt8](repeating: 0xFF, count: 32)
        #expect(throws: P256ArithmeticError.notOnCurve) { try P256Point(uncompressed: [0x04] + tooLarge + Array(g[33...])) }
        #expect(throws: P256ArithmeticError.notOnCurve) { try P256Point(uncompressed: [0x04] + Self.bytes(Self.p) + Array(g[33...])) }
        // The identity's SEC 1 encoding (one zero byte), through the internal decoder.
        #expect(throws: P256ArithmeticError.identity) { try P256Point(sec1: [0x00]) }
    }

    @Test("M and N are the RFC 9383 constants (given compressed there)")
    func constants() throws {
        #expect(try P256Point(sec1: Self.bytes("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")) == SPAKE2Plus.m)
        #expect(try P256Point(sec1: Self.bytes("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")) == SPAKE2Plus.n)
        #expect(try P256Point(uncompressed: SPAKE2Plus.m.uncompressed) == SPAKE2Plus.m)
        #expect(try P256Point(uncompressed: SPAKE2Plus.n.uncompressed) == SPAKE2Plus.n)
    }

    @Test("scalars: [1, n−1] only; reduction mod n")
    func scalars() throws {
        let n = P256Scalar.order
        var nMinusOne = n
        nMinusOne[31] -= 1
        #expect(throws: P256ArithmeticError.scalarOutOfRange) { try P256Scalar(bytes: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: P256ArithmeticError.scalarOutOfRange) { try P256Scalar(bytes: n) }
        #expect(throws: P256ArithmeticError.scalarOutOfRange) { try P256Scalar(bytes: [UInt8](repeating: 0xFF, count: 32)) }
        #expect(throws: P256ArithmeticError.wrongLength(31, expected: 32)) { try P256Scalar(bytes: Array(nMinusOne.dropFirst())) }
        #expect(try P256Scalar(bytes: nMinusOne).bytes == nMinusOne)
        #expect(throws: P256ArithmeticError.scalarOutOfRange) { try P256Scalar(reducing: n) }
        var nPlusOne = n
        nPlusOne[31] += 1
        #expect(try P256Scalar(reducing: nPlusOne) == Self.scalar(1))
        #expect(try P256Scalar(reducing: [0x01] + n) == P256Scalar(reducing: [0x01] + [UInt8](repeating: 0, count: 32)))
        let random = P256Scalar.random()
        #expect(random != P256Scalar.random())
    }

    @Test("the public key swift-crypto derives from a scalar is s·G")
    func agreesWithSwiftCrypto() throws {
        for _ in 0..<4 {
            let key = P256.Signing.PrivateKey()
            let s = try P256Scalar(bytes: Array(key.rawRepresentation))
            #expect(try P256Point.generatorMultiple(s).uncompressed == Array(key.publicKey.x963Representation))
        }
    }
}
