import CloudProtocol
import CloudSimulator
import Foundation
@testable import OwnerServices
import SpaakCore
import Testing

@Suite("Owner services: vehicle and fleet views, owner registration")
struct ViewTests {
    @Test("A provisioned vehicle as its owner sees it", arguments: RepositoryKind.allCases)
    func ownVehicle(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let list = try bench.services.vehicles(caller: alice)
        #expect(list.vehicles.count == 1)
        let view = try #require(list.vehicles.first)
        #expect(view == (try bench.services.vehicle(vin: bench.vin, caller: alicePortal)))
        #expect(view.serial == bench.serial && view.vin == bench.vin && view.owner == "alice")
        #expect(view.plant.ecuRegisteredAt == testDate && view.drmUUID == nil)
        #expect(view.vehicleIdentity == .init(state: .installed, certificates: 1, status: 0))
        #expect(view.verifier == .init(state: .installed, count: 1, status: 0))
        #expect(view.password == .init(state: .available, channel: nil, deliveredAt: nil))
        #expect(view.ownerPairing.state == .unknown && view.serviceProvisioned)
        #expect(view.lastUseCase == .init(useCase: "PP-02", message: "Spake2VerifierStatus", at: testDate, outcome: .accepted, error: nil))
        #expect(try bench.services.vehicles(caller: bob).vehicles.isEmpty)
        // The hotline sees any vehicle, and the fleet.
        #expect(try bench.services.vehicle(vin: bench.vin, caller: agent) == view)
        let fleet = try bench.services.fleet(caller: agent)
        #expect(fleet.count == 1 && fleet.vehicles == [view])
    }

    @Test("The last use case shows a refusal and its error; owner pairing and drmUUID show")
    func lastUseCaseAndPairing() throws {
        let bench = try Bench.provisioned()
        bench.date = testDate.addingTimeInterval(10)
        try bench.send(.remoteServiceProvisioningRequest, useCase: .sp02)
        try bench.reportPairing(.ownerKeyActive)
        bench.date = testDate.addingTimeInterval(20)
        try bench.send(.spake2VerifierStatus(.ok), useCase: .pp02, transactionID: Array(repeating: 0x77, count: 16))
        let view = try bench.services.vehicle(vin: bench.vin, caller: alice)
        let last = try #require(view.lastUseCase)
        #expect(last.outcome == .accepted && last.message == "Spake2VerifierStatus" && last.at == bench.date)  // status of the latest verifier
        let refusedBench = try Bench()
        try refusedBench.send(.vehicleIdentityCertStatus(.ok), useCase: .pp01)  // no [K] issued yet
        let refused = try #require(try refusedBench.services.fleet(caller: agent).vehicles.first?.lastUseCase)
        #expect(refused.outcome == .refused && refused.useCase == "PP-01" && refused.message == "VehicleIdentityCertStatus")
        #expect(refused.error?.contains("no [K] issued") == true && refused.error?.contains("ErrorResponse 8") == true)
        #expect(view.drmUUID?.count == 32)
        #expect(view.ownerPairing.state == .ownerKeyActive && view.ownerPairing.activeOwnerKeyId == "5A01020304050607")
        // The KTS terminates the key: the module deletes it without a new report.
        bench.date = testDate.addingTimeInterval(30)
        _ = try bench.vos.terminateOwnerKey(serial: bench.serial, date: bench.date)
        let terminated = try bench.services.vehicle(vin: bench.vin, caller: alice).ownerPairing
        #expect(terminated.state == .noOwnerKey && terminated.activeOwnerKeyId == nil)
        #expect(terminated.terminatedOwnerKeyId == "5A01020304050607" && terminated.ownerKeyId == "5A01020304050607")
        // A later pairing reports a key again.
        bench.date = testDate.addingTimeInterval(40)
        try bench.send(.ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: [0x5B, 1, 2, 3, 4, 5, 6, 7], status: .ok),
                       useCase: .ownerPairing, transactionID: Array(repeating: 0x99, count: 16))
        #expect(try bench.services.vehicle(vin: bench.vin, caller: alice).ownerPairing.state == .ownerKeyActive)
    }

    @Test("JSON: required nullable fields are explicit nulls; dates ISO 8601")
    func json() throws {
        let bench = try Bench()
        let view = try #require(try bench.services.fleet(caller: agent).vehicles.first)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let object = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(view)) as? [String: Any])
        for key in ["vin", "owner", "drmUUID", "lastUseCase"] { #expect(object[key] is NSNull, "\(key)") }
        #expect(Set(object.keys) == ["serial", "vin", "owner", "plant", "drmUUID", "vehicleIdentity", "verifier", "password",
                                     "ownerPairing", "serviceProvisioned", "lastUseCase"])
        #expect((object["plant"] as? [String: Any])?["ecuRegisteredAt"] as? String == "2027-01-15T08:00:00Z")
        #expect((object["password"] as? [String: Any])?["state"] as? String == "none")
        #expect((object["password"] as? [String: Any])?["channel"] is NSNull)
        #expect((object["vehicleIdentity"] as? [String: Any])?["state"] as? String == "none")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(VehicleView.self, from: try encoder.encode(view)) == view)
        // A delivery's pairing mode request omits an absent detail (not nullable).
        let delivery = DeliveryView(vin: "VF3ABCDEF12345678", deliveredAt: testDate, channel: .app,
                                    pairingModeRequest: .init(state: .sent))
        #expect(String(decoding: try encoder.encode(delivery.pairingModeRequest), as: UTF8.self) == #"{"state":"sent"}"#)
    }

    @Test("Owner registration: validation, default address, known or not, a new owner replaces the old")
    func registration() throws {
        let bench = try Bench()
        let s = bench.services
        #expect(reason { try s.registerOwner(vin: "VF3ABCDEF1234567I", user: "alice", email: nil, date: testDate) } == .invalidRequest)
        #expect(reason { try s.registerOwner(vin: bench.vin, user: "Alice", email: nil, date: testDate) } == .invalidRequest)
        #expect(reason { try s.registerOwner(vin: bench.vin, user: "-alice", email: nil, date: testDate) } == .invalidRequest)
        #expect(reason { try s.registerOwner(vin: bench.vin, user: String(repeating: "a", count: 65), email: nil, date: testDate) } == .invalidRequest)
        #expect(reason { try s.registerOwner(vin: bench.vin, user: "alice", email: "alice", date: testDate) } == .invalidRequest)
        #expect(reason { try s.registerOwner(vin: bench.vin, user: "alice", email: "a b@x.test", date: testDate) } == .invalidRequest)
        #expect(reason { try s.registerOwner(vin: bench.vin, user: "alice", email: "a@x", date: testDate) } == .invalidRequest)
        let first = try s.registerOwner(vin: bench.vin, user: "alice", email: nil, date: testDate)
        #expect(first == OwnerRegistration(vin: bench.vin, user: "alice", email: "alice@owners.spaak-sim.test", vehicleKnown: false))
        try bench.send(.vehicleSubjectIdRequest, useCase: .pp01)
        let second = try s.registerOwner(vin: bench.vin, user: "bob.b_1", email: "Bob@Example.test", date: testDate)
        #expect(second == OwnerRegistration(vin: bench.vin, user: "bob.b_1", email: "Bob@Example.test", vehicleKnown: true,
                                            ownerChange: OwnerChange(OwnerChangeRecord(previousUser: "alice"))))
        #expect(second.ownerChange?.summary == "previous owner alice: nothing was being delivered")
        #expect(try s.vehicles(caller: alice).vehicles.isEmpty)
        #expect(try s.vehicles(caller: Caller(user: "bob.b_1", role: .owner)).vehicles.map(\.owner) == ["bob.b_1"])
    }

    @Test("Several vehicles of one owner, oldest binding first; a VIN the VOS has not heard from is not listed")
    func severalVehicles() throws {
        let one = try Bench(serial: "SPK0000000001", vin: "VF3ABCDEF12345678")
        let two = try Bench(sharing: one, serial: "SPK0000000002", vin: "WBA00000000000002")
        let services = one.services
        try one.send(.vehicleSubjectIdRequest, useCase: .pp01)
        try two.send(.vehicleSubjectIdRequest, useCase: .pp01)
        _ = try services.registerOwner(vin: "WBA00000000000002", user: "alice", email: nil, date: testDate)
        _ = try services.registerOwner(vin: "VF3ABCDEF12345678", user: "alice", email: nil, date: testDate.addingTimeInterval(1))
        _ = try services.registerOwner(vin: "SAL00000000000003", user: "alice", email: nil, date: testDate.addingTimeInterval(2))
        #expect(try services.vehicles(caller: alice).vehicles.map(\.vin) == ["WBA00000000000002", "VF3ABCDEF12345678"])
        #expect(try services.fleet(caller: agent).vehicles.map(\.serial) == ["SPK0000000001", "SPK0000000002"])
        #expect(try services.fleet(caller: agent).count == 2)
        // Re-registering moves the binding to the end.
        _ = try services.registerOwner(vin: "WBA00000000000002", user: "alice", email: nil, date: testDate.addingTimeInterval(3))
        #expect(try services.vehicles(caller: alice).vehicles.map(\.vin) == ["VF3ABCDEF12345678", "WBA00000000000002"])
    }
}
