@testable import CloudProtocol
import SpaakCore
import Testing

@Suite("SPAKE2+ verifier record and derivation (ICD 7.1 tag 0x15, 7.6)")
struct SpakeVerifierTests {
    static let n = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"

    static func record(n: UInt32 = 4096, r: UInt16 = 8, p: UInt16 = 1, w0: [UInt8]? = nil, l: [UInt8]? = nil) throws -> SpakeVerifierRecord {
        let v = Fixtures.vectorRecord
        return try SpakeVerifierRecord(salt: v.salt, n: n, r: r, p: p, w0: w0 ?? v.w0, l: l ?? v.l)
    }

    @Test("the ICD test vector record validates; its bytes and D123 metadata")
    func vector() throws {
        let v = Fixtures.vectorRecord
        #expect(throws: Never.self) { try v.validate() }
        #expect(v.validationStatus == .ok)
        #expect(v.bytes.count == 121)
        #expect(v.metadata.hexString == "000102030405060708090A0B0C0D0E0F" + "00001000" + "0008" + "0001")
        #expect(try SpakeVerifierRecord(bytes: v.bytes) == v)
        #expect(Array(v.bytes[24..<56]) == v.w0 && Array(v.bytes[56...]) == v.l)
    }

    @Test("w0 must lie in [1, n−1]")
    func w0Range() throws {
        let n = [UInt8](hex: Self.n) ?? []
        var nMinusOne = n
        nMinusOne[31] -= 1
        var one = [UInt8](repeating: 0, count: 32)
        one[31] = 1
        #expect(throws: SpakeVerifierRecordError.w0OutOfRange) { try Self.record(w0: [UInt8](repeating: 0, count: 32)).validate() }
        #expect(throws: SpakeVerifierRecordError.w0OutOfRange) { try Self.record(w0: n).validate() }
        #expect(throws: SpakeVerifierRecordError.w0OutOfRange) { try Self.record(w0: [UInt8](repeating: 0xFF, count: 32)).validate() }
        #expect(try Self.record(w0: nMinusOne).validationStatus == .ok)
        #expect(try Self.record(w0: one).validationStatus == .ok)
        #expect(try Self.record(w0: n).validationStatus == .malformed)
    }

    @Test("L must be an uncompressed point on P-256")
    func point() throws {
        var offCurve = Fixtures.vectorRecord.l
        offCurve[64] ^= 0x01
        #expect(throws: SpakeVerifierRecordError.lNotOnCurve) { try Self.record(l: offCurve).validate() }
        var compressed = Fixtures.vectorRecord.l
        compressed[0] = 0x02
        #expect(throws: SpakeVerifierRecordError.lNotUncompressed) { try Self.record(l: compressed).validate() }
        #expect(throws: SpakeVerifierRecordError.lNotOnCurve) {
            try Self.record(l: [0x04] + [UInt8](repeating: 0, count: 64)).validate()
        }
    }

    @Test("scrypt parameters: N a power of two ≥ 2, r and p ≥ 1")
    func parameters() throws {
        for bad: UInt32 in [0, 1, 3, 3000, 4097, 0xFFFF_FFFF] {
            #expect(throws: SpakeVerifierRecordError.nNotPowerOfTwo(bad)) { try Self.record(n: bad).validate() }
        }
        for good: UInt32 in [2, 1024, 0x8000_0000] { #expect(try Self.record(n: good).validationStatus == .ok) }
        #expect(throws: SpakeVerifierRecordError.rZero) { try Self.record(r: 0).validate() }
        #expect(throws: SpakeVerifierRecordError.pZero) { try Self.record(p: 0).validate() }
        #expect(try Self.record(n: 3000).validationStatus == .malformed)
    }

    @Test("a record of the wrong size is refused")
    func sizes() {
        let bytes = Fixtures.vectorRecord.bytes
        #expect(throws: SpakeVerifierRecordError.wrongLength(field: "verifier record", length: 120, expected: 121)) {
            try SpakeVerifierRecord(bytes: Array(bytes.dropLast()))
        }
        #expect(throws: SpakeVerifierRecordError.wrongLength(field: "verifier record", length: 0, expected: 121)) {
            try SpakeVerifierRecord(bytes: [])
        }
        #expect(throws: SpakeVerifierRecordError.wrongLength(field: "w0", length: 31, expected: 32)) {
            try Self.record(w0: Array(Fixtures.vectorRecord.w0.dropLast()))
        }
        #expect(throws: SpakeVerifierRecordError.wrongLength(field: "salt", length: 15, expected: 16)) {
            try SpakeVerifierRecord(salt: Array(0..<15), n: 4096, r: 8, p: 1, w0: Fixtures.vectorRecord.w0, l: Fixtures.vectorRecord.l)
        }
        // In a message, an invalid record is well-formed: validation is the module's step (status 1).
        let bad = Fixtures.message(.spake2VerifierProvisioning((try? Self.record(n: 3000)) ?? Fixtures.vectorRecord))
        #expect(throws: Never.self) { _ = try CloudMessage.decode(try bad.encode(signature: [0x30])) }
    }

    @Test("reduction modulo n − 1, plus one")
    func reduction() {
        let nMinusOne = P256Order.nMinusOne
        #expect(P256Order.reduceToScalar([UInt8](repeating: 0, count: 40)).hexString == String(repeating: "0", count: 63) + "1")
        #expect(P256Order.reduceToScalar([UInt8](repeating: 0, count: 8) + nMinusOne).hexString
                == String(repeating: "0", count: 63) + "1")
        var nMinusTwo = nMinusOne
        nMinusTwo[31] -= 1
        #expect(P256Order.reduceToScalar(nMinusTwo) == nMinusOne)
        // Values computed with Python's arbitrary-precision integers.
        #expect(P256Order.reduceToScalar([UInt8](repeating: 0xFF, count: 40)).hexString.lowercased()
                == "fffffffe00000001431905529c0166cd22159165b6faae71f756a572fc632550")
        #expect(P256Order.reduceToScalar([UInt8](hex: String(repeating: "0123456789abcdef", count: 5)) ?? []).hexString.lowercased()
                == "8acf1355fedcba99016f9d097828f7594f17aabd2f096d78981295b318e85510")
    }

    @Test("CCC derivation reproduces the ICD test vector")
    func derivation() throws {
        let secrets = try SpakeVerifierDerivation.derive(password: Array("0123456789012".utf8), salt: Array(0...15),
                                                         n: 4096, r: 8, p: 1)
        #expect(secrets.w0 == Fixtures.vectorRecord.w0)
        #expect(secrets.l == Fixtures.vectorRecord.l)
        #expect(P256Order.isValidScalar(secrets.w1))
        let record = try SpakeVerifierDerivation.record(password: Array("0123456789012".utf8), salt: Array(0...15),
                                                        n: 4096, r: 8, p: 1)
        #expect(record == Fixtures.vectorRecord)
        let other = try SpakeVerifierDerivation.derive(password: Array("0123456789013".utf8), salt: Array(0...15),
                                                       n: 4096, r: 8, p: 1)
        #expect(other.w0 != secrets.w0 && other.l != secrets.l)
    }
}
