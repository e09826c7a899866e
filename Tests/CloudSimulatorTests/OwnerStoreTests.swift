import CloudProtocol
@testable import CloudSimulator
import Foundation
import SpaakCore
import Testing

/// Migration v3 and the repository of the owner services; the VOS's hooks (last use case,
/// passwords ending); `register-owner`.
@Suite("VOS repository v3: owners, links, hotline requests, the password lifecycle")
struct OwnerStoreTests {
    @Test("v1 → v2 → v3: a database of the old migrations keeps its rows; delivered and replaced passwords are forgotten")
    func upgrade() throws {
        let path = temporaryPath("old.sqlite")
        try GRDBCloudRepository.migrate(path: path, upTo: "v1")
        try GRDBCloudRepository.execute(path: path, sql: """
            INSERT INTO ecus (serial, certificate, registered_at) VALUES ('SPK1', x'3000', '2027-01-15 08:00:00.000');
            INSERT INTO vehicles (serial, vin, drm_uuid) VALUES ('SPK1', 'VF3ABCDEF12345678', NULL);
            INSERT INTO verifiers (id, serial, transaction_id, record, trigger, created_at, status, revoked)
                VALUES (1, 'SPK1', x'01', x'02', 0, '2027-01-15 08:00:00.000', 0, 1),
                       (2, 'SPK1', x'03', x'04', 0, '2027-01-15 09:00:00.000', 0, 1),
                       (3, 'SPK1', x'05', x'06', 3, '2027-01-15 10:00:00.000', 0, 0);
            INSERT INTO passwords (verifier_id, serial, password, delivered_at)
                VALUES (1, 'SPK1', '11111111', '2027-01-15 08:30:00.000'),
                       (2, 'SPK1', '22222222', NULL),
                       (3, 'SPK1', '33333333', NULL);
            """)
        try GRDBCloudRepository.migrate(path: path, upTo: "v2")
        #expect(try GRDBCloudRepository.appliedMigrations(path: path) == ["v1", "v2"])
        let repository = try GRDBCloudRepository(path: path)
        #expect(try GRDBCloudRepository.appliedMigrations(path: path) == ["v1", "v2", "v3", "v4"])
        let passwords = try repository.transaction { try $0.passwords(serial: "SPK1") }
        #expect(passwords.count == 3)
        #expect(passwords[0].password == nil && passwords[0].channel == .operator && passwords[0].endReason == .replaced)
        #expect(passwords[0].deliveredAt == Date(timeIntervalSince1970: 1_800_000_000 + 1800))
        #expect(passwords[1].state == .replaced && passwords[1].password == nil)
        #expect(passwords[1].endedAt == Date(timeIntervalSince1970: 1_800_000_000 + 7200))
        #expect(passwords[2].state == .available && passwords[2].password == "33333333")
        let vehicle = try repository.transaction { try $0.vehicle(vin: "VF3ABCDEF12345678") }
        #expect(vehicle == VehicleRecord(serial: "SPK1", vin: "VF3ABCDEF12345678"))
        // The new tables work; the password column takes NULL now.
        try repository.transaction { store in
            _ = try store.registerOwner(vin: "VF3ABCDEF12345678", user: "alice", email: nil, date: testDate)
            var password = passwords[2]
            password.end(.paired, date: testDate)
            try store.savePassword(password)
        }
        #expect(try repository.transaction { try $0.currentPasswordState(serial: "SPK1") } == .paired)
        #expect(try repository.transaction { try $0.summary() }.ecus.first?.owner == "alice")
        // Nothing of the forgotten passwords is left in the file.
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        for secret in ["11111111", "22222222", "33333333"] { #expect(file.range(of: Data(secret.utf8)) == nil, "\(secret)") }
    }

    @Test("Owners, links and hotline requests round-trip", arguments: RepositoryKind.allCases)
    func roundTrip(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        let push = try C2V(try #require(try vos.pushVerifier(serial: testSerial, date: testDate).transmissions.first).bytes)
        #expect(push.message.type == .spake2VerifierProvisioning)
        try vos.repository.transaction { store in
            let verifierId = try #require(try store.latestVerifier(serial: testSerial)?.id)
            let link = PairingLinkRecord(tokenHash: Array(repeating: 1, count: 32), verifierId: verifierId, vin: "VF3ABCDEF12345678",
                                         user: "alice", createdAt: testDate, expiresAt: testDate.addingTimeInterval(86400), via: .email)
            try store.savePairingLink(link)
            var redeemed = link
            redeemed.redeemedAt = testDate.addingTimeInterval(5)
            try store.savePairingLink(redeemed)
            #expect(try store.pairingLink(tokenHash: link.tokenHash) == redeemed)
            #expect(try store.pairingLinks(verifierId: verifierId) == [redeemed])
            let request = HotlineRequestRecord(id: String(repeating: "a", count: 32), vin: "VF3ABCDEF12345678", agent: "hanna",
                                               createdAt: testDate)
            try store.saveHotlineRequest(request)
            var sent = request
            sent.state = .sent
            sent.authorizedBy = "alice"
            sent.authorizedAt = testDate
            sent.messageId = "<1@x.test>"
            try store.saveHotlineRequest(sent)
            #expect(try store.hotlineRequest(id: request.id) == sent)
            #expect(try store.hotlineRequests() == [sent])
            let owner = VehicleOwnerRecord(vin: "VF3ABCDEF12345678", user: "alice", email: "a@x.test", registeredAt: testDate)
            try store.saveOwner(owner)
            #expect(try store.owner(vin: owner.vin) == owner && store.owners(user: "alice") == [owner] && store.owners(user: "bob").isEmpty)
        }
    }

    @Test("Every authenticated V2C message is the vehicle's last use case, a refused one with its error", arguments: RepositoryKind.allCases)
    func lastUseCase(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        _ = try exchange(vos, module.request(.vehicleIdentityCertStatus(.ok)))  // no [K] issued: ErrorResponse
        var last = try #require(try vos.repository.transaction { try $0.vehicle(serial: testSerial) }?.lastUseCase)
        #expect(!last.accepted && last.useCase == "PP-01" && last.message == "VehicleIdentityCertStatus" && last.at == testDate)
        #expect(last.error?.contains("ErrorResponse 8") == true)
        let later = testDate.addingTimeInterval(60)
        _ = vos.handleV2C(try module.request(.remoteServiceProvisioningRequest, useCase: .sp02), date: later)
        last = try #require(try vos.repository.transaction { try $0.vehicle(serial: testSerial) }?.lastUseCase)
        #expect(last == LastUseCaseRecord(useCase: "SP-02", message: "RemoteServiceProvisioningRequest", accepted: true, at: later))
        // A message that is not authentic changes nothing.
        _ = vos.handleV2C(try module.request(.vehicleSubjectIdRequest, counter: 1), date: later.addingTimeInterval(1))
        #expect(try vos.repository.transaction { try $0.vehicle(serial: testSerial) }?.lastUseCase == last)
        #expect(try vos.repository.transaction { try $0.vehicle(serial: testSerial) }?.drmUUID?.count == 16)
    }

    @Test("A new verifier ends the earlier passwords; an owner key ends the current one", arguments: RepositoryKind.allCases)
    func passwordsEnd(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        _ = try vos.pushVerifier(serial: testSerial, date: testDate)
        _ = try vos.pushVerifier(serial: testSerial, date: testDate.addingTimeInterval(1))
        var passwords = try vos.repository.transaction { try $0.passwords(serial: testSerial) }
        #expect(passwords.map(\.state) == [.replaced, .available])
        #expect(passwords[0].password == nil && passwords[0].endedAt == testDate.addingTimeInterval(1))
        _ = try exchange(vos, module.request(.ownerPairingStatus(state: .windowOpen, ownerKeyID: nil, status: .ok), useCase: .ownerPairing))
        #expect(try vos.repository.transaction { try $0.currentPasswordState(serial: testSerial) } == .available)
        _ = try exchange(vos, module.request(.ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: Array(repeating: 7, count: 8),
                                                                  status: .ok), useCase: .ownerPairing,
                                              transactionID: Array(repeating: 0xD3, count: 16)))
        passwords = try vos.repository.transaction { try $0.passwords(serial: testSerial) }
        #expect(passwords.map(\.state) == [.replaced, .paired] && passwords.allSatisfy { $0.password == nil })
        #expect(try vos.summary().ecus.first?.passwordState == .paired)
    }
}

@Suite("register-owner")
struct RegisterOwnerCommandTests {
    @Test("Parsed and printed back", arguments: ["register-owner VF3ABCDEF12345678 alice",
                                                  "register-owner VF3ABCDEF12345678 alice alice@example.test"])
    func roundTrip(line: String) throws {
        #expect(try ControlCommand.parse(line).text == line)
    }

    @Test("Malformed", arguments: ["register-owner", "register-owner VF3ABCDEF12345678", "register-owner a b c d"])
    func malformed(line: String) {
        #expect(throws: ControlCommandError.self) { try ControlCommand.parse(line) }
        #expect(ControlCommand.usage.contains("register-owner VIN USER [EMAIL]"))
    }

    @Test("Binds the VIN, validates, shows the owner in status")
    func control() throws {
        let bench = try Bench()
        let vin = try #require(bench.module.vin)
        var reply = try bench.control("register-owner \(vin) alice")
        #expect(reply.ok && reply.text == "owner of \(vin): alice <alice@owners.spaak-sim.test>; the VOS has not heard from this vehicle yet")
        bench.send(try bench.module.request(.vehicleSubjectIdRequest))
        reply = try bench.control("register-owner \(vin) bob bob@example.test")
        #expect(reply.ok && reply.text == "owner of \(vin): bob <bob@example.test> (replacing alice); the VOS knows the vehicle; "
                + "previous owner alice: nothing was being delivered")
        #expect(try bench.control("status").text.contains("owner=bob"))
        for bad in ["register-owner VF3ABCDEF1234567Q bob", "register-owner \(vin) Bob", "register-owner \(vin) bob bob@"] {
            reply = try bench.control(bad)
            #expect(!reply.ok, "\(bad)")
        }
        #expect(try bench.control("status").text.contains("owner=bob"))
    }
}
