import CloudSimulator
import Foundation
@testable import OwnerServices
import Testing

@Suite("Owner services: OP-01b through the help centre")
struct HotlineTests {
    @Test("An agent takes the request, the owner authorizes it, the link is e-mailed", arguments: RepositoryKind.allCases)
    func authorize(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let s = bench.services
        let request = try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate)
        #expect(request.state == .awaitingAuthorization && request.agent == "hanna" && request.vin == bench.vin)
        #expect(OwnerSyntax.isHexId(request.id) && request.authorizedAt == nil && request.messageId == nil)
        #expect(bench.outbox.messages.isEmpty)
        #expect(try bench.currentPassword()?.state == .available)
        #expect(try s.hotlineRequest(id: request.id, caller: agent) == request)
        #expect(try s.hotlineRequest(id: request.id, caller: alicePortal) == request)
        #expect(reason { try s.hotlineRequest(id: request.id, caller: bob) } == .notOwner)
        #expect(reason { try s.authorizeHotlineRequest(id: request.id, caller: bob, date: testDate) } == .notOwner)
        let later = testDate.addingTimeInterval(300)
        let authorized = try s.authorizeHotlineRequest(id: request.id, caller: alicePortal, date: later)
        #expect(authorized.state == .sent && authorized.authorizedAt == later)
        #expect(authorized.messageId == bench.outbox.messages.first?.messageId && bench.outbox.messages.count == 1)
        #expect(try bench.currentPassword()?.state == .linkIssued)
        #expect(try s.hotlineRequest(id: request.id, caller: agent) == authorized)
        #expect(reason { try s.authorizeHotlineRequest(id: request.id, caller: alicePortal, date: later) } == .requestNotPending)
        #expect(bench.outbox.messages.count == 1)
    }

    @Test("The e-mail fails: the request is failed (kept), no link, mail delivery failed", arguments: RepositoryKind.allCases)
    func mailFails(kind: RepositoryKind) throws {
        let bench = try Bench.provisioned(kind)
        let s = bench.services
        let request = try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate)
        bench.outbox.failing = true
        #expect(reason { try s.authorizeHotlineRequest(id: request.id, caller: alice, date: testDate) } == .mailDeliveryFailed)
        let failed = try s.hotlineRequest(id: request.id, caller: agent)
        #expect(failed.state == .failed && failed.failure?.contains("disk full") == true && failed.messageId == nil)
        let password = try #require(try bench.currentPassword())
        #expect(password.state == .available)
        #expect(try bench.repository.transaction { try $0.pairingLinks(verifierId: password.verifierId) }.isEmpty)
        bench.outbox.failing = false
        #expect(reason { try s.authorizeHotlineRequest(id: request.id, caller: alice, date: testDate) } == .requestNotPending)
    }

    @Test("Requests: unknown, malformed, for a VIN without owner, listed per caller")
    func requests() throws {
        let bench = try Bench.provisioned()
        let s = bench.services
        #expect(reason { try s.hotlineRequest(id: String(repeating: "a", count: 32), caller: agent) } == .unknownRequest)
        #expect(reason { try s.hotlineRequest(id: "ABC", caller: agent) } == .invalidRequest)
        #expect(reason { try s.authorizeHotlineRequest(id: String(repeating: "a", count: 31) + "G", caller: alice, date: testDate) }
                == .invalidRequest)
        #expect(reason { try s.createHotlineRequest(vin: "WBA00000000000001", caller: agent, date: testDate) } == .unknownVehicle)
        let one = try s.createHotlineRequest(vin: bench.vin, caller: agent, date: testDate)
        let two = try s.createHotlineRequest(vin: bench.vin, caller: Caller(user: "ivo", role: .hotline), date: testDate.addingTimeInterval(1))
        #expect(try s.hotlineRequests(caller: agent) == [one, two])
        #expect(try s.hotlineRequests(caller: alicePortal) == [one, two])
        #expect(try s.hotlineRequests(caller: bob).isEmpty)
        // The second authorization finds the password on the link channel: a new link replaces the first.
        _ = try s.authorizeHotlineRequest(id: one.id, caller: alice, date: testDate)
        _ = try s.authorizeHotlineRequest(id: two.id, caller: alice, date: testDate)
        #expect(bench.outbox.messages.count == 2)
    }

    @Test("JSON: the nullable fields are explicit nulls")
    func json() throws {
        let view = HotlineRequestView(id: String(repeating: "a", count: 32), vin: "VF3ABCDEF12345678", agent: "hanna",
                                      state: .awaitingAuthorization, createdAt: testDate)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(view), as: UTF8.self)
        #expect(json == #"{"agent":"hanna","authorizedAt":null,"createdAt":"2027-01-15T08:00:00Z","failure":null,"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","messageId":null,"state":"awaiting-authorization","vin":"VF3ABCDEF12345678"}"#)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(HotlineRequestView.self, from: Data(json.utf8)) == view)
    }
}
