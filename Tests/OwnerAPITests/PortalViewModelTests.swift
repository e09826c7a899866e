import CloudSimulator
import Foundation
import OwnerServices
import Testing
@testable import OwnerAPI

@Suite("Portal view models")
struct PortalViewModelTests {
    /// A vehicle as the owner services answer it (decoded from the contract's JSON).
    private func vehicle(vin: String? = "WSPAAK00000000001", password: String = "available", provisioned: Bool = true,
                         lastUseCase: String? = nil) throws -> VehicleView {
        let json = """
        {"serial": "SPAAK-0001", "vin": \(vin.map { "\"\($0)\"" } ?? "null"), "owner": "alice",
         "plant": {"ecuRegisteredAt": "2025-01-02T10:00:00Z"}, "drmUUID": "00112233445566778899aabbccddeeff",
         "vehicleIdentity": {"state": "installed", "certificates": 1, "status": 0},
         "verifier": {"state": "installed", "count": 2, "status": null},
         "password": {"state": "\(password)", "channel": null, "deliveredAt": null},
         "ownerPairing": {"state": "owner-key-active", "ownerKeyId": "0102030405060708",
                          "activeOwnerKeyId": "0102030405060708", "modeRequestedAt": "2025-01-02T10:05:00Z"},
         "serviceProvisioned": \(provisioned), "lastUseCase": \(lastUseCase ?? "null")}
        """
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(VehicleView.self, from: Data(json.utf8))
    }

    @Test("dates are shown in UTC")
    func dates() {
        #expect(PortalFormat.date(Date(timeIntervalSince1970: 1_735_812_000)) == "2025-01-02 10:00:00 UTC")
    }

    @Test("a path segment keeps letters and digits only")
    func pathSegment() {
        #expect(PortalFormat.pathSegment("WSPAAK00000000001") == "WSPAAK00000000001")
        #expect(PortalFormat.pathSegment("../a b/é") == "%2E%2E%2Fa%20b%2F%C3%A9")
        #expect(PortalFormat.pathSegment("") == "")
    }

    @Test("a provisioned vehicle with its password available: every fact, and the buttons")
    func card() throws {
        let card = PortalViewModel.card(try vehicle())
        #expect(card.vin == "WSPAAK00000000001" && card.pathVIN == "WSPAAK00000000001" && card.serial == "SPAAK-0001")
        #expect(card.canDeliver && card.deliveryNote == nil)
        #expect(card.facts.map(\.label) == ["Plant", "drmUUID (SP-02)", "Vehicle identity [K]", "Verifier (SPAKE2+)",
                                            "Pairing password", "Owner key", "Last use case"])
        #expect(card.facts[0] == PortalFact("Plant", "ECU registered", tone: "ok", detail: "2025-01-02 10:00:00 UTC"))
        #expect(card.facts[1].value == "00112233445566778899aabbccddeeff")
        #expect(card.facts[2] == PortalFact("Vehicle identity [K]", "installed", tone: "ok", detail: "1 certificate, status 0"))
        #expect(card.facts[3] == PortalFact("Verifier (SPAKE2+)", "installed", tone: "ok", detail: "2 verifiers"))
        #expect(card.facts[4] == PortalFact("Pairing password", "available", tone: "ok"))
        #expect(card.facts[4].detail == nil)
        #expect(card.facts[5] == PortalFact("Owner key", "owner-key-active", tone: "ok",
                                            detail: "key 0102030405060708, pairing mode requested 2025-01-02 10:05:00 UTC"))
        #expect(card.facts[6] == PortalFact("Last use case", "none", tone: "neutral"))
    }

    @Test("the buttons show only while a link can be made; otherwise a note says why",
          arguments: [("available", true, nil), ("link-issued", true, nil),
                      ("available", false, "The service is not provisioned yet"), ("handed-out", true, "handed to your app"),
                      ("delivered", true, "was delivered"), ("paired", true, "You paired"), ("replaced", true, "newer verifier"),
                      ("none", true, "no current verifier")] as [(String, Bool, String?)])
    func buttons(password: String, provisioned: Bool, note: String?) throws {
        let card = PortalViewModel.card(try vehicle(password: password, provisioned: provisioned))
        #expect(card.canDeliver == (note == nil))
        if let note { #expect(card.deliveryNote?.contains(note) == true, "\(card.deliveryNote ?? "nil")") }
    }

    @Test("a vehicle without a VIN has no buttons")
    func noVIN() throws {
        let card = PortalViewModel.card(try vehicle(vin: nil))
        #expect(!card.canDeliver && card.pathVIN.isEmpty)
        #expect(card.vin == "(VIN not reported yet)")
        #expect(PortalViewModel.fleetRow(try vehicle(vin: nil)).vin == "—")
    }

    @Test("the last use case: accepted, or refused with its error")
    func lastUseCase() throws {
        let accepted = try vehicle(lastUseCase: #"{"useCase": "PP-02", "message": "Spake2VerifierStatus", "at": "2025-01-02T10:00:00Z", "outcome": "accepted", "error": null}"#)
        #expect(PortalViewModel.card(accepted).facts[6]
            == PortalFact("Last use case", "PP-02 Spake2VerifierStatus", tone: "ok", detail: "accepted 2025-01-02 10:00:00 UTC"))
        let refused = try vehicle(lastUseCase: #"{"useCase": "PP-01", "message": "VehicleIdentityCertStatus", "at": "2025-01-02T10:00:00Z", "outcome": "refused", "error": "bad signature"}"#)
        #expect(PortalViewModel.fleetRow(refused).lastUseCase
            == PortalFact("Last use case", "PP-01 VehicleIdentityCertStatus", tone: "bad", detail: "refused 2025-01-02 10:00:00 UTC: bad signature"))
    }

    @Test("the fleet row carries the badges of the vehicle's state")
    func fleetRow() throws {
        let row = PortalViewModel.fleetRow(try vehicle(password: "link-issued"))
        #expect(row.serial == "SPAAK-0001" && row.vin == "WSPAAK00000000001" && row.owner == "alice")
        #expect(row.identity.value == "installed" && row.verifier.value == "installed")
        #expect(row.password == PortalFact("Pairing password", "link-issued", tone: "warn"))
        #expect(row.ownerKey.value == "owner-key-active")
    }

    @Test("a hotline request row: pending, sent, failed")
    func requestRow() {
        let created = Date(timeIntervalSince1970: 1_735_812_000)
        let id = "0123456789abcdef0123456789abcdef"
        let pending = PortalViewModel.requestRow(HotlineRequestView(id: id, vin: "WSPAAK00000000001", agent: "carol",
                                                                    state: .awaitingAuthorization, createdAt: created))
        #expect(pending == PortalRequestRow(id: id, shortID: "01234567", vin: "WSPAAK00000000001", agent: "carol",
                                            state: "awaiting-authorization", tone: "warn", detail: nil,
                                            createdAt: "2025-01-02 10:00:00 UTC", authorizedAt: nil, messageId: nil, pending: true))
        let sent = PortalViewModel.requestRow(HotlineRequestView(id: id, vin: "V", agent: "carol", state: .sent, createdAt: created,
                                                                 authorizedAt: created.addingTimeInterval(60), messageId: "<ab@vos>"))
        #expect(!sent.pending && sent.tone == "ok" && sent.messageId == "<ab@vos>" && sent.authorizedAt == "2025-01-02 10:01:00 UTC")
        let failed = PortalViewModel.requestRow(HotlineRequestView(id: id, vin: "V", agent: "carol", state: .failed, createdAt: created,
                                                                   failure: "the outbox is full"))
        #expect(!failed.pending && failed.tone == "bad" && failed.detail == "the outbox is full")
    }

    @Test("the session header: customer or help-centre agent")
    func session() {
        let customer = PortalSessionView(caller: Caller(user: "alice", role: .portal))
        #expect(customer.user == "alice" && customer.roleLabel == "customer" && customer.isCustomer && !customer.isAgent)
        let agent = PortalSessionView(caller: Caller(user: "carol", role: .hotline))
        #expect(agent.user == "carol" && agent.roleLabel == "help-centre agent" && !agent.isCustomer && agent.isAgent)
    }
}
