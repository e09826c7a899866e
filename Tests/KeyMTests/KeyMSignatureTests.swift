import Crypto
import Foundation
import KeyM
import Testing
import TestPKI
import X509

@Suite("KeyM C2V signer certificates and message signatures (ICD 7.4)")
struct KeyMSignatureTests {
    let fixture: Fixture
    let message: [UInt8] = [0x01, 0x00, 0x01, 0x02, 0x02, 0x00, 0x01, 0x01, 0x03, 0x00, 0x03, 0x53, 0x50, 0x4B]

    init() throws { fixture = try Fixture() }

    @Test("a VOS message signed with the VOS key under [Z1] is accepted")
    func goodMessage() throws {
        let signature = try fixture.pki.sign(message)
        let result = KeyM.verifyC2VMessage(
            message, signature: signature, signerCertificate: fixture.pki[.vos].der, installed: fixture.installed(), now: testNow
        )
        #expect(result.isValid, "\(result)")
    }

    @Test("a changed message, a changed signature, a non-DER signature: signature fail")
    func badSignatures() throws {
        let signature = try fixture.pki.sign(message)
        let signer = fixture.pki[.vos].der
        let installed = fixture.installed()
        var changed = message
        changed[3] ^= 0x01
        var flipped = signature
        flipped[flipped.count - 1] ^= 0x01
        for (bytes, sig) in [(changed, signature), (message, flipped), (message, [0x30, 0x00]), (message, [])] {
            let result = KeyM.verifyC2VMessage(bytes, signature: sig, signerCertificate: signer, installed: installed, now: testNow)
            #expect(result.status == .signatureFail)
        }
        // signed by the ZZ2 key but presented with the VOS certificate
        let other = try fixture.pki.sign(message, as: .zz2)
        #expect(KeyM.verifySignature(other, of: message, certificateDER: signer).status == .signatureFail)
    }

    @Test("signer certificate checks, in order after the signature", arguments: [
        (TestPKIDefect.expired, KeyMCertificateStatus.validityPeriodFail),
        (.notYetValid, .validityPeriodFail),
        (.leafWithoutDigitalSignature, .invalidType),
        (.wrongIssuer, .invalidChainOfTrust),
        (.badSignature, .signatureFail),
    ])
    func signerDefects(defect: TestPKIDefect, expected: KeyMCertificateStatus) throws {
        let signer = try fixture.pki.defectiveDER(defect, role: .vos, now: testNow)
        let signature = try fixture.pki.sign(message)
        let result = KeyM.verifyC2VMessage(message, signature: signature, signerCertificate: signer, installed: fixture.installed(), now: testNow)
        #expect(result.status == expected, "\(result)")
    }

    @Test("a signer under [J1] (an ECU certificate) or a CA as signer is refused")
    func wrongSigners() throws {
        let installed = fixture.installed()
        let ecuSigned = Array(try fixture.ecuKey.signature(for: message).derRepresentation)
        let viaJ1 = KeyM.verifyC2VMessage(message, signature: ecuSigned, signerCertificate: fixture.der(.ecuIdentity), installed: installed, now: testNow)
        #expect(viaJ1.status == .invalidChainOfTrust)
        let z1Signed = try fixture.pki.sign(message, as: .z1)
        let caSigner = KeyM.verifyC2VMessage(message, signature: z1Signed, signerCertificate: fixture.der(.z1), installed: installed, now: testNow)
        #expect(caSigner.status == .invalidType)
    }

    @Test("without an installed, valid [Z1] nothing from the VOS is accepted")
    func z1Missing() throws {
        let signature = try fixture.pki.sign(message)
        let signer = fixture.pki[.vos].der
        let noZ1 = fixture.installed([.j, .j1, .jPhysicalKey])
        #expect(KeyM.verifyC2VMessage(message, signature: signature, signerCertificate: signer, installed: noZ1, now: testNow).status == .invalidChainOfTrust)
        #expect(KeyM.checkC2VSignerCertificate(signer, installed: fixture.installed(), now: testNow).isValid)
        let expired = KeyM.checkC2VSignerCertificate(signer, installed: fixture.installed(), now: testNow + 400 * 86_400)
        #expect(expired.status == .invalidChainOfTrust)  // [Z1] expired too, and is checked first
        #expect(expired.reason.contains("issuer [Z1] is not valid"))
    }

    @Test("OwnerKeyTermination is verified with the [ZZ2] key")
    func ownerKeyTermination() throws {
        let installed = fixture.installed()
        let byKTS = try fixture.pki.sign(message, as: .zz2)
        let byVOS = try fixture.pki.sign(message, as: .vos)
        #expect(KeyM.verifyOwnerKeyTermination(message, signature: byKTS, installed: installed, now: testNow).isValid)
        #expect(KeyM.verifyOwnerKeyTermination(message, signature: byVOS, installed: installed, now: testNow).status == .signatureFail)
        let noZZ2 = fixture.installed([.j, .j1, .jPhysicalKey, .z1])
        #expect(KeyM.verifyOwnerKeyTermination(message, signature: byKTS, installed: noZZ2, now: testNow).status == .invalidChainOfTrust)
    }

    @Test("a signature made by swift-crypto's P-256 key verifies with the bare public key")
    func bareKey() throws {
        let key = P256.Signing.PrivateKey()
        let signature = Array(try key.signature(for: message).derRepresentation)
        #expect(KeyM.verifySignature(signature, of: message, publicKey: key.publicKey).isValid)
        #expect(KeyM.verifySignature(signature, of: message + [0], publicKey: key.publicKey).status == .signatureFail)
    }
}
