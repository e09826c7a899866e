import Crypto
import Foundation
import Testing
import TestPKI
import X509

@Suite("TestPKI output read by OpenSSL", .enabled(if: openSSLPath != nil, "openssl is not installed"))
struct TestPKIOpenSSLTests {
    @Test("openssl verifies an issued ECU certificate via J1 to J and shows its extensions")
    func verifyECUCertificate() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let now = Date()
        let pki = try TestPKIHierarchy.generate(now: now)
        try pki.write(to: directory, createdAt: now, validityDays: 3650)
        let csr = try TestPKICSR.make(commonName: "SPK0000000007", key: P256.Signing.PrivateKey())
        let ecu = directory.appendingPathComponent("ecu.pem")
        try TestPKIFiles.write(try pki.issueECUIdentityCertificate(csr: csr, now: now).pemString() + "\n", to: ecu)
        let j = directory.appendingPathComponent("J.pem").path
        let j1 = directory.appendingPathComponent("J1.pem").path
        let verify = try runOpenSSL(["verify", "-CAfile", j, "-untrusted", j1, ecu.path])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("OK"))
        // without J1 the chain is incomplete; under the other root it does not verify
        #expect(try runOpenSSL(["verify", "-CAfile", j, ecu.path]).status != 0)
        let physical = directory.appendingPathComponent("J_PhysicalKey.pem").path
        #expect(try runOpenSSL(["verify", "-CAfile", physical, "-untrusted", j1, ecu.path]).status != 0)

        let text = try runOpenSSL(["x509", "-in", ecu.path, "-noout", "-text"]).output
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains("Digital Signature"))
        #expect(text.contains("CN = SPK0000000007"))
        #expect(text.contains("ecdsa-with-SHA256"))
        #expect(text.contains("NIST CURVE: P-256"))
        let j1Text = try runOpenSSL(["x509", "-in", j1, "-noout", "-text"]).output
        #expect(j1Text.contains("CA:TRUE, pathlen:0"))
        #expect(j1Text.contains("Certificate Sign"))
        #expect(j1Text.contains("Issuer: O = Stellantis (simulated), CN = OEM CA Root [J]"))

        let z1 = directory.appendingPathComponent("Z1.pem").path
        for leaf in ["VOS.pem", "ZZ2.pem"] {
            let result = try runOpenSSL(["verify", "-CAfile", j, "-untrusted", z1, directory.appendingPathComponent(leaf).path])
            #expect(result.status == 0, "\(leaf): \(result.output)")
        }
    }

    @Test("openssl reads the private keys, and a CSR made by openssl is signed by the batch")
    func openSSLInterop() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let now = Date()
        let pki = try TestPKIHierarchy.generate(now: now)
        try pki.write(to: directory, createdAt: now, validityDays: 3650)
        let vosKey = directory.appendingPathComponent("VOS.key.pem").path
        #expect(try runOpenSSL(["pkey", "-in", vosKey, "-noout"]).status == 0)

        let key = directory.appendingPathComponent("ecu.key.pem").path
        let csr = directory.appendingPathComponent("ecu.csr").path
        #expect(try runOpenSSL(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]).status == 0)
        #expect(try runOpenSSL(["req", "-new", "-key", key, "-subj", "/CN=SPK0000000008", "-sha256", "-out", csr]).status == 0)
        var registry = TestPKIRegistry()
        try registry.register(["SPK0000000008"])
        let out = directory.appendingPathComponent("out")
        let outcomes = TestPKIBatch.signCSRFiles(
            [URL(fileURLWithPath: csr)], hierarchy: pki, registry: registry, outputDirectory: out, now: now
        )
        #expect(outcomes.map(\.isIssued) == [true], "\(outcomes)")
        let issued = out.appendingPathComponent("SPK0000000008.crt.pem").path
        let chain = ["verify", "-CAfile", directory.appendingPathComponent("J.pem").path,
                     "-untrusted", directory.appendingPathComponent("J1.pem").path, issued]
        #expect(try runOpenSSL(chain).status == 0)
        // the certificate carries the openssl key
        let certKey = try runOpenSSL(["x509", "-in", issued, "-noout", "-pubkey"]).output
        let csrKey = try runOpenSSL(["pkey", "-in", key, "-pubout"]).output
        #expect(!certKey.isEmpty && certKey == csrKey)
    }
}
