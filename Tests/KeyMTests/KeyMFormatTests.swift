import Crypto
import Foundation
import KeyM
import SwiftASN1
import Testing
import TestPKI
import X509

@Suite("KeyM format and profile checks: garbage never crashes")
struct KeyMFormatTests {
    let fixture: Fixture

    init() throws { fixture = try Fixture() }

    @Test("empty, garbage and non-certificate DER: invalid format", arguments: [
        [UInt8](),
        [0x30],
        [0x30, 0x00],
        [0x30, 0x82, 0xFF, 0xFF, 0x00],
        Array("-----BEGIN CERTIFICATE-----".utf8),
        [0x02, 0x01, 0x05],
        [UInt8](repeating: 0xFF, count: 300),
    ])
    func garbage(der: [UInt8]) {
        for slot in KeyMCertificateSlot.allCases {
            #expect(KeyM.check(der, slot: slot, installed: fixture.installed(), now: testNow).status == .invalidFormat)
        }
    }

    @Test("every truncation of a good certificate: invalid format")
    func truncated() {
        let der = fixture.der(.j1)
        for length in 0..<der.count {
            let result = KeyM.check(Array(der.prefix(length)), slot: .j1, installed: fixture.installed(), now: testNow)
            #expect(result.status == .invalidFormat, "prefix \(length): \(result)")
        }
    }

    @Test("trailing bytes after the certificate: invalid format")
    func trailingBytes() {
        let result = KeyM.check(fixture.der(.j) + [0x00], slot: .j, installed: KeyMInstalledCertificates(), now: testNow)
        #expect(result.status == .invalidFormat)
    }

    @Test("every single-byte corruption is caught and never crashes")
    func corruptions() {
        let der = fixture.der(.zz2)
        let installed = fixture.installed()
        for index in der.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var bad = der
                bad[index] ^= mask
                let result = KeyM.check(bad, slot: .zz2, installed: installed, now: testNow)
                #expect(result.status != .valid, "byte \(index) of \(der.count) ^ \(mask) accepted: \(der[max(0, index - 12)..<min(der.count, index + 4)].map { String($0, radix: 16) })")
            }
        }
    }

    @Test("random byte strings never crash the parser")
    func randomBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let count = Int.random(in: 0..<600, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty { bytes[0] = 0x30 }  // look like a SEQUENCE, to get past the first byte
            #expect(KeyM.check(bytes, slot: .j, installed: KeyMInstalledCertificates(), now: testNow).status == .invalidFormat)
        }
    }

    @Test("an X.509 v1 certificate: invalid format")
    func versionOne() throws {
        let key = P256.Signing.PrivateKey()
        let name = DistinguishedName.stellantis("v1 root")
        let certificate = try Certificate(
            version: .v1, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: testNow - 86_400, notValidAfter: testNow + 86_400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(), issuerPrivateKey: .init(key)
        )
        let result = KeyM.check(try certificate.derBytes(), slot: .j, installed: KeyMInstalledCertificates(), now: testNow)
        #expect(result.status == .invalidFormat)
        #expect(result.reason.contains("v3"))
    }

    @Test("outer signatureAlgorithm differing from tbsCertificate.signature: invalid format")
    func algorithmMismatch() throws {
        var der = fixture.der(.j)
        let sha256 = [0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02] as [UInt8]
        let outer = try #require(lastRange(of: sha256, in: der))
        der[outer.upperBound - 1] = 0x03  // ecdsa-with-SHA384 outside, SHA256 inside
        #expect(try Certificate(derEncoded: der).signatureAlgorithm == .ecdsaWithSHA384)
        let result = KeyM.check(der, slot: .j, installed: KeyMInstalledCertificates(), now: testNow)
        #expect(result.status == .invalidFormat)
    }

    @Test("unused bits in the signatureValue BIT STRING (outside the signed part): invalid format")
    func signatureUnusedBits() throws {
        var der = fixture.der(.j)
        let sha256 = [0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02] as [UInt8]
        let outer = try #require(lastRange(of: sha256, in: der))
        #expect(der[outer.upperBound] == 0x03 && der[outer.upperBound + 2] == 0x00)
        der[outer.upperBound + 2] = 0x01
        der[der.count - 1] &= 0xFE  // keep the padding bit zero, as DER wants
        let result = KeyM.check(der, slot: .j, installed: KeyMInstalledCertificates(), now: testNow)
        #expect(result.status == .invalidFormat)
    }

    @Test("ecdsa-with-SHA384 by a P-256 issuer is within the profile")
    func sha384Accepted() throws {
        var spec = fixture.pki.spec(for: .j1, now: testNow)
        spec.signatureAlgorithm = .ecdsaWithSHA384
        let result = KeyM.check(try spec.issue().derBytes(), slot: .j1, installed: fixture.installed(), now: testNow)
        #expect(result.isValid, "\(result)")
    }

    @Test("ecdsa-with-SHA512: invalid type")
    func sha512Refused() throws {
        var spec = fixture.pki.spec(for: .j1, now: testNow)
        spec.signatureAlgorithm = .ecdsaWithSHA512
        let result = KeyM.check(try spec.issue().derBytes(), slot: .j1, installed: fixture.installed(), now: testNow)
        #expect(result.status == .invalidType)
    }

    @Test("an unrecognised critical extension is refused, a non-critical one ignored")
    func unknownCriticalExtension() throws {
        let oid: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 99999, 1]
        for critical in [true, false] {
            var spec = fixture.pki.spec(for: .zz2, now: testNow)
            spec.extraExtensions = [Certificate.Extension(oid: oid, critical: critical, value: [0x05, 0x00])]
            let result = KeyM.check(try spec.issue().derBytes(), slot: .zz2, installed: fixture.installed(), now: testNow)
            #expect(result.status == (critical ? .invalid : .valid), "\(result)")
        }
    }

    @Test("CA without keyUsage, and a leaf without keyUsage: invalid type")
    func missingKeyUsage() throws {
        var ca = fixture.pki.spec(for: .z1, now: testNow)
        ca.keyUsage = nil
        var leaf = fixture.pki.spec(for: .zz2, now: testNow)
        leaf.keyUsage = nil
        let installed = fixture.installed()
        #expect(KeyM.check(try ca.issue().derBytes(), slot: .z1, installed: installed, now: testNow).status == .invalidType)
        #expect(KeyM.check(try leaf.issue().derBytes(), slot: .zz2, installed: installed, now: testNow).status == .invalidType)
    }

    @Test("a leaf with keyCertSign but cA = FALSE: invalid type")
    func leafWithKeyCertSign() throws {
        var leaf = fixture.pki.spec(for: .zz2, now: testNow)
        leaf.keyUsage = KeyUsage(digitalSignature: true, keyCertSign: true)
        let result = KeyM.check(try leaf.issue().derBytes(), slot: .zz2, installed: fixture.installed(), now: testNow)
        #expect(result.status == .invalidType)
    }

    @Test("a CA without basicConstraints: invalid type")
    func caWithoutBasicConstraints() throws {
        var ca = fixture.pki.spec(for: .j, now: testNow)
        ca.basicConstraints = nil
        let result = KeyM.check(try ca.issue().derBytes(), slot: .j, installed: KeyMInstalledCertificates(), now: testNow)
        #expect(result.status == .invalidType)
        #expect(result.reason.contains("not a CA"))
    }

    private func lastRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        for start in stride(from: haystack.count - needle.count, through: 0, by: -1)
        where Array(haystack[start..<(start + needle.count)]) == needle {
            return start..<(start + needle.count)
        }
        return nil
    }
}
