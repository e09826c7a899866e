import CloudSimulator
import Foundation
@testable import OwnerServices
import Testing

/// The VIN changes hands (`registerOwner` with another user): nothing the previous owner was
/// given may reach the new one, nor stay usable by the previous one.
@Suite("Owner services: owner change")
struct OwnerChangeTests {
    static let later = testDate.addingTimeInterval(600)

    @Test("A password handed to the previous owner's app is withdrawn: 409 not provisioned until a new verifier",
          arguments: RepositoryKind.allCases)
    func handedOutWithdrawn(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let s = bench.services
        let handout = try s.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        let registration = try s.registerOwner(vin: bench.vin, user: "bob", email: nil, date: Self.later)
        let change = try #require(registration.ownerChange)
        #expect(change.previousUser == "alice" && change.withdrawnPasswords == 1 && change.revokedLinks == 0)
        #expect(change.reopenedPasswords == 0 && change.failedHotlineRequests == 0)
        #expect(change.summary.hasPrefix("previous owner alice: handed-out password withdrawn"))
        let record = try #require(try bench.currentPassword())
        #expect(record.state == .withdrawn && record.password == nil && record.endedAt == Self.later && record.deliveredAt == nil)
        // The new owner: neither the password, nor a link, nor an e-mail; the detail says why and what helps.
        let calls: [() throws -> Any] = [
            { try s.requestPassword(vin: bench.vin, caller: bob, date: Self.later) },
            { try s.createLink(vin: bench.vin, caller: bob, date: Self.later) },
            { try s.emailLink(vin: bench.vin, caller: Caller(user: "bob", role: .portal), date: Self.later) },
            { try s.createHotlineRequest(vin: bench.vin, caller: agent, date: Self.later) },
            { try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: bob, date: Self.later) },
        ]
        for call in calls {
            let error = failure(call)
            #expect(error?.reason == .serviceNotProvisioned)
            #expect(error?.detail.contains("withdrawn when the vehicle changed owner") == true, "\(error?.detail ?? "-")")
            #expect(error?.detail.contains("push-verifier \(bench.serial)") == true && error?.detail.contains("PP-03") == true)
            #expect(error?.detail.contains(handout.password) == false)
        }
        #expect(bench.outbox.messages.isEmpty)
        // The previous owner: not the owner any more, the confirmation included.
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: alice, date: Self.later) }
                == .notOwner)
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: alice, date: Self.later) } == .notOwner)
        let view = try s.vehicle(vin: bench.vin, caller: bob)
        #expect(view.password.state == .withdrawn && !view.serviceProvisioned && view.owner == "bob")
        if let path = bench.sqlitePath {
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(file.range(of: Data(handout.password.utf8)) == nil, "the withdrawn password is still in the file")
        }
        // A new verifier replaces it as usual: the new owner gets the new password.
        bench.date = Self.later
        try bench.pushVerifier()
        #expect(try bench.allPasswords().map(\.state) == [.withdrawn, .available])
        let next = try s.requestPassword(vin: bench.vin, caller: bob, date: Self.later)
        #expect(next.password != handout.password && next.deliveryId != handout.deliveryId)
        #expect(try s.confirmDelivery(vin: bench.vin, deliveryId: next.deliveryId, caller: bob, date: Self.later).newlyDelivered)
    }

    @Test("Link issued: the previous owner's links are revoked, the password is available to the new owner on either channel",
          arguments: RepositoryKind.allCases)
    func linkIssuedReopened(kind: RepositoryKind) throws {
        for channel in [DeliveryChannel.app, .link] {
            let bench = try Bench.provisioned(kind)
            let s = bench.services
            let secret = try #require(try bench.currentPassword()?.password)
            _ = try s.createLink(vin: bench.vin, caller: alice, date: testDate)
            let mailed = try s.emailLink(vin: bench.vin, caller: alicePortal, date: testDate)
            let mail = try ParsedMail(try #require(bench.outbox.messages.last).data)
            let t = token(of: try #require(mail.body.first { $0.hasPrefix("spaak://pair?") }))
            let change = try #require(try s.registerOwner(vin: bench.vin, user: "bob", email: nil, date: Self.later).ownerChange)
            #expect(change.revokedLinks == 1 && change.reopenedPasswords == 1 && change.withdrawnPasswords == 0)
            #expect(change.summary == "previous owner alice: 1 link revoked; link-issued password available again")
            let record = try #require(try bench.currentPassword())
            #expect(record.state == .available && record.channel == nil && record.password == secret)
            let stored = try bench.repository.transaction { try $0.pairingLink(tokenHash: PairingToken.hash(t)) }
            #expect(stored?.replacedAt == Self.later && stored?.expiresAt == mailed.expiresAt)
            // Redemption: the previous owner is told that the vehicle is no longer theirs; the new
            // owner that the link was made for someone else (whose name is not disclosed).
            let former = failure { try s.redeem(token: t, caller: alice, date: Self.later) }
            #expect(former?.reason == .notOwner)
            #expect(former?.detail == "alice no longer owns \(bench.vin): the vehicle changed owner after the pairing link was made for alice")
            let current = failure { try s.redeem(token: t, caller: bob, date: Self.later) }
            #expect(current?.reason == .notOwner)
            #expect(current?.detail == "the pairing link was made for a previous owner of \(bench.vin), not for bob")
            let stranger = failure { try s.redeem(token: t, caller: Caller(user: "carol", role: .owner), date: Self.later) }
            #expect(stranger?.reason == .notOwner && stranger?.detail == "carol is not the registered owner of \(bench.vin)")
            #expect(try s.vehicle(vin: bench.vin, caller: bob).password == .init(state: .available, channel: nil, deliveredAt: nil))
            switch channel {
            case .app:
                #expect(try s.requestPassword(vin: bench.vin, caller: bob, date: Self.later).password == secret)
            case .link:
                let link = try s.createLink(vin: bench.vin, caller: bob, date: Self.later)
                #expect(try s.redeem(token: token(of: link.deepLink), caller: bob, date: Self.later).password.password == secret)
            }
        }
    }

    @Test("Hotline requests awaiting the previous owner's authorization fail; a sent one stays", arguments: RepositoryKind.allCases)
    func hotlineRequestsFail(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let s = bench.services
        let sent = try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate)
        let authorized = try s.authorizeHotlineRequest(id: sent.id, caller: alice, date: testDate)
        let waiting = try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate.addingTimeInterval(1))
        let change = try #require(try s.registerOwner(vin: bench.vin, user: "bob", email: nil, date: Self.later).ownerChange)
        #expect(change.failedHotlineRequests == 1 && change.revokedLinks == 1 && change.reopenedPasswords == 1)
        #expect(change.summary == "previous owner alice: 1 link revoked; link-issued password available again; 1 hotline request failed")
        let failed = try s.hotlineRequest(id: waiting.id, caller: agent)
        #expect(failed.state == .failed && failed.failure == "the vehicle changed owner" && failed.authorizedAt == nil)
        #expect(try s.hotlineRequest(id: sent.id, caller: agent) == authorized)
        #expect(reason { try s.authorizeHotlineRequest(id: waiting.id, caller: bob, date: Self.later) } == .requestNotPending)
        #expect(reason { try s.authorizeHotlineRequest(id: waiting.id, caller: alice, date: Self.later) } == .notOwner)
        #expect(bench.outbox.messages.count == 1)
        // A new request for the new owner works as usual.
        let fresh = try s.createHotlineRequest(vin: bench.vin, caller: agent, date: Self.later)
        #expect(try s.authorizeHotlineRequest(id: fresh.id, caller: bob, date: Self.later).state == .sent)
    }

    @Test("Delivered and paired passwords stay as they are", arguments: RepositoryKind.allCases)
    func endedUnchanged(kind: RepositoryKind) throws {
        let delivered = try Bench.provisioned(kind)
        let handout = try delivered.services.requestPassword(vin: delivered.vin, caller: alice, date: testDate)
        _ = try delivered.services.confirmDelivery(vin: delivered.vin, deliveryId: handout.deliveryId, caller: alice, date: testDate)
        let paired = try Bench.provisioned(kind)
        try paired.reportPairing(.ownerKeyActive)
        for bench in [delivered, paired] {
            let before = try bench.allPasswords()
            let change = try #require(try bench.services.registerOwner(vin: bench.vin, user: "bob", email: nil, date: Self.later).ownerChange)
            #expect(change == OwnerChange(OwnerChangeRecord(previousUser: "alice")))
            #expect(try bench.allPasswords() == before)
            #expect(reason { try bench.services.requestPassword(vin: bench.vin, caller: bob, date: Self.later) } == .passwordAlreadyDelivered)
        }
    }

    @Test("The same user again (another e-mail address) changes nothing under way", arguments: RepositoryKind.allCases)
    func sameUser(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let s = bench.services
        let handout = try s.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        let registration = try s.registerOwner(vin: bench.vin, user: "alice", email: "alice@example.test", date: Self.later)
        #expect(registration.ownerChange == nil && registration.email == "alice@example.test")
        #expect(try s.requestPassword(vin: bench.vin, caller: alice, date: Self.later) == handout)
        #expect(try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: alice, date: Self.later).newlyDelivered)
    }
}
