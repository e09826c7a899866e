import CloudProtocol
import CloudSimulator
import Foundation
@testable import OwnerServices
import Testing

/// The checks of design.md / the seed's OP-01a list, in order: the first failing one decides.
@Suite("Owner services: the order of the checks")
struct CheckOrderTests {
    static let badVIN = "VF3ABCDEF1234567O"  // O is not a VIN character

    @Test("1. The role decides first, even before the VIN's syntax")
    func roles() throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        let portal = Caller(user: "alice", role: .portal)
        #expect(reason { try s.fleet(caller: alice) } == .roleNotAllowed)
        #expect(reason { try s.fleet(caller: portal) } == .roleNotAllowed)
        #expect(reason { try s.vehicles(caller: agent) } == .roleNotAllowed)
        #expect(reason { try s.requestPassword(vin: Self.badVIN, caller: portal, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: agent, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: "x", caller: portal, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.createLink(vin: Self.badVIN, caller: agent, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.emailLink(vin: bench.vin, caller: agent, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.redeem(token: "x", caller: portal, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.createHotlineRequest(vin: bench.vin, caller: alice, date: testDate) } == .roleNotAllowed)
        #expect(reason { try s.authorizeHotlineRequest(id: "x", caller: agent, date: testDate) } == .roleNotAllowed)
        #expect(try bench.currentPassword()?.state == .available)  // nothing changed
    }

    @Test("2. The VIN's syntax before the owner check", arguments: [badVIN, "VF3ABCDEF1234567", "vf3abcdef12345678", "", "VF3ABCDEF12345678X"])
    func vinSyntax(vin: String) throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        #expect(reason { try s.requestPassword(vin: vin, caller: bob, date: testDate) } == .invalidRequest)
        #expect(reason { try s.createLink(vin: vin, caller: bob, date: testDate) } == .invalidRequest)
        #expect(reason { try s.emailLink(vin: vin, caller: bob, date: testDate) } == .invalidRequest)
        #expect(reason { try s.vehicle(vin: vin, caller: bob) } == .invalidRequest)
        #expect(reason { try s.createHotlineRequest(vin: vin, caller: agent, date: testDate) } == .invalidRequest)
    }

    @Test("3. The caller must be the VIN's owner, before anything about the vehicle")
    func owner() throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: bob, date: testDate) } == .notOwner)
        #expect(reason { try s.createLink(vin: bench.vin, caller: Caller(user: "bob", role: .portal), date: testDate) } == .notOwner)
        #expect(reason { try s.emailLink(vin: bench.vin, caller: bob, date: testDate) } == .notOwner)
        #expect(reason { try s.vehicle(vin: bench.vin, caller: bob) } == .notOwner)
        // A VIN nobody owns, unknown to the VOS too: still "not the owner" for an owner …
        #expect(reason { try s.requestPassword(vin: "WBA00000000000001", caller: alice, date: testDate) } == .notOwner)
        // … and an unknown vehicle for the hotline (the agent is never the owner).
        #expect(reason { try s.createHotlineRequest(vin: "WBA00000000000001", caller: agent, date: testDate) } == .unknownVehicle)
        // The detail does not say who the owner is.
        #expect(failure { try s.requestPassword(vin: bench.vin, caller: bob, date: testDate) }?.detail.contains("alice") == false)
    }

    @Test("4. The VOS must have heard from the vehicle (registered before it did: unknown vehicle)")
    func unknownVehicle() throws {
        let bench = try Bench()
        let s = bench.services
        let registration = try s.registerOwner(vin: bench.vin, user: "alice", email: nil, date: testDate)
        #expect(!registration.vehicleKnown)
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: bob, date: testDate) } == .notOwner)  // 3 before 4
        let error = failure { try s.requestPassword(vin: bench.vin, caller: alice, date: testDate) }
        #expect(error?.reason == .unknownVehicle && error?.detail.contains("has not heard from this vehicle yet") == true)
        #expect(reason { try s.vehicle(vin: bench.vin, caller: alice) } == .unknownVehicle)
        #expect(reason { try s.vehicle(vin: bench.vin, caller: agent) } == .unknownVehicle)
        #expect(try s.vehicles(caller: alice).vehicles.isEmpty)
    }

    @Test("5. Service not provisioned, saying what is missing, at each step of PP-01 and PP-02")
    func notProvisioned() throws {
        let bench = try Bench()
        let s = bench.services
        _ = try s.registerOwner(vin: bench.vin, user: "alice", email: nil, date: testDate)
        func detail() -> String? {
            let error = failure { try s.requestPassword(vin: bench.vin, caller: alice, date: testDate) }
            return error?.reason == .serviceNotProvisioned ? error?.detail : "other: \(String(describing: error))"
        }
        try bench.send(.vehicleSubjectIdRequest, useCase: .pp01)  // the VOS learns the VIN
        #expect(detail()?.contains("no vehicle identity certificate [K] issued") == true)
        #expect(detail()?.contains("no SPAKE2+ verifier") == true)
        #expect(reason { try s.createLink(vin: bench.vin, caller: alice, date: testDate) } == .serviceNotProvisioned)
        #expect(reason { try s.emailLink(vin: bench.vin, caller: alice, date: testDate) } == .serviceNotProvisioned)
        #expect(reason { try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate) } == .serviceNotProvisioned)
        try bench.provisionIdentity(status: .storeFailure)
        #expect(detail()?.contains("[K] failed to install (status 5)") == true)
        try bench.provisionIdentity()
        #expect(detail()?.contains("[K]") == false)
        _ = try bench.vos.pushVerifier(serial: bench.serial, date: testDate)  // not confirmed
        #expect(detail()?.contains("has not confirmed installing its SPAKE2+ verifier") == true)
        try bench.pushVerifier(status: .storeFailure)
        #expect(detail()?.contains("verifier failed to install (status 5)") == true)
        #expect(try !s.vehicle(vin: bench.vin, caller: alice).serviceProvisioned)
        try bench.pushVerifier()
        #expect(try s.vehicle(vin: bench.vin, caller: alice).serviceProvisioned)
        _ = try bench.vos.terminateOwnerKey(serial: bench.serial, date: testDate)
        #expect(detail()?.contains("verifier was revoked") == true)
        #expect(try s.vehicle(vin: bench.vin, caller: alice).verifier.state == .revoked)
        #expect(bench.outbox.messages.isEmpty)
    }

    @Test("6. Password delivered or ended → already delivered; 7. another channel → conflict")
    func deliveredThenChannel() throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        let handout = try s.requestPassword(vin: bench.vin, caller: alice, date: testDate)
        // 7: handed to the app, so no link, no e-mail, no hotline request.
        #expect(reason { try s.createLink(vin: bench.vin, caller: alice, date: testDate) } == .deliveryChannelConflict)
        #expect(reason { try s.emailLink(vin: bench.vin, caller: alicePortal, date: testDate) } == .deliveryChannelConflict)
        #expect(reason { try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate) } == .deliveryChannelConflict)
        _ = try s.confirmDelivery(vin: bench.vin, deliveryId: handout.deliveryId, caller: alice, date: testDate)
        // 6 before 7.
        #expect(reason { try s.createLink(vin: bench.vin, caller: alice, date: testDate) } == .passwordAlreadyDelivered)
        #expect(reason { try s.emailLink(vin: bench.vin, caller: alice, date: testDate) } == .passwordAlreadyDelivered)
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: alice, date: testDate) } == .passwordAlreadyDelivered)
        #expect(reason { try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate) } == .passwordAlreadyDelivered)
        // 5 before 6: a revoked verifier is "not provisioned", whatever its password did.
        _ = try bench.vos.terminateOwnerKey(serial: bench.serial, date: testDate)
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: alice, date: testDate) } == .serviceNotProvisioned)
    }

    @Test("A link issued: the app channel is a conflict, the password is delivered by redeeming")
    func linkThenApp() throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        _ = try s.createLink(vin: bench.vin, caller: alicePortal, date: testDate)
        #expect(reason { try s.requestPassword(vin: bench.vin, caller: alice, date: testDate) } == .deliveryChannelConflict)
        #expect(reason { try s.confirmDelivery(vin: bench.vin, deliveryId: String(repeating: "a", count: 32), caller: alice,
                                               date: testDate) } == .deliveryChannelConflict)
        #expect(try bench.currentPassword()?.state == .linkIssued)
        #expect(try s.vehicle(vin: bench.vin, caller: alice).password.channel == .link)
    }
}
