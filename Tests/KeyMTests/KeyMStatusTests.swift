import Crypto
import Foundation
import KeyM
import Testing
import TestPKI
import X509

@Suite("KeyM status of all slots (DID 0xD120, routine 0xD202)")
struct KeyMStatusTests {
    let fixture: Fixture

    init() throws { fixture = try Fixture() }

    @Test("raw values and names follow AUTOSAR KeyM and ICD 5.2")
    func rawValues() {
        #expect(KeyMCertificateStatus.allCases.map(\.rawValue) == [0, 1, 4, 5, 6, 7, 8, 9])
        #expect(KeyMCertificateStatus.invalidChainOfTrust.description == "KEYM_E_CERTIFICATE_INVALID_CHAIN_OF_TRUST")
        #expect(KeyMCertificateSlot.allCases.map(\.did) == [0xD110, 0xD111, 0xD112, 0xD113, 0xD114, 0xD101, 0xD121])
        #expect(KeyMCertificateSlot.root(forDID: 0xD113) == .z1)
        #expect(KeyMCertificateSlot.root(forDID: 0xD101) == nil)
    }

    @Test("nothing installed: all NOT_AVAILABLE")
    func empty() {
        #expect(KeyM.statusBytes(KeyMInstalledCertificates(), now: testNow) == statuses(4, 4, 4, 4, 4, 4, 4))
    }

    @Test("roots only, then everything")
    func provisioned() {
        #expect(KeyM.statusBytes(fixture.installed(KeyMCertificateSlot.roots), now: testNow) == statuses(0, 0, 0, 0, 0, 4, 4))
        #expect(KeyM.statusBytes(fixture.installed(), now: testNow) == statuses(0, 0, 0, 0, 0, 0, 0))
    }

    @Test("[J] replaced by another hierarchy's root of the same name: J1 and Z1 fail their signature, the rest their chain")
    func rootReplaced() throws {
        let other = try TestPKIHierarchy.generate(now: testNow, validityDays: 365)
        var installed = fixture.installed()
        installed[.j] = other[.j].der
        #expect(KeyM.statusBytes(installed, now: testNow) == statuses(0, 6, 0, 6, 7, 7, 7))
        let results = KeyM.checkAll(installed, now: testNow)
        #expect(results[1].reason.contains("[J1]: signature does not verify with the key of [J]"))
        #expect(results[4].reason.contains("[ZZ2]: issuer [Z1] is not valid"))
    }

    @Test("after the end and before the start of validity")
    func outsideValidity() {
        let installed = fixture.installed()
        #expect(KeyM.statusBytes(installed, now: testNow + 400 * 86_400) == statuses(5, 7, 5, 7, 7, 7, 7))
        #expect(KeyM.statusBytes(installed, now: testNow - 2 * 86_400) == statuses(5, 7, 5, 7, 7, 7, 7))
    }

    @Test("garbage in [J1]: J1 invalid format, the identities lose their chain")
    func garbageInJ1() {
        var installed = fixture.installed()
        installed[.j1] = [0x30, 0x03, 0x02, 0x01, 0x00]
        #expect(KeyM.statusBytes(installed, now: testNow) == statuses(0, 9, 0, 0, 0, 7, 7))
    }

    @Test("an identity certificate without the matching key pair: INVALID")
    func identityWithoutKey() {
        var installed = fixture.installed()
        installed.ecuIdentityPublicKey = nil
        installed.vehiclePublicKey = P256.Signing.PrivateKey().publicKey
        #expect(KeyM.statusBytes(installed, now: testNow) == statuses(0, 0, 0, 0, 0, 1, 1))
    }

    @Test("the ECU identity and [K] checks take the expected key explicitly")
    func explicitKeys() {
        let installed = fixture.installed(KeyMCertificateSlot.roots)
        let ecu = fixture.der(.ecuIdentity)
        let k = fixture.der(.vehicleIdentity)
        #expect(KeyM.checkECUIdentityCertificate(ecu, publicKey: fixture.ecuKey.publicKey, installed: installed, now: testNow).isValid)
        #expect(KeyM.checkECUIdentityCertificate(ecu, publicKey: fixture.vehicleKey.publicKey, installed: installed, now: testNow).status == .invalid)
        #expect(KeyM.checkVehicleIdentityCertificate(k, publicKey: fixture.vehicleKey.publicKey, installed: installed, now: testNow).isValid)
        #expect(KeyM.checkVehicleIdentityCertificate(k, publicKey: nil, installed: installed, now: testNow).status == .invalid)
        // [K] must come from [J1]: a certificate issued under [Z1] is not accepted
        let vos = fixture.pki[.vos].der
        #expect(KeyM.checkVehicleIdentityCertificate(vos, publicKey: fixture.pki[.vos].key.publicKey, installed: installed, now: testNow).status == .invalidChainOfTrust)
    }

    @Test("an empty byte array in a slot counts as not installed")
    func emptyIsNotInstalled() {
        var installed = fixture.installed()
        installed[.zz2] = []
        #expect(KeyM.statusBytes(installed, now: testNow) == statuses(0, 0, 0, 0, 4, 0, 0))
    }
}
