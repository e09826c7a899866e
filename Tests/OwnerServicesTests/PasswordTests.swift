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
