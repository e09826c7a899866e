import CloudProtocol
@testable import CloudSimulator
import Foundation
import SpaakCore
import Testing

/// `register-owner VIN USER` binding a VIN that had another user: what was under way for the
/// previous owner ends in the same transaction (a handed-out password is withdrawn, deep links
/// are revoked, hotline requests fail); delivered and ended passwords stay as they are.
@Suite("VOS: owner change")
struct OwnerChangeTests {
    static let vin = "VF3ABCDEF12345678"
    static let later = testDate.addingTimeInterval(3600)

    /// A VOS that knows the module's VIN, with an installed verifier (password available) and
    /// alice as the owner.
    static func vos(_ kind: RepositoryKind) throws -> VehicleOEMServer {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        _ = try exchange(vos, module.request(.vehicleSubjectIdRequest))
        let push = try C2V(try #require(try vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first).bytes)
        _ = try exchange(vos, module.request(.spake2VerifierStatus(.ok), useCase: .pp02, transactionID: push.message.transactionID))
        #expect(try vos.registerOwner(vin: vin, user: "alice", email: nil, date: testDate).ownerChange == nil)
        return vos
    }

    /// Changes the current password record of the module.
    static func edit(_ vos: VehicleOEMServer, _ change: (inout PasswordRecord) -> Void) throws -> PasswordRecord {
        try vos.repository.transaction { store in
            var password = try #require(try store.currentPassword(serial: testSerial)?.password)
            change(&password)
            try store.savePassword(password)
            return password
        }
    }

    static func current(_ vos: VehicleOEMServer) throws -> PasswordRecord? {
        try vos.repository.transaction { try $0.currentPassword(serial: testSerial)?.password }
    }

    @Test("A password handed out to the previous owner's app is withdrawn: forgotten, ended; a new verifier brings the next",
          arguments: RepositoryKind.allCases)
    func handedOutIsWithdrawn(kind: RepositoryKind) throws {
        let vos = try Self.vos(kind)
        let handedOut = try Self.edit(vos) { password in
            password.channel = .app
            password.deliveryId = String(repeating: "ab", count: 16)
            password.handedOutAt = testDate
        }
        let result = try vos.registerOwner(vin: Self.vin, user: "bob", email: nil, date: Self.later)
        var expected = OwnerChangeRecord(previousUser: "alice")
        expected.withdrawnPasswords = 1
        #expect(result.ownerChange == expected && result.replacedUser == "alice")
        #expect(expected.description.hasPrefix("previous owner alice: handed-out password withdrawn"))
        let withdrawn = try #require(try Self.current(vos))
        #expect(withdrawn.state == .withdrawn && withdrawn.password == nil && withdrawn.endedAt == Self.later)
        #expect(withdrawn.endReason == .withdrawn && withdrawn.deliveredAt == nil && withdrawn.deliveryId == handedOut.deliveryId)
        #expect(try vos.summary().ecus.first?.passwordState == .withdrawn)
        #expect(try vos.summary().ecus.first?.passwordPending == false)
        // The operator cannot hand it out either; the refusal says what is needed.
        let refusal = #expect(throws: VOSCommandError.self) { try vos.handOutPassword(serial: testSerial, date: Self.later) }
        #expect(refusal?.description.contains("withdrawn when the vehicle changed owner") == true)
        #expect(refusal?.description.contains("push-verifier \(testSerial)") == true)
        // A new verifier replaces it as usual: available again.
        _ = try vos.pushVerifier(serial: testSerial, date: Self.later.addingTimeInterval(1))
        let passwords = try vos.repository.transaction { try $0.passwords(serial: testSerial) }
        #expect(passwords.map(\.state) == [.withdrawn, .available])
        #expect(passwords[0].endedAt == Self.later && passwords[1].password != nil)
    }

    @Test("Link issued: the previous owner's redeemable links are revoked, the password is available again (channel cleared)",
          arguments: RepositoryKind.allCases)
    func linksRevoked(kind: RepositoryKind) throws {
        let vos = try Self.vos(kind)
        let issued = try Self.edit(vos) { $0.channel = .link }
        func link(_ byte: UInt8, expires: Date, replaced: Date? = nil, redeemed: Date? = nil) -> PairingLinkRecord {
            PairingLinkRecord(tokenHash: Array(repeating: byte, count: 32), verifierId: issued.verifierId, vin: Self.vin, user: "alice",
                              createdAt: testDate, expiresAt: expires, redeemedAt: redeemed, replacedAt: replaced, via: .email)
        }
        let day = testDate.addingTimeInterval(86400)
        let links = [link(1, expires: day), link(2, expires: day, replaced: testDate), link(3, expires: Self.later),
                     link(4, expires: day, redeemed: testDate), link(5, expires: day)]
        try vos.repository.transaction { store in for record in links { try store.savePairingLink(record) } }
        let result = try vos.registerOwner(vin: Self.vin, user: "bob", email: "bob@example.test", date: Self.later)
        var expected = OwnerChangeRecord(previousUser: "alice")
        expected.revokedLinks = 2
        expected.reopenedPasswords = 1
        #expect(result.ownerChange == expected)
        #expect(expected.description == "previous owner alice: 2 links revoked; link-issued password available again")
        let password = try #require(try Self.current(vos))
        #expect(password.state == .available && password.channel == nil && password.password == issued.password)
        let stored = try vos.repository.transaction { try $0.pairingLinks(verifierId: issued.verifierId) }
        // The redeemable ones (1 and 5) are revoked now; replaced, expired and redeemed ones stay as they were.
        #expect(stored.map(\.replacedAt) == [Self.later, testDate, nil, nil, Self.later])
        #expect(stored.map(\.redeemedAt) == links.map(\.redeemedAt))
    }

    @Test("Hotline requests awaiting authorization fail; others stay", arguments: RepositoryKind.allCases)
    func hotlineRequestsFail(kind: RepositoryKind) throws {
        let vos = try Self.vos(kind)
        let waiting = HotlineRequestRecord(id: String(repeating: "a", count: 32), vin: Self.vin, agent: "hanna", createdAt: testDate)
        var sent = HotlineRequestRecord(id: String(repeating: "b", count: 32), vin: Self.vin, agent: "hanna", createdAt: testDate)
        sent.state = .sent
        sent.authorizedBy = "alice"
        sent.messageId = "<1@x.test>"
        let otherVIN = HotlineRequestRecord(id: String(repeating: "c", count: 32), vin: "WBA00000000000002", agent: "hanna",
                                            createdAt: testDate)
        try vos.repository.transaction { store in for r in [waiting, sent, otherVIN] { try store.saveHotlineRequest(r) } }
        let result = try vos.registerOwner(vin: Self.vin, user: "bob", email: nil, date: Self.later)
        #expect(result.ownerChange?.failedRequests == 1 && result.ownerChange?.withdrawnPasswords == 0)
        #expect(result.ownerChange?.description == "previous owner alice: 1 hotline request failed")
        var failed = waiting
        failed.state = .failed
        failed.failure = "the vehicle changed owner"
        #expect(try vos.repository.transaction { try $0.hotlineRequests() } == [failed, sent, otherVIN])
        #expect(try Self.current(vos)?.state == .available)
    }

    @Test("Delivered and ended passwords stay as they are", arguments: RepositoryKind.allCases)
    func deliveredUnchanged(kind: RepositoryKind) throws {
        for ending in ["delivered", "paired", "replaced"] {
            let vos = try Self.vos(kind)
            let before = try Self.edit(vos) { password in
                switch ending {
                case "delivered":
                    password.channel = .app
                    password.deliveryId = String(repeating: "cd", count: 16)
                    password.deliveredAt = testDate
                    password.password = nil
                case "paired": password.end(.paired, date: testDate)
                default: password.end(.replaced, date: testDate)
                }
            }
            let result = try vos.registerOwner(vin: Self.vin, user: "bob", email: nil, date: Self.later)
            #expect(result.ownerChange == OwnerChangeRecord(previousUser: "alice"), "\(ending)")
            #expect(result.ownerChange?.description == "previous owner alice: nothing was being delivered")
            #expect(try Self.current(vos) == before, "\(ending)")
        }
    }

    @Test("The same user again (a new e-mail address) is no owner change", arguments: RepositoryKind.allCases)
    func sameUser(kind: RepositoryKind) throws {
        let vos = try Self.vos(kind)
        let handedOut = try Self.edit(vos) { password in
            password.channel = .app
            password.deliveryId = String(repeating: "ef", count: 16)
            password.handedOutAt = testDate
        }
        let result = try vos.registerOwner(vin: Self.vin, user: "alice", email: "alice@example.test", date: Self.later)
        #expect(result.ownerChange == nil && result.replacedUser == nil && result.owner.email == "alice@example.test")
        #expect(try Self.current(vos) == handedOut)
    }

    @Test("A refused registration changes nothing", arguments: RepositoryKind.allCases)
    func refusedChangesNothing(kind: RepositoryKind) throws {
        let vos = try Self.vos(kind)
        let handedOut = try Self.edit(vos) { password in
            password.channel = .app
            password.deliveryId = String(repeating: "12", count: 16)
        }
        #expect(throws: OwnerRegistrationError.self) { try vos.registerOwner(vin: Self.vin, user: "Bob", email: nil, date: Self.later) }
        #expect(throws: OwnerRegistrationError.self) {
            try vos.registerOwner(vin: Self.vin, user: "bob", email: "bob@", date: Self.later)
        }
        #expect(try Self.current(vos) == handedOut)
        #expect(try vos.repository.transaction { try $0.owner(vin: Self.vin) }?.user == "alice")
    }

    @Test("ctl register-owner says what the owner change did")
    func controlReply() throws {
        let bench = try Bench()
        let vin = try #require(bench.module.vin)
        bench.send(try bench.module.request(.vehicleSubjectIdRequest))
        let push = try C2V(try #require(try bench.simulator.vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first).bytes)
        bench.send(try bench.module.request(.spake2VerifierStatus(.ok), useCase: .pp02, transactionID: push.message.transactionID))
        #expect(try bench.control("register-owner \(vin) carol").ok)
        _ = try Self.edit(bench.simulator.vos) { password in
            password.channel = .app
            password.deliveryId = String(repeating: "34", count: 16)
            password.handedOutAt = testDate
        }
        let reply = try bench.control("register-owner \(vin) dave")
        #expect(reply.ok)
        #expect(reply.text.hasPrefix("owner of \(vin): dave <dave@owners.spaak-sim.test> (replacing carol); the VOS knows the vehicle; "
                                     + "previous owner carol: handed-out password withdrawn (a new verifier is needed"))
        #expect(try bench.control("status").text.contains("password=withdrawn owner=dave"))
        let refused = try bench.control("password \(testSerial)")
        #expect(!refused.ok && refused.text.contains("withdrawn when the vehicle changed owner"))
    }
}
