import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import SecureStore

/// RP-02 / PP-01: PKCS#10 requests made inside the store (ICD 5.6).
@Suite("CSR from a store key")
struct CSRTests {
    @Test("the CSR is PKCS#10, ecdsa-with-SHA256, CN = serial, carries the slot's key and verifies", arguments: StoreKind.allCases)
    func csr(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        #expect(throws: SecureStoreError.keyAbsent(.ecuIdentity)) { try store.makeCSR(.ecuIdentity, commonName: "SPK0000000001") }
        let key = try store.generateKey(.ecuIdentity)
        let der = try store.makeCSR(.ecuIdentity, commonName: "SPK0000000001")
        let request = try CertificateSigningRequest(derEncoded: der)
        #expect(request.version == .v1)
        #expect(request.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(commonNames(request.subject) == ["SPK0000000001"])
        #expect(Array(request.subject).count == 1)
        #expect(P256.Signing.PublicKey(request.publicKey)?.x963Representation == key.x963Representation)
        #expect(request.publicKey.isValidSignature(request.signature, for: request))
        // Flipping a byte of the subject breaks the signature.
        let offset = try #require(index(of: Array("SPK0000000001".utf8), in: der))
        var tampered = der
        tampered[offset] ^= 0x01
        let bad = try CertificateSigningRequest(derEncoded: tampered)
        #expect(!bad.publicKey.isValidSignature(bad.signature, for: bad))
        // A pending key makes its own CSR.
        let pending = try store.generateKey(.vehicleIdentityPending)
        let pp01 = try CertificateSigningRequest(derEncoded: try store.makeCSR(.vehicleIdentityPending, commonName: "subject-0001"))
        #expect(P256.Signing.PublicKey(pp01.publicKey)?.x963Representation == pending.x963Representation)
        #expect(commonNames(pp01.subject) == ["subject-0001"])
    }

    @Test("an empty or oversized common name is refused")
    func badCommonName() throws {
        let store = InMemorySecureStore()
        try store.generateKey(.ecuIdentity)
        #expect(throws: SecureStoreError.self) { try store.makeCSR(.ecuIdentity, commonName: "") }
        #expect(throws: SecureStoreError.self) { try store.makeCSR(.ecuIdentity, commonName: String(repeating: "S", count: 65)) }
    }

    @Test("OpenSSL verifies the CSR", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "openssl is not installed"))
    func openSSL() throws {
        let folder = TemporaryDirectory()
        let store = InMemorySecureStore()
        try store.generateKey(.ecuIdentity)
        let path = folder.path + "/ecu.csr"
        try Data(try store.makeCSR(.ecuIdentity, commonName: "SPK0000000001")).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["req", "-inform", "DER", "-in", path, "-verify", "-noout", "-text"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("verify OK") || output.contains("Certificate request self-signature verify OK"), "\(output)")
        #expect(output.contains("Subject: CN = SPK0000000001") || output.contains("Subject: CN=SPK0000000001"), "\(output)")
        #expect(output.contains("ecdsa-with-SHA256"))
        #expect(output.contains("prime256v1") || output.contains("P-256"))
    }

    func commonNames(_ name: DistinguishedName) -> [String] {
        name.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }.compactMap { String($0.value) }
    }

    func index(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }
}
