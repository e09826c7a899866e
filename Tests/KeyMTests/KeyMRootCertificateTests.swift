import Crypto
import Foundation
import KeyM
import Testing
import TestPKI
import X509

@Suite("KeyM root certificate checks (ICD 5.5, RP-01)")
struct KeyMRootCertificateTests {
    let fixture: Fixture

    init() throws { fixture = try Fixture() }

    @Test("a good hierarchy passes, written in the EOL order J, J1, J_PhysicalKey, Z1, ZZ2")
    func goodHierarchy() {
        var installed = KeyMInstalledCertificates()
        for slot in KeyMCertificateSlot.roots {
            let result = KeyM.check(fixture.der(slot), slot: slot, installed: installed, now: testNow)
            #expect(result.status == .valid, "\(result)")
            installed[slot] = fixture.der(slot)
        }
    }

    @Test("a certificate whose issuer slot is empty is refused: invalid chain of trust", arguments: [
        (KeyMCertificateSlot.j1, [KeyMCertificateSlot]()),
        (.z1, []),
        (.zz2, [.j]),  // Z1 missing
        (.zz2, [.z1]),  // Z1 present, but J missing: Z1 is not valid
        (.ecuIdentity, [.j]),
        (.vehicleIdentity, [.j1]),
    ])
    func issuerMissing(slot: KeyMCertificateSlot, present: [KeyMCertificateSlot]) {
        let result = KeyM.check(fixture.der(slot), slot: slot, installed: fixture.installed(present), now: testNow)
        #expect(result.status == .invalidChainOfTrust)
        #expect(result.reason.contains("issuer"))
        #expect(result.status.rawValue == 7)
    }

    static let defectCases: [(KeyMCertificateSlot, TestPKIDefect, KeyMCertificateStatus)] = [
        (.j, .wrongIssuer, .invalidChainOfTrust),
        (.j, .caWithoutKeyCertSign, .invalidType),
        (.j, .leafWithoutDigitalSignature, .invalidType),
        (.j, .expired, .validityPeriodFail),
        (.j, .notYetValid, .validityPeriodFail),
        (.j, .wrongCurve, .invalidType),
        (.j, .otherKey, .signatureFail),
        (.j, .nonCAIntermediate, .invalidType),
        (.j, .badSignature, .signatureFail),
        (.jPhysicalKey, .caWithoutKeyCertSign, .invalidType),
        (.jPhysicalKey, .wrongCurve, .invalidType),
        (.jPhysicalKey, .badSignature, .signatureFail),
        (.jPhysicalKey, .expired, .validityPeriodFail),
        (.j1, .wrongIssuer, .invalidChainOfTrust),
        (.j1, .caWithoutKeyCertSign, .invalidType),
        (.j1, .expired, .validityPeriodFail),
        (.j1, .notYetValid, .validityPeriodFail),
        (.j1, .wrongCurve, .invalidType),
        (.j1, .nonCAIntermediate, .invalidType),
        (.j1, .badSignature, .signatureFail),
        (.j1, .otherKey, .valid),  // nothing says which key [J1] must have
        (.z1, .wrongIssuer, .invalidChainOfTrust),
        (.z1, .caWithoutKeyCertSign, .invalidType),
        (.z1, .nonCAIntermediate, .invalidType),
        (.z1, .expired, .validityPeriodFail),
        (.z1, .wrongCurve, .invalidType),
        (.zz2, .wrongIssuer, .invalidChainOfTrust),
        (.zz2, .leafWithoutDigitalSignature, .invalidType),
        (.zz2, .expired, .validityPeriodFail),
        (.zz2, .notYetValid, .validityPeriodFail),
        (.zz2, .wrongCurve, .invalidType),
        (.zz2, .badSignature, .signatureFail),
        (.ecuIdentity, .otherKey, .invalid),
        (.ecuIdentity, .wrongIssuer, .invalidChainOfTrust),
        (.ecuIdentity, .leafWithoutDigitalSignature, .invalidType),
        (.ecuIdentity, .expired, .validityPeriodFail),
        (.ecuIdentity, .notYetValid, .validityPeriodFail),
        (.ecuIdentity, .wrongCurve, .invalidType),
        (.ecuIdentity, .badSignature, .signatureFail),
        (.vehicleIdentity, .otherKey, .invalid),
        (.vehicleIdentity, .wrongIssuer, .invalidChainOfTrust),
        (.vehicleIdentity, .leafWithoutDigitalSignature, .invalidType),
        (.vehicleIdentity, .expired, .validityPeriodFail),
        (.vehicleIdentity, .wrongCurve, .invalidType),
    ]

    @Test("each deliberate defect gives its precise status", arguments: defectCases)
    func defect(slot: KeyMCertificateSlot, defect: TestPKIDefect, expected: KeyMCertificateStatus) throws {
        let der = try fixture.defective(defect, slot)
        let result = KeyM.check(der, slot: slot, installed: fixture.installed(), now: testNow)
        #expect(result.status == expected, "\(slot) \(defect): \(result)")
        #expect(result.reason.hasPrefix(slot.description))
    }

    @Test("[J1] signed by [J_PhysicalKey] instead of [J]: invalid chain of trust")
    func j1SignedByPhysicalKeyRoot() throws {
        var spec = fixture.pki.spec(for: .j1, now: testNow)
        spec.issuer = fixture.pki[.jPhysicalKey].certificate.subject
        spec.issuerKey = .p256(fixture.pki[.jPhysicalKey].key)
        let result = KeyM.check(try spec.issue().derBytes(), slot: .j1, installed: fixture.installed(), now: testNow)
        #expect(result.status == .invalidChainOfTrust)
        #expect(result.reason.contains("J_PhysicalKey"))
    }

    @Test("[J1] naming [J] as issuer but signed with the [J_PhysicalKey] key: signature fail")
    func j1NamedRightSignedWrong() throws {
        var spec = fixture.pki.spec(for: .j1, now: testNow)
        spec.issuerKey = .p256(fixture.pki[.jPhysicalKey].key)
        let result = KeyM.check(try spec.issue().derBytes(), slot: .j1, installed: fixture.installed(), now: testNow)
        #expect(result.status == .signatureFail)
    }

    @Test("[ZZ2] signed by [J] instead of [Z1]: invalid chain of trust")
    func zz2SignedByJ() throws {
        var spec = fixture.pki.spec(for: .zz2, now: testNow)
        spec.issuer = fixture.pki[.j].certificate.subject
        spec.issuerKey = .p256(fixture.pki[.j].key)
        let result = KeyM.check(try spec.issue().derBytes(), slot: .zz2, installed: fixture.installed(), now: testNow)
        #expect(result.status == .invalidChainOfTrust)
    }

    @Test("a CA where a leaf belongs, and a leaf where a CA belongs: invalid type")
    func roleSwaps() {
        let installed = fixture.installed()
        #expect(KeyM.check(fixture.der(.z1), slot: .zz2, installed: installed, now: testNow).status == .invalidType)
        #expect(KeyM.check(fixture.der(.zz2), slot: .z1, installed: installed, now: testNow).status == .invalidType)
        #expect(KeyM.check(fixture.der(.j1), slot: .ecuIdentity, installed: installed, now: testNow).status == .invalidType)
    }

    @Test("a root that is not self-issued, and [J1] in the [J] slot: invalid chain of trust")
    func rootsMustBeSelfSigned() {
        let result = KeyM.check(fixture.der(.j1), slot: .j, installed: KeyMInstalledCertificates(), now: testNow)
        #expect(result.status == .invalidChainOfTrust)
        #expect(result.reason.contains("not self-issued"))
    }

    @Test("[J] with pathLenConstraint 0 cannot have [J1] below it")
    func pathLength() throws {
        var jSpec = fixture.pki.spec(for: .j, now: testNow)
        jSpec.basicConstraints = .isCertificateAuthority(maxPathLength: 0)
        var installed = fixture.installed()
        installed[.j] = try jSpec.issue().derBytes()
        #expect(KeyM.check(installed[.j] ?? [], slot: .j, installed: installed, now: testNow).isValid)
        let result = KeyM.check(fixture.der(.j1), slot: .j1, installed: installed, now: testNow)
        #expect(result.status == .invalidChainOfTrust)
        #expect(result.reason.contains("pathLenConstraint"))
    }

    @Test("the validity period is checked against the given wall clock, bounds included")
    func validityBounds() throws {
        let certificate = try Certificate(derEncoded: fixture.der(.j))
        let installed = KeyMInstalledCertificates()
        #expect(KeyM.check(fixture.der(.j), slot: .j, installed: installed, now: certificate.notValidBefore).isValid)
        #expect(KeyM.check(fixture.der(.j), slot: .j, installed: installed, now: certificate.notValidAfter).isValid)
        let before = KeyM.check(fixture.der(.j), slot: .j, installed: installed, now: certificate.notValidBefore - 1)
        let after = KeyM.check(fixture.der(.j), slot: .j, installed: installed, now: certificate.notValidAfter + 1)
        #expect(before.status == .validityPeriodFail)
        #expect(after.status == .validityPeriodFail)
        #expect(after.reason.contains("expired"))
    }
}
