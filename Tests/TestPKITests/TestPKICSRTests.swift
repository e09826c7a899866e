import Crypto
import Foundation
import KeyM
import Testing
import TestPKI
import X509

@Suite("TestPKI registry, CSR checks and batch signing (RP-02)")
struct TestPKICSRTests {
    @Test("serials: registration, validation, persistence")
    func registry() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        var registry = try TestPKIRegistry.load(from: directory)
        #expect(registry.serials.isEmpty)
        #expect(try registry.register(["SPK0000000001", "SPK0000000002"]) == ["SPK0000000001", "SPK0000000002"])
        #expect(try registry.register(["SPK0000000002", "SPK0000000003"]) == ["SPK0000000003"])
        for bad in ["", "has space", "../etc", ".hidden", String(repeating: "9", count: 33), "SPK\u{e9}"] {
            #expect(throws: TestPKIError.invalidSerial(bad)) { try registry.register(["SPK0000000004", bad]) }
        }
        #expect(!registry.contains("SPK0000000004"))  // nothing added from a refused call
        try registry.save(to: directory)
        let text = try String(contentsOf: directory.appendingPathComponent(TestPKIRegistry.fileName), encoding: .utf8)
        #expect(text == "SPK0000000001\nSPK0000000002\nSPK0000000003\n")
        #expect(try TestPKIRegistry.load(from: directory) == registry)
    }

    @Test("CSRs are read as DER and as PEM; the CN is returned")
    func parseCSR() throws {
        let csr = try TestPKICSR.make(commonName: "SPK0000000001", key: P256.Signing.PrivateKey())
        let der = try csr.derBytes()
        let pem = Array(try csr.serializeAsPEM().pemString.utf8)
        #expect(try TestPKICSR.check(TestPKICSR.parse(der)) == "SPK0000000001")
        #expect(try TestPKICSR.parse(pem) == csr)
        #expect(throws: TestPKIError.self) { try TestPKICSR.parse(Array(der.dropLast())) }
        let certificatePEM = Array(try TestPKIHierarchy.generate(now: testNow)[.j].certificate.pemString().utf8)
        #expect(throws: TestPKIError.self) { try TestPKICSR.parse(certificatePEM) }
    }

    @Test("a CSR whose signature does not verify, or with a P-384 key, is refused")
    func badCSRs() throws {
        let csr = try TestPKICSR.make(commonName: "SPK0000000001", key: P256.Signing.PrivateKey())
        var der = try csr.derBytes()
        der[der.count - 1] ^= 0x01
        let tampered = try TestPKICSR.parse(der)
        #expect(throws: TestPKIError.csrRefused("signature does not verify with the CSR's key")) { try TestPKICSR.check(tampered) }
        let p384 = try CertificateSigningRequest(
            version: .v1, subject: .stellantis("SPK0000000001"), privateKey: .init(P384.Signing.PrivateKey()),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA384
        )
        #expect(throws: TestPKIError.self) { try TestPKICSR.check(p384) }
        let noCN = try CertificateSigningRequest(
            version: .v1, subject: DistinguishedName(), privateKey: .init(P256.Signing.PrivateKey()),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256
        )
        #expect(throws: TestPKIError.self) { try TestPKICSR.check(noCN) }
    }

    @Test("a batch: registered CSRs are issued, the others refused with a reason")
    func batch() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let pki = try TestPKIHierarchy.generate(now: testNow)
        var registry = TestPKIRegistry()
        try registry.register(["SPK0000000001", "SPK0000000002"])
        let key1 = P256.Signing.PrivateKey()
        let key2 = P256.Signing.PrivateKey()
        let files = [
            ("a.pem", Array(try TestPKICSR.make(commonName: "SPK0000000001", key: key1).serializeAsPEM().pemString.utf8)),
            ("b.der", try TestPKICSR.make(commonName: "SPK0000000002", key: key2).derBytes()),
            ("c.der", try TestPKICSR.make(commonName: "SPK0000000099", key: key2).derBytes()),
            ("d.der", [0x30, 0x01, 0x00]),
            ("e.der", try TestPKICSR.make(commonName: "SPK0000000001", key: key2).derBytes()),
        ]
        var urls = try files.map { name, bytes in
            let url = directory.appendingPathComponent(name)
            try TestPKIFiles.write(bytes, to: url)
            return url
        }
        urls.append(directory.appendingPathComponent("missing.der"))
        let out = directory.appendingPathComponent("out")
        let outcomes = TestPKIBatch.signCSRFiles(urls, hierarchy: pki, registry: registry, outputDirectory: out, now: testNow, validityDays: 30)
        #expect(outcomes.map(\.isIssued) == [true, true, false, false, false, false])
        #expect(outcomes[2].refusal == "serial SPK0000000099 is not registered with the PKI")
        #expect(outcomes[3].refusal?.hasPrefix("not a DER PKCS#10 request") == true)
        #expect(outcomes[4].refusal == "serial SPK0000000001 appears twice in this batch")
        #expect(outcomes[5].refusal?.contains("missing.der") == true)
        #expect(outcomes[0].description.hasPrefix("ok SPK0000000001"))

        var installed = KeyMInstalledCertificates(ecuIdentityPublicKey: key1.publicKey)
        installed[.j] = pki[.j].der
        installed[.j1] = pki[.j1].der
        let der = try TestPKIFiles.read(out.appendingPathComponent("SPK0000000001.crt.der"))
        let pem = try String(contentsOf: out.appendingPathComponent("SPK0000000001.crt.pem"), encoding: .utf8)
        #expect(try Certificate(pemEncoded: pem).derBytes() == der)
        #expect(KeyM.checkECUIdentityCertificate(der, publicKey: key1.publicKey, installed: installed, now: testNow).isValid)
        let certificate = try Certificate(derEncoded: der)
        #expect(certificate.subject.commonName == "SPK0000000001")
        #expect(certificate.notValidAfter == certificate.notValidBefore + 3600 + 30 * 86_400)
        let second = try TestPKIFiles.read(out.appendingPathComponent("SPK0000000002.crt.der"))
        #expect(KeyM.checkECUIdentityCertificate(second, publicKey: key1.publicKey, installed: installed, now: testNow).status == .invalid)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("SPK0000000099.crt.der").path))
    }

    @Test("an issued certificate never outlives [J1]; serial numbers differ")
    func validityCapped() throws {
        let pki = try TestPKIHierarchy.generate(now: testNow, validityDays: 10)
        let csr = try TestPKICSR.make(commonName: "SPK0000000001", key: P256.Signing.PrivateKey())
        let a = try pki.issueECUIdentityCertificate(csr: csr, now: testNow, validityDays: 3650)
        let b = try pki.issueECUIdentityCertificate(csr: csr, now: testNow, validityDays: 3650)
        #expect(a.notValidAfter == pki[.j1].certificate.notValidAfter)
        #expect(a.serialNumber != b.serialNumber)
    }

    @Test("vehicle identity [K]: CN = the subject id, carries the CSR key, valid for KeyM")
    func vehicleIdentity() throws {
        let pki = try TestPKIHierarchy.generate(now: testNow)
        let key = P256.Signing.PrivateKey()
        let csr = try TestPKICSR.make(commonName: "VEH-SUBJECT-42", key: key).derBytes()
        let k = try pki.issueVehicleIdentityCertificate(csr: csr, subjectId: "VEH-SUBJECT-42", now: testNow)
        #expect(k.subject.commonName == "VEH-SUBJECT-42")
        var installed = KeyMInstalledCertificates()
        installed[.j] = pki[.j].der
        installed[.j1] = pki[.j1].der
        #expect(KeyM.checkVehicleIdentityCertificate(try k.derBytes(), publicKey: key.publicKey, installed: installed, now: testNow).isValid)
        #expect(throws: TestPKIError.self) {
            try pki.issueVehicleIdentityCertificate(csr: csr, subjectId: "ANOTHER-SUBJECT", now: testNow)
        }
    }
}
