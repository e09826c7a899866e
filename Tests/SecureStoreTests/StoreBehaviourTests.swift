import Crypto
import Testing
@testable import SecureStore

/// The rules every store follows, checked on the in-memory store and on the file store
/// (in a simulated file system and on disk).
@Suite("Secure store behaviour")
struct StoreBehaviourTests {
    @Test("records round-trip, delete, and report their status", arguments: StoreKind.allCases)
    func recordRoundTrip(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        #expect(try store.read(.vin) == nil)
        #expect(store.status(.vin) == .absent)
        let vin = Array("VF3ABCDEF12345678".utf8)
        try store.write(.vin, vin)
        #expect(try store.read(.vin) == vin)
        #expect(store.status(.vin) == .present)
        try store.write(.vin, [])
        #expect(try store.read(.vin) == [])
        try store.write(.spake2Verifier, [1, 2, 3])
        #expect(try store.read(.spake2Verifier) == [1, 2, 3])
        try store.delete(.vin)
        #expect(try store.read(.vin) == nil)
        #expect(store.audit() == [.record(.spake2Verifier): .present])
        let custom = try #require(SecureStoreRecord(rawValue: "my_record-1"))
        try store.write(custom, [9])
        #expect(try store.read(custom) == [9])
    }

    @Test("record names are validated")
    func recordNames() {
        #expect(SecureStoreRecord(rawValue: "") == nil)
        #expect(SecureStoreRecord(rawValue: "../etc") == nil)
        #expect(SecureStoreRecord(rawValue: "a b") == nil)
        #expect(SecureStoreRecord(rawValue: String(repeating: "a", count: 65)) == nil)
        #expect(SecureStoreRecord(rawValue: "vin") == .vin)
    }

    @Test("a record above the size limit is refused", arguments: StoreKind.allCases)
    func sizeLimit(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        let limit = SecureStorePlanner.recordSizeLimit
        #expect(throws: SecureStoreError.recordTooLarge(.rootJ, size: limit + 1, limit: limit)) {
            try store.write(.rootJ, [UInt8](repeating: 1, count: limit + 1))
        }
        try store.write(.rootJ, [UInt8](repeating: 1, count: limit))
        #expect(try store.read(.rootJ)?.count == limit)
    }

    @Test("a generated key signs; the signature verifies with its public key", arguments: StoreKind.allCases)
    func signVerify(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        #expect(try store.publicKey(.ecuIdentity) == nil)
        #expect(throws: SecureStoreError.keyAbsent(.ecuIdentity)) { try store.sign(.ecuIdentity, message: [1]) }
        let publicKey = try store.generateKey(.ecuIdentity)
        #expect(x963(try store.publicKey(.ecuIdentity)) == x963(publicKey))
        let message = Array("SpaakRequest".utf8)
        let der = try store.sign(.ecuIdentity, message: message)
        let signature = try P256.Signing.ECDSASignature(derRepresentation: der)
        #expect(publicKey.isValidSignature(signature, for: message))
        #expect(!publicKey.isValidSignature(signature, for: message + [0]))
        let other = try store.generateKey(.vehicleIdentityPending)
        #expect(x963(other) != x963(publicKey))
        #expect(!other.isValidSignature(signature, for: message))
        try store.deleteKey(.ecuIdentity)
        #expect(try store.publicKey(.ecuIdentity) == nil)
        #expect(store.status(.ecuIdentity) == .absent)
    }

    @Test("PP-01: a pending key is promoted together with its certificate", arguments: StoreKind.allCases)
    func promotePending(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        let ca = TestCA()
        let oldKey = try store.generateKey(.vehicleIdentity)
        try store.write(.vehicleIdentityCertificate, try ca.certify(oldKey))
        let newKey = try store.generateKey(.vehicleIdentityPending)
        // The old identity keeps working while the new one is being certified.
        #expect(x963(try store.publicKey(.vehicleIdentity)) == x963(oldKey))
        let newCertificate = try ca.certify(newKey)
        // Installing the new certificate without the key swap is refused.
        #expect(throws: SecureStoreError.certificateDoesNotMatchKey(.vehicleIdentityCertificate, .vehicleIdentity)) {
            try store.write(.vehicleIdentityCertificate, newCertificate)
        }
        try store.commit([.promotePendingKey(.vehicleIdentity), .write(.vehicleIdentityCertificate, newCertificate)])
        #expect(x963(try store.publicKey(.vehicleIdentity)) == x963(newKey))
        #expect(try store.publicKey(.vehicleIdentityPending) == nil)
        #expect(try store.read(.vehicleIdentityCertificate) == newCertificate)
        #expect(throws: SecureStoreError.keyAbsent(.vehicleIdentityPending)) {
            try store.commit([.promotePendingKey(.vehicleIdentity)])
        }
        #expect(throws: SecureStoreError.invalidOperation("vehicle-identity-pending is a pending slot; promote its active slot")) {
            try store.commit([.promotePendingKey(.vehicleIdentityPending)])
        }
    }

    @Test("an identity certificate always carries its key", arguments: StoreKind.allCases)
    func certificateBinding(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        let ca = TestCA()
        let mismatch = SecureStoreError.certificateDoesNotMatchKey(.ecuIdentityCertificate, .ecuIdentity)
        let stranger = try ca.certify(P256.Signing.PrivateKey().publicKey)
        #expect(throws: mismatch) { try store.write(.ecuIdentityCertificate, stranger) }
        let key = try store.generateKey(.ecuIdentity)
        #expect(throws: mismatch) { try store.write(.ecuIdentityCertificate, stranger) }
        #expect(throws: mismatch) { try store.write(.ecuIdentityCertificate, [0x30, 0x00]) }
        let certificate = try ca.certify(key)
        try store.write(.ecuIdentityCertificate, certificate)
        // Neither the key can go nor be replaced while the certificate stays.
        #expect(throws: mismatch) { try store.deleteKey(.ecuIdentity) }
        #expect(throws: mismatch) { try store.generateKey(.ecuIdentity) }
        #expect(x963(try store.publicKey(.ecuIdentity)) == x963(key))
        // A failed commit changes nothing, even the operations before the failing check.
        #expect(throws: mismatch) { try store.commit([.write(.vin, [1]), .generateKey(.ecuIdentity)]) }
        #expect(try store.read(.vin) == nil)
        // RP-02 again: new key, certificate and CSR removed, in one commit.
        try store.commit([.generateKey(.ecuIdentity), .delete(.ecuIdentityCertificate), .delete(.ecuIdentityCSR)])
        #expect(x963(try store.publicKey(.ecuIdentity)) != x963(key))
        #expect(try store.read(.ecuIdentityCertificate) == nil)
        // Other certificates are not bound.
        try store.write(.rootJ, stranger)
    }

    @Test("a corrupt record is reported, never used, replaced only on request", arguments: StoreKind.allCases)
    func corruptRecord(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        try store.writeCounter(.c2vCounter, 41)
        try sut.damage(.record(.c2vCounter))
        guard case .corrupt = store.status(.c2vCounter) else {
            Issue.record("damage not detected: \(store.status(.c2vCounter))")
            return
        }
        #expect(throws: SecureStoreError.self) { try store.read(.c2vCounter) }
        #expect(throws: SecureStoreError.self) { try store.incrementCounter(.c2vCounter) }
        #expect(throws: SecureStoreError.self) { try store.writeCounter(.c2vCounter, 0) }
        #expect(store.status(.c2vCounter) != .present)
        if case .corrupt? = store.audit()[.record(.c2vCounter)] {} else { Issue.record("audit misses the damage") }
        try store.write(.c2vCounter, [0, 0, 0, 0, 0, 0, 0, 42], replacingCorrupt: true)
        #expect(try store.readCounter(.c2vCounter) == 42)
        try sut.damage(.record(.c2vCounter))
        try store.delete(.c2vCounter)
        #expect(store.status(.c2vCounter) == .absent)
    }

    @Test("a corrupt key is never used", arguments: StoreKind.allCases)
    func corruptKey(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        try store.generateKey(.vehicleIdentityPending)
        try sut.damage(.key(.vehicleIdentityPending))
        #expect(throws: SecureStoreError.self) { try store.publicKey(.vehicleIdentityPending) }
        #expect(throws: SecureStoreError.self) { try store.sign(.vehicleIdentityPending, message: [1]) }
        #expect(throws: SecureStoreError.self) { try store.makeCSR(.vehicleIdentityPending, commonName: "x") }
        #expect(throws: SecureStoreError.self) { try store.commit([.promotePendingKey(.vehicleIdentity)]) }
        #expect(try store.publicKey(.vehicleIdentity) == nil)
        // Generating a new key is an explicit replacement.
        try store.generateKey(.vehicleIdentityPending)
        #expect(store.status(.vehicleIdentityPending) == .present)
    }

    @Test("counters count, start from absent, and refuse to wrap", arguments: StoreKind.allCases)
    func counters(kind: StoreKind) throws {
        let sut = try StoreUnderTest(kind)
        defer { withExtendedLifetime(sut) {} }
        let store = sut.store
        #expect(try store.readCounter(.v2cCounter) == nil)
        #expect(try store.incrementCounter(.v2cCounter) == 1)
        #expect(try store.incrementCounter(.v2cCounter) == 2)
        #expect(try store.read(.v2cCounter) == [0, 0, 0, 0, 0, 0, 0, 2])
        try store.writeCounter(.v2cCounter, UInt64.max)
        #expect(throws: SecureStoreError.self) { try store.incrementCounter(.v2cCounter) }
        try store.write(.v2cCounter, [1, 2, 3])
        #expect(throws: SecureStoreError.corrupt(.record(.v2cCounter), reason: "a counter holds 8 bytes, found 3")) {
            try store.readCounter(.v2cCounter)
        }
    }
}
