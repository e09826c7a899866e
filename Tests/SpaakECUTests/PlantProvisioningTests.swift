import Crypto
import Foundation
import KeyM
import SecureStore
import SwiftASN1
import SpaakCore
import TestPKI
import Testing
import X509
@testable import SpaakECU

/// RP-01 and RP-02 through UDS, as the EOL tester does them, with a store in memory.
@Suite struct PlantProvisioningTests {
    static let pki = try! TestPKIHierarchy.generate(now: ModuleHarness.wallTime)
    static let vin = Array("ZFA25000001234567".utf8)
    static let roots: [(UInt16, TestPKIRole)] = [(0xD110, .j), (0xD111, .j1), (0xD112, .jPhysicalKey), (0xD113, .z1), (0xD114, .zz2)]

    /// The whole plant flow of the EOL tester; returns the ECU identity certificate (DER).
    static func plant(_ h: ModuleHarness) throws -> [UInt8] {
        let t = PlantProvisioningTests()
        h.unlock()
        t.provisionRoots(h)
        _ = t.write(h, 0xF190, vin)
        let certificate = try t.provisionIdentity(h)
        #expect(t.write(h, 0xD101, certificate) == [0x6E, 0xD1, 0x01])
        #expect(h.uds([0x31, 0x01, 0xD2, 0x01]) == [0x71, 0x01, 0xD2, 0x01, 0x00])
        _ = h.uds([0x10, 0x01])
        return certificate
    }

    func write(_ h: ModuleHarness, _ did: UInt16, _ data: [UInt8]) -> [UInt8] {
        h.uds([0x2E] + did.bigEndianBytes + data)
    }

    func provisionRoots(_ h: ModuleHarness) {
        for (did, role) in Self.roots { #expect(write(h, did, Self.pki[role].der) == [0x6E] + did.bigEndianBytes) }
    }

    /// Generates the key pair, reads the CSR, has the PKI sign it and writes it back.
    func provisionIdentity(_ h: ModuleHarness) throws -> [UInt8] {
        #expect(h.uds([0x31, 0x01, 0xD2, 0x00]) == [0x71, 0x01, 0xD2, 0x00, 0x00])
        let csrResponse = h.uds([0x22, 0xD1, 0x00])
        #expect(csrResponse.prefix(3) == [0x62, 0xD1, 0x00])
        let csr = try CertificateSigningRequest(derEncoded: Array(csrResponse.dropFirst(3)))
        #expect(csr.subject.description.contains("CN=SPK0000000001"))
        #expect(csr.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        let certificate = try Self.pki.issueECUIdentityCertificate(csr: csr, now: ModuleHarness.wallTime)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    @Test func completePlantProvisioningAndLock() throws {
        let h = ModuleHarness()
        h.unlock()
        provisionRoots(h)
        #expect(write(h, 0xF190, Self.vin) == [0x6E, 0xF1, 0x90])
        let certificate = try provisionIdentity(h)
        #expect(write(h, 0xD101, certificate) == [0x6E, 0xD1, 0x01])
        #expect(h.uds([0x31, 0x01, 0xD2, 0x01]) == [0x71, 0x01, 0xD2, 0x01, 0x00])
        // Flags: roots, key+CSR, ECU certificate, locked; KeyM: five roots and ECU VALID, [K] NOT_AVAILABLE.
        #expect(h.uds([0x22, 0xD1, 0x20]) == [0x62, 0xD1, 0x20, 0x0F, 0, 0, 0, 0, 0, 0, 4])
        #expect(h.uds([0x31, 0x01, 0xD2, 0x02]) == [0x71, 0x01, 0xD2, 0x02, 0, 0, 0, 0, 0, 0, 4])
        // After the lock every plant write answers 0x22, for good (also after a restart).
        #expect(write(h, 0xD110, Self.pki[.j].der) == [0x7F, 0x2E, 0x22])
        #expect(write(h, 0xF190, Self.vin) == [0x7F, 0x2E, 0x22])
        #expect(h.uds([0x31, 0x01, 0xD2, 0x00]) == [0x7F, 0x31, 0x22])
        h.restart()
        h.unlock()
        #expect(write(h, 0xD111, Self.pki[.j1].der) == [0x7F, 0x2E, 0x22])
        #expect(h.uds([0x22, 0xD1, 0x20]) == [0x62, 0xD1, 0x20, 0x0F, 0, 0, 0, 0, 0, 0, 4])
        #expect(h.frames(on: 0x3A8).last?.data[2] == 0x0F)
    }

    @Test func writesNeedSecurityAccess() {
        let h = ModuleHarness()
        #expect(write(h, 0xD110, Self.pki[.j].der) == [0x7F, 0x2E, 0x7F])
        _ = h.uds([0x10, 0x03])
        #expect(write(h, 0xD110, Self.pki[.j].der) == [0x7F, 0x2E, 0x33])
        #expect(h.uds([0x31, 0x01, 0xD2, 0x00]) == [0x7F, 0x31, 0x33])
    }

    @Test func badCertificatesAnswer0x31AndLeaveTheSlot() throws {
        let h = ModuleHarness()
        h.unlock()
        #expect(write(h, 0xD111, Self.pki[.j1].der) == [0x7F, 0x2E, 0x31])   // J1 before J: no chain
        provisionRoots(h)
        let now = ModuleHarness.wallTime
        let other = try TestPKIHierarchy.generate(now: now)
        let bad: [(UInt16, [UInt8])] = [
            (0xD110, [0x30, 0x03, 0x02, 0x01, 0x00]),                                         // garbage DER
            (0xD111, other[.j1].der),                                                          // wrong issuer
            (0xD111, try Self.pki.defectiveDER(.caWithoutKeyCertSign, role: .j1, now: now)),
            (0xD114, try Self.pki.defectiveDER(.leafWithoutDigitalSignature, role: .zz2, now: now)),
            (0xD113, try Self.pki.defectiveDER(.expired, role: .z1, now: now)),
            (0xD112, try Self.pki.defectiveDER(.wrongCurve, role: .jPhysicalKey, now: now)),
        ]
        for (did, der) in bad {
            #expect(write(h, did, der) == [0x7F, 0x2E, 0x31])
        }
        for (did, role) in Self.roots {
            #expect(h.uds([0x22] + did.bigEndianBytes) == [0x62] + did.bigEndianBytes + Self.pki[role].der)
        }
        // An ECU certificate for another key.
        _ = try provisionIdentity(h)
        let foreign = try Self.pki.defectiveLeafDER(.otherKey, commonName: "SPK0000000001",
                                                    publicKey: P256.Signing.PrivateKey().publicKey, now: now)
        #expect(write(h, 0xD101, foreign) == [0x7F, 0x2E, 0x31])
        #expect(h.uds([0x22, 0xD1, 0x01]) == [0x7F, 0x22, 0x22])
    }

    @Test func orderAndConditions() {
        let h = ModuleHarness()
        #expect(h.uds([0x22, 0xD1, 0x00]) == [0x7F, 0x22, 0x22])              // CSR before generation
        h.unlock()
        #expect(h.uds([0x31, 0x03, 0xD2, 0x00]) == [0x7F, 0x31, 0x24])         // results before start
        #expect(h.uds([0x31, 0x01, 0xD2, 0x01]) == [0x7F, 0x31, 0x22])         // lock before prerequisites
        #expect(write(h, 0xF190, Array("ZFA2500000123456O".utf8)) == [0x7F, 0x2E, 0x31])  // 'O' is no VIN character
    }

    @Test func slowSecureElementAnswersResponsePendingFirst() {
        var config = ECUConfiguration(serial: "SPK0000000001")
        config.hsmLatency = .milliseconds(300)
        let h = ModuleHarness(configuration: config)
        h.unlock()
        let start = h.clock.now
        let responses = h.exchange([0x31, 0x01, 0xD2, 0x00])
        #expect(responses == [[0x7F, 0x31, 0x78], [0x71, 0x01, 0xD2, 0x00, 0x00]])
        #expect(h.clock.now - start == .milliseconds(300))
        #expect(h.uds([0x31, 0x03, 0xD2, 0x00]) == [0x71, 0x03, 0xD2, 0x00, 0x00, 0x00])
    }

    @Test func storeFailureAnswers0x72AndChangesNothing() {
        let store = InMemorySecureStore()
        let h = ModuleHarness(store: store)
        h.unlock()
        store.commitFailure = .io(operation: "write", path: "cert-J", errno: 28)
        #expect(write(h, 0xD110, Self.pki[.j].der) == [0x7F, 0x2E, 0x72])
        store.commitFailure = nil
        #expect(h.uds([0x22, 0xD1, 0x10]) == [0x7F, 0x22, 0x22])
    }

    @Test func securityLockoutSurvivesRestart() {
        let h = ModuleHarness()
        _ = h.uds([0x10, 0x03])
        for expected: UInt8 in [0x35, 0x35, 0x36] {
            _ = h.uds([0x27, 0x01])
            #expect(h.uds([0x27, 0x02] + Array(repeating: 0, count: 16)) == [0x7F, 0x27, expected])
        }
        #expect(h.uds([0x27, 0x01]) == [0x7F, 0x27, 0x37])
        h.restart()
        _ = h.uds([0x10, 0x03])
        #expect(h.uds([0x27, 0x01]) == [0x7F, 0x27, 0x37])
        h.advance(by: .seconds(10))
        _ = h.uds([0x10, 0x03])
        #expect(h.uds([0x27, 0x01]).prefix(2) == [0x67, 0x01])
    }

    @Test func damagedRootIsReportedAsInvalidFormatAndNotUsed() {
        let store = InMemorySecureStore()
        let h = ModuleHarness(store: store)
        h.unlock()
        provisionRoots(h)
        store.injectCorruption(.record(.rootZ1))
        h.restart()
        #expect(h.uds([0x22, 0xD1, 0x13]) == [0x7F, 0x22, 0x22])
        let status = h.uds([0x22, 0xD1, 0x20])
        #expect(status[3] & 0x01 == 0)
        #expect(status[4 + 3] == 9)
    }
}
