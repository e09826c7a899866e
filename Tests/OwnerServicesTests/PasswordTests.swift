import CloudProtocol
import CloudSimulator
import Foundation
@testable import OwnerServices
import Testing

@Suite("Owner services: OP-01a, the app channel")
struct PasswordTests {
    @Test("Handed out, retried, confirmed, confirmed again; the VOS forgets the password", arguments: RepositoryKind.allCases)
    func lifecycle(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        #expect(try bench.currentPassword()?.state == .available)
        let first = try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        #expect(first.password.count == 8 && first.password.allSatisfy(\.isNumber))
        #expect(OwnerSyntax.isHexId(first.deliveryId) && first.handedOutAt == testDate)
        #expect(try bench.currentPassword()?.state == .handedOut)
        // The answer was lost: the same password and delivery id again.
        let again = try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate.addingTimeInterval(30))
        #expect(again == first)
        let confirmed = try bench.services.confirmDelivery(vin: bench.vin, deliveryId: first.deliveryId, caller: alice,
                                                          date: testDate.addingTimeInterval(60))
        #expect(confirmed.newlyDelivered && confirmed.serial == bench.serial)
        #expect(confirmed.delivery.channel == .app && confirmed.delivery.deliveredAt == testDate.addingTimeInterval(60))
        let stored = try #require(try bench.currentPassword())
        #expect(stored.state == .delivered && stored.password == nil)
        // Idempotent.
        let repeated = try bench.services.confirmDelivery(vin: bench.vin, deliveryId: first.deliveryId, caller: alice,
                                                         date: testDate.addingTimeInterval(90))
        #expect(!repeated.newlyDelivered && repeated.delivery.deliveredAt == confirmed.delivery.deliveredAt)
        // Delivered once only.
        let refused = failure { try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate) }
        #expect(refused?.reason == .passwordAlreadyDelivered)
        #expect(refused?.detail.contains(first.password) == false)
        let view = try bench.services.vehicle(vin: bench.vin, caller: alice)
        #expect(view.password.state == .delivered && view.password.channel == .app && view.serviceProvisioned)
    }
}

@Suite("Owner services: the password lifecycle and the VOS's hooks")
struct LifecycleTests {
    @Test("Confirmation with another id, before any handout, or malformed")
    func confirmationRefusals() throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        let other = String(repeating: "0", count: 32)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: other, caller: alice, date: testDate) } == .unknownDelivery)
        let handout = try s.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: other, caller: alice, date: testDate) } == .unknownDelivery)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId.uppercased(), caller: alice,
                                               date: testDate) } == .invalidRequest)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: bob, date: testDate) } == .notOwner)
        #expect(try bench.currentPassword()?.state == .handedOut)
        _ = try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: alice, date: testDate)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: other, caller: alice, date: testDate) } == .unknownDelivery)
    }

    @Test("A new verifier ends the earlier password (replaced, forgotten) and brings a new one", arguments: RepositoryKind.allCases)
    func newVerifierReplaces(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let first = try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        try bench.pushVerifier()
        let passwords = try bench.allPasswords()
        #expect(passwords.count == 2)
        #expect(passwords[0].state == .replaced && passwords[0].password == nil && passwords[0].endedAt == testDate)
        #expect(passwords[1].state == .available && passwords[1].password != nil)
        // The old delivery id is gone with its password; the new password is handed out afresh.
        #expect(reason { try bench.services.confirmDelivery(vin: bench.vin, deliveryId: first.deliveryId, caller: alice,
                                                             date: testDate) } == .unknownDelivery)
        let second = try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        #expect(second.deliveryId != first.deliveryId)
    }

    @Test("An owner key reported (0x0D state 2 or 3) ends the current password: paired", arguments: [OwnerPairingState.ownerKeyPending, .ownerKeyActive])
    func pairingEnds(state: OwnerPairingState) throws {
        let bench = try Bench.provisioned()
        let handout = try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        _ = try bench.services.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: alice, date: testDate)
        try bench.reportPairing(.windowOpen)
        #expect(try bench.currentPassword()?.state == .delivered)  // no owner key yet
        bench.date = testDate.addingTimeInterval(120)
        try bench.reportPairing(state)
        let password = try #require(try bench.currentPassword())
        #expect(password.state == .paired && password.endedAt == bench.date && password.password == nil)
        let view = try bench.services.vehicle(vin: bench.vin, caller: alice)
        #expect(view.password.state == .paired && view.verifier.state == .consumed)
        let error = failure { try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate) }
        #expect(error?.reason == .passwordAlreadyDelivered && error?.detail.contains("owner key") == true)
    }

    @Test("An owner key also ends a password never delivered through the services")
    func pairingEndsAvailable() throws {
        let bench = try Bench.provisioned()
        try bench.reportPairing(.ownerKeyActive)
        #expect(try bench.currentPassword()?.state == .paired)
        #expect(try bench.currentPassword()?.password == nil)
        #expect(reason { try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate) } == .passwordAlreadyDelivered)
    }

    @Test("ctl password keeps working within the lifecycle: refused while the services deliver, a delivery of its own otherwise")
    func operatorDelivery() throws {
        let bench = try Bench.provisioned()
        _ = try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        var refusal = ""
        do { _ = try bench.vos.handOutPassword(serial: bench.serial, date: testDate) } catch { refusal = "\(error)" }
        #expect(refusal.contains("delivery channel conflict"))
        #expect(try bench.currentPassword()?.state == .handedOut)
        try bench.pushVerifier()
        _ = try bench.services.createLink(vin: bench.vin, caller: alice, date: testDate)
        #expect(throws: VOSCommandError.self) { try bench.vos.handOutPassword(serial: bench.serial, date: testDate) }
        try bench.pushVerifier()
        let password = try bench.vos.handOutPassword(serial: bench.serial, date: testDate)
        #expect(password.count == 8)
        let record = try #require(try bench.currentPassword())
        #expect(record.state == .delivered && record.channel == .operator && record.password == nil)
        let view = try bench.services.vehicle(vin: bench.vin, caller: alice)
        #expect(view.password.state == .delivered && view.password.channel == nil)
        #expect(reason { try bench.services.requestPassword(vin: bench.vin, caller: alice, date: testDate) } == .passwordAlreadyDelivered)
    }

    @Test("An owner key termination ends the password of the revoked verifier")
    func terminationEnds() throws {
        let bench = try Bench.provisioned()
        _ = try bench.vos.terminateOwnerKey(serial: bench.serial, date: testDate)
        let record = try #require(try bench.currentPassword())
        #expect(record.state == .replaced && record.password == nil)
        #expect(try bench.services.vehicle(vin: bench.vin, caller: alice).password.state == .replaced)
    }
}
