@testable import CloudPostgres
import CloudSimulator
import Foundation
import XCTest

/// The PostgreSQL repository against a real server: the same answers as the SQLite one
/// (GRDB, the reference) for one script of every store operation, and the checks of its own
/// (migrations, rollback, SQLSTATE errors, a lost connection).
final class PostgresRepositoryTests: PostgresTestCase {
    func testSameAnswersAsSQLite() throws {
        let postgres = try exercise(try PostgresCloudRepository(url: url))
        let sqlite = try exercise(try GRDBCloudRepository(path: nil))
        XCTAssertEqual(postgres.count, sqlite.count)
        for (index, (p, s)) in zip(postgres, sqlite).enumerated() {
            XCTAssertEqual(p, s, "answer \(index)")
        }
    }

    func testRecordsRoundTripWithTheirValues() throws {
        let repository = try PostgresCloudRepository(url: url)
        try repository.transaction { store in
            try store.saveECU(ECURecord(serial: "SPK2", certificateDER: [0x30, 0x01], registeredAt: testDate))
            try store.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30, 0x00], registeredAt: testDate))
            // An upsert, not a second row.
            try store.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30, 0x02], registeredAt: testDate.addingTimeInterval(5)))
        }
        let ecus = try repository.transaction { try $0.ecus() }
        XCTAssertEqual(ecus.map(\.serial), ["SPK1", "SPK2"])
        XCTAssertEqual(ecus[0].certificateDER, [0x30, 0x02])
        XCTAssertEqual(ecus[0].registeredAt, testDate.addingTimeInterval(5))

        let verifierId = try repository.transaction { store -> Int64 in
            try store.insertSubjectId(SubjectIdRecord(subjectId: "00112233445566AA", serial: "SPK1", transactionId: [1], issuedAt: testDate))
            _ = try store.insertCertificate(CertificateRecord(serial: "SPK1", subjectId: "00112233445566AA", der: [3], issuedAt: testDate))
            let id = try store.insertVerifier(VerifierRecord(serial: "SPK1", transactionId: [4], record: [5, 6], trigger: .missingAtPairing,
                                                             createdAt: testDate, status: 0))
            try store.savePassword(PasswordRecord(verifierId: id, serial: "SPK1", password: "12345678"))
            try store.setCounter(serial: "SPK1", kind: .c2vSent, value: UInt32.max)
            return id
        }
        try repository.transaction { store in
            XCTAssertThrowsError(try store.insertSubjectId(SubjectIdRecord(subjectId: "00112233445566AA", serial: "SPK2",
                                                                          transactionId: [2], issuedAt: testDate))) { error in
                XCTAssertEqual(error as? CloudRepositoryError, .duplicate("subject id 00112233445566AA"))
            }
        }
        try repository.transaction { store in
            XCTAssertEqual(try store.verifiers(serial: "SPK1").first?.trigger, .missingAtPairing)
            XCTAssertEqual(try store.verifiers(serial: "SPK1").first?.status, 0)
            XCTAssertEqual(try store.password(verifierId: verifierId)?.state, .available)
            XCTAssertEqual(try store.counter(serial: "SPK1", kind: .c2vSent), UInt32.max)
            XCTAssertNil(try store.counter(serial: "SPK1", kind: .v2cAccepted))
            XCTAssertEqual(try store.currentPasswordState(serial: "SPK1"), .available)
            XCTAssertThrowsError(try store.updateVerifier(VerifierRecord(id: 999, serial: "SPK1", transactionId: [], record: [],
                                                                        trigger: .push, createdAt: testDate))) { error in
                XCTAssertEqual(error as? CloudRepositoryError, .notFound("verifier 999"))
            }
        }
    }

    func testATransactionThatThrowsLeavesNothing() throws {
        struct Abort: Error {}
        let repository = try PostgresCloudRepository(url: url)
        XCTAssertThrowsError(try repository.transaction { store in
            try store.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30], registeredAt: testDate))
            _ = try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [1], createdAt: testDate))
            throw Abort()
        }) { XCTAssertTrue($0 is Abort) }
        XCTAssertEqual(try repository.transaction { try $0.ecus() }, [])
        XCTAssertEqual(try repository.transaction { try $0.pendingC2V(serial: "SPK1") }, [])
        // A failed statement (a foreign key) aborts its transaction only; the next one works.
        XCTAssertThrowsError(try repository.transaction { store in
            try store.saveVehicle(VehicleRecord(serial: "NOECU", vin: "VF3ABCDEF12345678"))
        }) { error in
            guard case CloudRepositoryError.database(let message)? = error as? CloudRepositoryError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(message.hasPrefix("23503"), message)
        }
        try repository.transaction { try $0.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30], registeredAt: testDate)) }
        XCTAssertEqual(try repository.transaction { try $0.ecus() }.count, 1)
        XCTAssertEqual(repository.retries, 0)
    }

    func testMigrationsAreRecordedAndRunOnce() throws {
        let first = try PostgresCloudRepository(url: url)
        XCTAssertEqual(try first.appliedMigrations(), ["v1", "v2", "v3", "v4"])
        try first.transaction { try $0.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30], registeredAt: testDate)) }
        let second = try PostgresCloudRepository(url: url)
        XCTAssertEqual(try second.appliedMigrations(), ["v1", "v2", "v3", "v4"])
        XCTAssertEqual(try second.transaction { try $0.ecus() }.map(\.serial), ["SPK1"])
    }

    func testTheFleetQueriesUseIndexes() throws {
        _ = try PostgresCloudRepository(url: url)
        var indexes: [String] = []
        try PostgresTestServer.admin(PostgresTestServer.Server(url: databaseURL, directory: nil)) { session in
            indexes = try session.column(sql: "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname")
                .compactMap { $0 }
        }
        for name in ["subject_ids_serial", "certificates_serial", "verifiers_serial", "passwords_serial", "vehicles_vin",
                     "vehicle_owners_user", "pairing_links_verifier", "c2v_outbox_serial", "counters_pkey", "owner_pairing_pkey"] {
            XCTAssertTrue(indexes.contains(name), "\(name) in \(indexes)")
        }
    }

    func testALostConnectionIsMadeAgainAtTheNextTransaction() throws {
        let repository = try PostgresCloudRepository(url: url)
        try repository.transaction { try $0.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30], registeredAt: testDate)) }
        try PostgresTestServer.admin(server) { session in
            try session.execute(sql: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(databaseURL.database)'")
        }
        // The first transaction after the loss may fail (the client learns of it then); then it works again.
        var answer: [ECURecord]?
        for _ in 0..<3 where answer == nil { answer = try? repository.transaction { try $0.ecus() } }
        XCTAssertEqual(answer?.map(\.serial), ["SPK1"])
    }

    func testAQueryWithoutAnAnswerInTimeFailsAndClosesItsConnection() throws {
        let repository = try PostgresCloudRepository(url: url, answerTimeout: .milliseconds(500))
        try repository.transaction { try $0.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30], registeredAt: testDate)) }
        // Another session holds the table: the repository's SELECT gets no answer.
        let holder = try PostgresSession(url: databaseURL)
        defer { holder.close() }
        try holder.execute(sql: "BEGIN")
        try holder.execute(sql: "LOCK TABLE ecus IN ACCESS EXCLUSIVE MODE")
        XCTAssertThrowsError(try repository.transaction { try $0.ecus() }) { error in
            XCTAssertTrue("\(error)".contains("no answer"), "\(error)")
        }
        try holder.execute(sql: "COMMIT")
        XCTAssertEqual(try repository.transaction { try $0.ecus() }.map(\.serial), ["SPK1"], "the next transaction connects again")
        // The abandoned session ends once its statement is through (the server then sees the closed socket).
        let others = "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        var sessions: [String?] = []
        for _ in 0..<100 {
            sessions = try holder.column(sql: others)
            if sessions == ["1"] { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(sessions, ["1"], "only the repository's new session is left")
    }

    func testURLs() throws {
        let tcp = try PostgresURL("postgresql://alice:secret@db.example:6543/fleet")
        XCTAssertEqual(tcp.user, "alice")
        XCTAssertEqual(tcp.password, "secret")
        XCTAssertEqual(tcp.host, "db.example")
        XCTAssertEqual(tcp.port, 6543)
        XCTAssertEqual(tcp.database, "fleet")
        XCTAssertEqual(tcp.description, "postgres://alice@db.example:6543/fleet")
        let socket = try PostgresURL("postgres://postgres@/spaak?host=/tmp/pgt")
        XCTAssertEqual(socket.socketDirectory, "/tmp/pgt")
        XCTAssertEqual(socket.port, 5432)
        for bad in ["mysql://a@b/c", "postgres://host/db", "postgres://a@b", "postgres://a@b/c?sslmode=require", "postgres://a@b/c?host=rel"] {
            XCTAssertThrowsError(try PostgresURL(bad), bad)
        }
        XCTAssertThrowsError(try PostgresCloudRepository(url: "postgres://nobody@127.0.0.1:1/none")) { error in
            XCTAssertTrue("\(error)".contains("cannot connect"), "\(error)")
        }
    }

    /// Every store operation, in one script; the answers as text.
    private func exercise(_ repository: any CloudRepository) throws -> [String] {
        var answers: [String] = []
        func note(_ value: Any?) { answers.append(String(describing: value)) }
        try repository.transaction { store in
            for serial in ["SPK3", "SPK1", "SPK2"] {
                try store.saveECU(ECURecord(serial: serial, certificateDER: [0x30, 0x03], registeredAt: testDate))
            }
            try store.saveVehicle(VehicleRecord(serial: "SPK1", vin: "VF3ABCDEF12345678", drmUUID: Array(repeating: 7, count: 16)))
            try store.saveVehicle(VehicleRecord(serial: "SPK2", vin: "VF3ABCDEF12345678", lastUseCase:
                LastUseCaseRecord(useCase: "PP-01", message: "VehicleIdentityCSRRequest", accepted: false, error: "bad CSR", at: testDate)))
            try store.saveVehicle(VehicleRecord(serial: "SPK3", vin: nil))
            try store.saveVehicle(VehicleRecord(serial: "SPK3", vin: "VF3ABCDEF12345679", lastUseCase:
                LastUseCaseRecord(useCase: "SP-02", message: "RemoteServiceProvisioningRequest", accepted: true, at: testDate)))
            for (index, id) in ["B0", "A0", "C0"].enumerated() {
                try store.insertSubjectId(SubjectIdRecord(subjectId: id, serial: "SPK1", transactionId: [UInt8(index)],
                                                          issuedAt: testDate.addingTimeInterval(index == 2 ? -10 : 0)))
            }
            let c1 = try store.insertCertificate(CertificateRecord(serial: "SPK1", subjectId: "A0", der: [1], issuedAt: testDate))
            _ = try store.insertCertificate(CertificateRecord(serial: "SPK1", subjectId: "B0", der: [2], issuedAt: testDate, installStatus: 3))
            var certificate = try store.certificates(serial: "SPK1")[0]
            XCTAssertEqual(certificate.id, c1)
            certificate.installStatus = 0
            try store.updateCertificate(certificate)
            let v1 = try store.insertVerifier(VerifierRecord(serial: "SPK1", transactionId: [9], record: [1, 2], trigger: .push, createdAt: testDate))
            let v2 = try store.insertVerifier(VerifierRecord(serial: "SPK1", transactionId: [8], record: [3], trigger: .ownerKeyTermination,
                                                             createdAt: testDate.addingTimeInterval(60), status: 0))
            var first = try store.verifiers(serial: "SPK1")[0]
            first.revoked = true
            first.status = 1
            try store.updateVerifier(first)
            try store.savePassword(PasswordRecord(verifierId: v2, serial: "SPK1", password: "22222222"))
            try store.savePassword(PasswordRecord(verifierId: v1, serial: "SPK1", password: nil, endedAt: testDate, endReason: .replaced))
            try store.savePassword(PasswordRecord(verifierId: v2, serial: "SPK1", password: "22222222", channel: .app,
                                                  deliveryId: String(repeating: "a", count: 32), handedOutAt: testDate))
            try store.saveOwner(VehicleOwnerRecord(vin: "VF3ABCDEF12345678", user: "alice", email: "a@example.com", registeredAt: testDate))
            try store.saveOwner(VehicleOwnerRecord(vin: "VF3ABCDEF12345679", user: "alice", email: "a@example.com", registeredAt: testDate))
            // Replaced: now the newest binding.
            try store.saveOwner(VehicleOwnerRecord(vin: "VF3ABCDEF12345678", user: "alice", email: "b@example.com", registeredAt: testDate))
            let link = PairingLinkRecord(tokenHash: Array(repeating: 1, count: 32), verifierId: v2, vin: "VF3ABCDEF12345678", user: "alice",
                                         createdAt: testDate, expiresAt: testDate.addingTimeInterval(900), via: .email)
            try store.savePairingLink(link)
            try store.savePairingLink(PairingLinkRecord(tokenHash: Array(repeating: 2, count: 32), verifierId: v2, vin: "VF3ABCDEF12345678",
                                                        user: "alice", createdAt: testDate, expiresAt: testDate, via: .app))
            var redeemed = link
            redeemed.redeemedAt = testDate.addingTimeInterval(30)
            redeemed.vin = "IGNORED-BY-UPSERT"
            try store.savePairingLink(redeemed)
            try store.saveHotlineRequest(HotlineRequestRecord(id: String(repeating: "b", count: 32), vin: "VF3ABCDEF12345678", agent: "bob",
                                                              createdAt: testDate))
            try store.saveHotlineRequest(HotlineRequestRecord(id: String(repeating: "c", count: 32), vin: "VF3ABCDEF12345679", agent: "eve",
                                                              createdAt: testDate.addingTimeInterval(-1)))
            try store.saveHotlineRequest(HotlineRequestRecord(id: String(repeating: "b", count: 32), vin: "VF3ABCDEF12345678", agent: "bob",
                                                              createdAt: testDate, state: .sent, authorizedBy: "alice",
                                                              authorizedAt: testDate, messageId: "<m@x>"))
            try store.saveOwnerPairing(OwnerPairingRecord(serial: "SPK1", state: 1, modeRequestTransactionId: [1, 2], modeRequestedAt: testDate))
            try store.saveOwnerPairing(OwnerPairingRecord(serial: "SPK1", state: 3, ownerKeyId: Array(repeating: 5, count: 8), status: 0,
                                                          transactionId: [3], updatedAt: testDate, activeOwnerKeyId: Array(repeating: 5, count: 8)))
            try store.setCounter(serial: "SPK1", kind: .v2cAccepted, value: 7)
            try store.setCounter(serial: "SPK1", kind: .v2cAccepted, value: 8)
            try store.setCounter(serial: "SPK2", kind: .c2vSent, value: 1)
            try store.removeCounter(serial: "SPK2", kind: .c2vSent)
            _ = try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [1], createdAt: testDate))
            let gone = try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [2], createdAt: testDate))
            _ = try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [3], createdAt: testDate))
            try store.deleteC2V(id: gone)
            try store.announce(serial: "SPK1")
        }
        try repository.transaction { store in
            note(try store.ecus().map(\.serial))
            note(try store.ecu(serial: "SPK2"))
            note(try store.ecu(serial: "NONE"))
            note(try store.vehicle(serial: "SPK2"))
            note(try store.vehicle(serial: "SPK3"))
            note(try store.vehicles(vin: "VF3ABCDEF12345678"))
            note(try store.vehicle(vin: "VF3ABCDEF12345678")?.serial)
            note(try store.subjectIds(serial: "SPK1").map(\.subjectId))
            note(try store.subjectIdExists("A0"))
            note(try store.subjectIdExists("ZZ"))
            note(try store.certificates(serial: "SPK1").map { [$0.subjectId, "\($0.der)", "\(String(describing: $0.installStatus))"] })
            note(try store.verifiers(serial: "SPK1").map { "\($0.trigger) \(String(describing: $0.status)) \($0.revoked) \($0.record)" })
            note(try store.passwords(serial: "SPK1").map { "\($0.state) \(String(describing: $0.password)) \(String(describing: $0.deliveryId))" })
            note(try store.currentPasswordState(serial: "SPK1"))
            note(try store.owner(vin: "VF3ABCDEF12345678"))
            note(try store.owners(user: "alice").map(\.vin))
            note(try store.owners(user: "nobody"))
            let v2 = try store.verifiers(serial: "SPK1")[1].id ?? -1
            note(try store.pairingLinks(verifierId: v2).map { "\($0.tokenHash.first ?? 0) \($0.vin) \($0.via) \(String(describing: $0.redeemedAt))" })
            note(try store.pairingLink(tokenHash: Array(repeating: 2, count: 32))?.via)
            note(try store.hotlineRequests().map { "\($0.agent) \($0.state) \(String(describing: $0.messageId))" })
            note(try store.hotlineRequest(id: String(repeating: "b", count: 32)))
            note(try store.ownerPairing(serial: "SPK1"))
            note(try store.ownerPairing(serial: "SPK2"))
            note(try store.counter(serial: "SPK1", kind: .v2cAccepted))
            note(try store.counter(serial: "SPK2", kind: .c2vSent))
            note(try store.pendingC2V(serial: "SPK1").map(\.bytes))
            note(try store.summary().ecus.map { "\($0.serial) \(String(describing: $0.subjectId)) \($0.passwordState) \(String(describing: $0.owner))" })
        }
        return answers
    }
}
