import CloudSimulator
import Foundation
@testable import OwnerServices
import Testing

@Suite("Owner services: no password or token in any refusal")
struct SecrecyTests {
    @Test("Every refusal along both channels is checked for the password and the tokens", arguments: RepositoryKind.allCases)
    func refusals(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let s = bench.services
        let vin = bench.vin
        let first = try #require(try bench.currentPassword()?.password)
        var errors: [OwnerServiceError?] = []
        let t1 = token(of: try s.createLink(vin: vin, caller: alice, date: testDate).deepLink)
        errors.append(failure { try s.requestPassword(vin: vin, caller: alice, date: testDate) })
        errors.append(failure { try s.confirmDelivery(vin: vin, deliveryId: String(repeating: "b", count: 32), caller: alice, date: testDate) })
        errors.append(failure { try s.redeem(token: t1, caller: bob, date: testDate) })
        errors.append(failure { try s.redeem(token: t1, caller: alice, date: testDate.addingTimeInterval(90_000)) })
        let t2 = token(of: try s.createLink(vin: vin, caller: alice, date: testDate.addingTimeInterval(1)).deepLink)
        errors.append(failure { try s.redeem(token: t1, caller: alice, date: testDate) })
        _ = try s.redeem(token: t2, caller: alice, date: testDate.addingTimeInterval(2))
        errors.append(failure { try s.redeem(token: t2, caller: alice, date: testDate.addingTimeInterval(3)) })
        errors.append(failure { try s.createLink(vin: vin, caller: alice, date: testDate) })
        errors.append(failure { try s.emailLink(vin: vin, caller: alicePortal, date: testDate) })
        errors.append(failure { try s.createHotlineRequest(vin: vin, caller: agent, date: testDate) })
        // The next password, on the app channel, and a failing outbox.
        try bench.pushVerifier()
        let second = try #require(try bench.currentPassword()?.password)
        errors.append(failure { try s.redeem(token: t2, caller: alice, date: testDate) })
        let handout = try s.requestPassword(vin: vin, caller: alice, date: testDate)
        errors.append(failure { try s.createLink(vin: vin, caller: alice, date: testDate) })
        errors.append(failure { try s.confirmDelivery(vin: vin, deliveryId: String(repeating: "c", count: 32), caller: alice, date: testDate) })
        _ = try s.confirmDelivery(vin: vin, deliveryId: handout.deliveryId, caller: alice, date: testDate)
        errors.append(failure { try s.requestPassword(vin: vin, caller: alice, date: testDate) })
        try bench.pushVerifier()
        let third = try #require(try bench.currentPassword()?.password)
        let request = try s.createHotlineRequest(vin: vin, caller: agent, date: testDate)
        bench.outbox.failing = true
        errors.append(failure { try s.emailLink(vin: vin, caller: alicePortal, date: testDate) })
        errors.append(failure { try s.authorizeHotlineRequest(id: request.id, caller: alice, date: testDate) })
        let failed = try s.hotlineRequest(id: request.id, caller: agent)
        #expect(errors.count == 15 && errors.allSatisfy { $0 != nil })
        let texts = errors.compactMap { $0.map { "\($0) \($0.detail)" } } + [failed.failure ?? ""]
        for secret in [first, second, third, t1, t2] {
            #expect(!texts.contains { $0.contains(secret) }, "\(secret.count)-character secret in a refusal")
        }
    }
}
