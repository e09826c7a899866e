import CloudSimulator
import Crypto
import Foundation
@testable import OwnerServices
import Testing

/// The token of a deep link `spaak://pair?vin=…&token=…`.
func token(of deepLink: String) -> String {
    String(deepLink.split(separator: "&token=").last ?? "")
}

@Suite("Owner services: deep links")
struct LinkTests {
    @Test("A link carries a one-time token; redeeming delivers the password; the database keeps only the token's hash",
          arguments: RepositoryKind.allCases)
    func redeem(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let secret = try #require(try bench.currentPassword()?.password)
        let link = try bench.services.createLink(vin: bench.vin, caller: alicePortal, date: testDate)
        #expect(link.deepLink.hasPrefix("spaak://pair?vin=\(bench.vin)&token="))
        #expect(link.expiresAt == testDate.addingTimeInterval(24 * 3600))
        let t = token(of: link.deepLink)
        #expect(PairingToken.isWellFormed(t) && !link.deepLink.contains(secret))
        let verifierId = try #require(try bench.currentPassword()).verifierId
        let stored = try bench.repository.transaction { try $0.pairingLinks(verifierId: verifierId) }
        #expect(stored.count == 1 && stored[0].tokenHash == Array(SHA256.hash(data: Array(t.utf8))) && stored[0].via == .app)
        let later = testDate.addingTimeInterval(600)
        let outcome = try bench.services.redeem(token: t, caller: alice, date: later)
        #expect(outcome.password.password == secret && outcome.password.vin == bench.vin && outcome.serial == bench.serial)
        #expect(outcome.password.deliveredAt == later)
        let record = try #require(try bench.currentPassword())
        #expect(record.state == .delivered && record.channel == .link && record.password == nil)
        #expect(try bench.repository.transaction { try $0.pairingLink(tokenHash: PairingToken.hash(t)) }?.redeemedAt == later)
        // Twice: gone.
        let again = failure { try bench.services.redeem(token: t, caller: alice, date: later) }
        #expect(again?.reason == .linkNotValid && again?.detail.contains("already redeemed") == true)
        #expect(try bench.services.vehicle(vin: bench.vin, caller: alice).password == .init(state: .delivered, channel: .link, deliveredAt: later))
        if let path = bench.sqlitePath {
            // Neither the password nor the token is anywhere in the file (secure_delete).
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(file.range(of: Data(secret.utf8)) == nil)
            #expect(file.range(of: Data(t.utf8)) == nil)
        }
    }

    @Test("A new link replaces the unredeemed one")
    func replacement() throws {
        let bench = try Bench.provisioned()
        let first = token(of: try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate).deepLink)
        let second = token(of: try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate.addingTimeInterval(5)).deepLink)
        #expect(first != second)
        let error = failure { try bench.services.redeem(token: first, caller: alice, date: testDate.addingTimeInterval(10)) }
        #expect(error?.reason == .linkNotValid && error?.detail.contains("replaced") == true)
        #expect(try bench.services.redeem(token: second, caller: alice, date: testDate.addingTimeInterval(10)).password.password.count == 8)
    }

    @Test("A link expires after 24 h")
    func expiry() throws {
        let bench = try Bench.provisioned()
        let t = token(of: try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate).deepLink)
        let error = failure { try bench.services.redeem(token: t, caller: alice, date: testDate.addingTimeInterval(24 * 3600)) }
        #expect(error?.reason == .linkNotValid && error?.detail.contains("expired") == true)
        #expect(try bench.currentPassword()?.state == .linkIssued)
        #expect(try bench.services.redeem(token: t, caller: alice, date: testDate.addingTimeInterval(24 * 3600 - 1)).password.password.count == 8)
    }

    @Test("Only the owner it was made for redeems it; an unknown or malformed token is refused")
    func otherUser() throws {
        let bench = try Bench.provisioned()
        let t = token(of: try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate).deepLink)
        let stranger = failure { try bench.services.redeem(token: t, caller: bob, date: testDate) }
        #expect(stranger?.reason == .notOwner && stranger?.detail == "bob is not the registered owner of \(bench.vin)")
        #expect(reason { try bench.services.redeem(token: String(repeating: "A", count: 43), caller: alice, date: testDate) } == .linkNotValid)
        #expect(reason { try bench.services.redeem(token: "short", caller: alice, date: testDate) } == .invalidRequest)
        #expect(reason { try bench.services.redeem(token: String(repeating: "+", count: 43), caller: alice, date: testDate) } == .invalidRequest)
        // The VIN changed hands: the link no longer works for its user either, nor for the new
        // owner; it was revoked and the password is available again (OwnerChangeTests).
        _ = try bench.services.registerOwner(vin: bench.vin, user: "bob", email: nil, date: testDate)
        let former = failure { try bench.services.redeem(token: t, caller: alice, date: testDate) }
        #expect(former?.reason == .notOwner && former?.detail.hasPrefix("alice no longer owns \(bench.vin)") == true)
        let newOwner = failure { try bench.services.redeem(token: t, caller: bob, date: testDate) }
        #expect(newOwner?.reason == .notOwner
                && newOwner?.detail == "the pairing link was made for a previous owner of \(bench.vin), not for bob")
        #expect(try bench.currentPassword()?.state == .available)
    }

    @Test("A link whose verifier was replaced is no longer valid", arguments: RepositoryKind.allCases)
    func verifierReplaced(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let t = token(of: try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate).deepLink)
        try bench.pushVerifier()
        let error = failure { try bench.services.redeem(token: t, caller: alice, date: testDate) }
        #expect(error?.reason == .linkNotValid && error?.detail.contains("verifier was replaced") == true)
        #expect(try bench.allPasswords().first?.state == .replaced)
        #expect(try bench.allPasswords().last?.state == .available)
    }

    @Test("A link of a password the owner paired with is no longer valid")
    func pairedLink() throws {
        let bench = try Bench.provisioned()
        let t = token(of: try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate).deepLink)
        try bench.reportPairing(.ownerKeyActive)
        let error = failure { try bench.services.redeem(token: t, caller: alice, date: testDate) }
        #expect(error?.reason == .linkNotValid && error?.detail.contains("paired") == true)
    }
}
