import Crypto
import Foundation
import KeyM
import Testing
import TestPKI
import X509

@Suite("TestPKI hierarchy: generation, files, round trips")
struct TestPKIHierarchyTests {
    @Test("a generated hierarchy is what KeyM expects: five valid roots, VOS under Z1")
    func consistent() throws {
        let pki = try TestPKIHierarchy.generate(now: testNow, validityDays: 30)
        var installed = KeyMInstalledCertificates()
        installed[.j] = pki[.j].der
        installed[.j1] = pki[.j1].der
        installed[.jPhysicalKey] = pki[.jPhysicalKey].der
        installed[.z1] = pki[.z1].der
        installed[.zz2] = pki[.zz2].der
        #expect(KeyM.statusBytes(installed, now: testNow) == [0, 0, 0, 0, 0, 4, 4])
        #expect(KeyM.checkC2VSignerCertificate(pki[.vos].der, installed: installed, now: testNow).isValid)
        #expect(KeyM.statusBytes(installed, now: testNow + 31 * 86_400) == [5, 7, 5, 7, 7, 4, 4])
    }

    @Test("subjects, issuers and extensions per role")
    func names() throws {
        let pki = try TestPKIHierarchy.generate(now: testNow)
        for role in TestPKIRole.allCases {
            let certificate = pki[role].certificate
            #expect(certificate.subject.commonName == role.commonName)
            #expect("\(certificate.subject)".contains("O=Stellantis (simulated)"))
            let issuerRole = role.issuerRole ?? role
            #expect(certificate.issuer == pki[issuerRole].certificate.subject)
            let basicConstraints = try certificate.extensions.basicConstraints
            let keyUsage = try #require(try certificate.extensions.keyUsage)
            if role.isCA {
                #expect(keyUsage.keyCertSign)
                if case .isCertificateAuthority = basicConstraints {} else { Issue.record("\(role) is not a CA") }
            } else {
                #expect(keyUsage.digitalSignature && !keyUsage.keyCertSign)
                #expect(basicConstraints == .notCertificateAuthority)
            }
            #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)
            #expect(P256.Signing.PublicKey(certificate.publicKey) != nil)
        }
    }

    @Test("write then load gives the same certificates and keys; keys are 0600; manifest matches")
    func roundTrip() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let pki = try TestPKIHierarchy.generate(now: testNow, validityDays: 100)
        try pki.write(to: directory, createdAt: testNow, validityDays: 100)
        let loaded = try TestPKIHierarchy.load(from: directory)
        for role in TestPKIRole.allCases {
            #expect(loaded[role].der == pki[role].der)
            #expect(loaded[role].key.rawRepresentation == pki[role].key.rawRepresentation)
            let keyPath = directory.appendingPathComponent("\(role.fileStem).key.pem").path
            let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let pem = try String(contentsOf: directory.appendingPathComponent("\(role.fileStem).pem"), encoding: .utf8)
            #expect(try Certificate(pemEncoded: pem) == pki[role].certificate)
        }
        let manifest = try TestPKIHierarchy.loadManifest(from: directory)
        #expect(manifest.format == "spaak-pki/1")
        #expect(manifest.validityDays == 100)
        #expect(manifest.certificates.map(\.role) == ["J", "J1", "J_PhysicalKey", "Z1", "ZZ2", "VOS"])
        let j1 = try #require(manifest.certificates.first { $0.role == "J1" })
        #expect(j1.sha256 == SHA256.hash(data: pki[.j1].der).map { String(format: "%02x", $0) }.joined())
        #expect(j1.isCA && j1.issuer == "\(pki[.j].certificate.subject)")
    }

    @Test("a directory with a hierarchy is not overwritten without force")
    func noAccidentalOverwrite() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let first = try TestPKIHierarchy.generate(now: testNow)
        try first.write(to: directory, createdAt: testNow, validityDays: 3650)
        let second = try TestPKIHierarchy.generate(now: testNow)
        #expect(throws: TestPKIError.alreadyInitialised(directory.path)) {
            try second.write(to: directory, createdAt: testNow, validityDays: 3650)
        }
        #expect(try TestPKIHierarchy.load(from: directory)[.j].der == first[.j].der)
        try second.write(to: directory, createdAt: testNow, validityDays: 3650, force: true)
        #expect(try TestPKIHierarchy.load(from: directory)[.j].der == second[.j].der)
    }

    @Test("loading refuses a missing file and a key that does not belong to its certificate")
    func loadChecks() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let pki = try TestPKIHierarchy.generate(now: testNow)
        try pki.write(to: directory, createdAt: testNow, validityDays: 3650)
        let z1Key = directory.appendingPathComponent("Z1.key.pem")
        try TestPKIFiles.write(P256.Signing.PrivateKey().pemRepresentation, to: z1Key, mode: 0o600)
        #expect(throws: TestPKIError.keyMismatch("Z1")) { try TestPKIHierarchy.load(from: directory) }
        try FileManager.default.removeItem(at: z1Key)
        #expect(throws: TestPKIError.missingFile(z1Key.path)) { try TestPKIHierarchy.load(from: directory) }
    }

    @Test("VOS and KTS message signatures verify with KeyM")
    func messageSigning() throws {
        let pki = try TestPKIHierarchy.generate(now: testNow)
        let message = Array("C2V message".utf8)
        let signature = try pki.sign(message)
        #expect(KeyM.verifySignature(signature, of: message, certificateDER: pki[.vos].der).isValid)
        #expect(KeyM.verifySignature(try pki.sign(message, as: .zz2), of: message, certificateDER: pki[.zz2].der).isValid)
        #expect(!KeyM.verifySignature(signature, of: message, certificateDER: pki[.zz2].der).isValid)
    }

    @Test("every defect really changes the certificate it names")
    func defectsAreReal() throws {
        let pki = try TestPKIHierarchy.generate(now: testNow)
        let expired = try Certificate(derEncoded: try pki.defectiveDER(.expired, role: .j1, now: testNow))
        #expect(expired.notValidAfter < testNow)
        let notYet = try Certificate(derEncoded: try pki.defectiveDER(.notYetValid, role: .j1, now: testNow))
        #expect(notYet.notValidBefore > testNow)
        let p384 = try Certificate(derEncoded: try pki.defectiveDER(.wrongCurve, role: .j, now: testNow))
        #expect(P384.Signing.PublicKey(p384.publicKey) != nil && p384.signatureAlgorithm == .ecdsaWithSHA384)
        let noSign = try Certificate(derEncoded: try pki.defectiveDER(.caWithoutKeyCertSign, role: .z1, now: testNow))
        #expect(try noSign.extensions.keyUsage?.keyCertSign == false)
        let nonCA = try Certificate(derEncoded: try pki.defectiveDER(.nonCAIntermediate, role: .j1, now: testNow))
        #expect(try nonCA.extensions.basicConstraints == .notCertificateAuthority)
        let stranger = try Certificate(derEncoded: try pki.defectiveDER(.wrongIssuer, role: .zz2, now: testNow))
        #expect(stranger.issuer != pki[.z1].certificate.subject)
        let otherKey = try Certificate(derEncoded: try pki.defectiveDER(.otherKey, role: .zz2, now: testNow))
        #expect(otherKey.publicKey != pki[.zz2].certificate.publicKey)
        let badSignature = try pki.defectiveDER(.badSignature, role: .zz2, now: testNow)
        let parsed = try Certificate(derEncoded: badSignature)
        #expect(!pki[.z1].certificate.publicKey.isValidSignature(parsed.signature, for: parsed))
    }
}
