@testable import CloudPostgres
import CloudProtocol
import CloudSimulator
import Foundation
import Synchronization
import XCTest

/// Two VOS instances on one database: two repositories (two connections) on two threads,
/// racing the read-modify-writes a fleet depends on. Serializable transactions, run again
/// after a serialization failure, must make them behave as if one ran after the other.
final class PostgresRaceTests: PostgresTestCase {
    /// The registered ECU of these tests.
    private func registerECU() throws {
        let repository = try PostgresCloudRepository(url: url)
        try repository.transaction { try $0.saveECU(ECURecord(serial: "SPK1", certificateDER: [0x30], registeredAt: testDate)) }
    }

    func testTheC2VCounterIsNeverUsedTwice() throws {
        try registerECU()
        let rounds = 40
        let taken = Mutex<[UInt32]>([])
        let retries = Mutex(0)
        let url = self.url
        try concurrently(2) { _ in
            let repository = try PostgresCloudRepository(url: url)
            for _ in 0..<rounds {
                // The VOS's next C2V counter (VehicleOEMServer.emit): read, add one, write.
                let counter = try repository.transaction { store -> UInt32 in
                    let next = (try store.counter(serial: "SPK1", kind: .c2vSent) ?? 0) &+ 1
                    try store.setCounter(serial: "SPK1", kind: .c2vSent, value: next)
                    return next
                }
                taken.withLock { $0.append(counter) }
            }
            retries.withLock { $0 += repository.retries }
        }
        let values = taken.withLock { $0 }
        XCTAssertEqual(values.count, 2 * rounds)
        XCTAssertEqual(Set(values).count, values.count, "a C2V counter was handed out twice")
        XCTAssertEqual(values.max(), UInt32(2 * rounds))
        let final = try PostgresCloudRepository(url: url).transaction { try $0.counter(serial: "SPK1", kind: .c2vSent) }
        XCTAssertEqual(final, UInt32(2 * rounds))
        print("c2v counter race: \(retries.withLock { $0 }) serialization failures retried")
    }

    func testPushesFromTwoVOSInstancesCarryDistinctCounters() throws {
        let module = try TestModule()
        let url = self.url
        let setup = VehicleOEMServer(hierarchy: sharedPKI, repository: try PostgresCloudRepository(url: url),
                                     configuration: VOSConfiguration(scryptN: 1024))
        _ = try setup.registerECU(certificate: module.certificateDER, date: testDate)
        let counters = Mutex<[UInt32]>([])
        let serial = module.serial
        try concurrently(2) { _ in
            let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try PostgresCloudRepository(url: url),
                                       configuration: VOSConfiguration(scryptN: 1024))
            for _ in 0..<4 {
                let result = try vos.pushVerifier(serial: serial, date: testDate)
                for transmission in result.transmissions {
                    let counter = try CloudMessageCodec.decode(transmission.bytes).message.counter
                    counters.withLock { $0.append(counter) }
                }
            }
        }
        let values = counters.withLock { $0 }
        XCTAssertEqual(values.count, 8)
        XCTAssertEqual(Set(values), Set(1...8))
        let verifiers = try PostgresCloudRepository(url: url).transaction { try $0.verifiers(serial: module.serial) }
        XCTAssertEqual(verifiers.count, 8)
        XCTAssertEqual(verifiers.filter { !$0.revoked }.count, 1, "exactly the newest verifier is current")
    }

    func testAPairingPasswordIsHandedOutOnce() throws {
        try registerECU()
        let url = self.url
        let setup = try PostgresCloudRepository(url: url)
        let rounds = 12
        for round in 0..<rounds {
            // A current verifier, installed (status 0), with its password available.
            try setup.transaction { store in
                for var old in try store.verifiers(serial: "SPK1") where !old.revoked {
                    old.revoked = true
                    try store.updateVerifier(old)
                }
                let id = try store.insertVerifier(VerifierRecord(serial: "SPK1", transactionId: [UInt8(round)], record: [1],
                                                                 trigger: .push, createdAt: testDate, status: 0))
                try store.savePassword(PasswordRecord(verifierId: id, serial: "SPK1", password: String(format: "%08d", round)))
            }
            let handed = Mutex<[String]>([])
            let refused = Mutex<[String]>([])
            try concurrently(2) { _ in
                let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try PostgresCloudRepository(url: url))
                do {
                    // `ctl password`: read the password, mark it delivered, forget it.
                    let password = try vos.handOutPassword(serial: "SPK1", date: testDate)
                    handed.withLock { $0.append(password) }
                } catch let error as VOSCommandError {
                    refused.withLock { $0.append(error.description) }
                }
            }
            XCTAssertEqual(handed.withLock { $0 }, [String(format: "%08d", round)], "round \(round)")
            XCTAssertEqual(refused.withLock { $0.count }, 1, "round \(round)")
            XCTAssertTrue(refused.withLock { $0.first ?? "" }.contains("already delivered"), "\(refused.withLock { $0 })")
        }
        XCTAssertEqual(try setup.transaction { try $0.currentPasswordState(serial: "SPK1") }, .delivered)
    }

    func testSubjectIdsAreUniqueUnderContention() throws {
        try registerECU()
        let url = self.url
        let issued = Mutex<[String]>([])
        let perThread = 24
        try concurrently(2) { thread in
            let repository = try PostgresCloudRepository(url: url)
            var generator = SystemRandomNumberGenerator()
            for index in 0..<perThread {
                // The VOS's newSubjectId: a candidate not issued before, then inserted; from a
                // space of 64 so that the two threads pick the same one often.
                let id = try repository.transaction { store -> String in
                    for _ in 0..<256 {
                        let candidate = String(format: "%016X", Int.random(in: 0..<64, using: &generator))
                        if try !store.subjectIdExists(candidate) {
                            try store.insertSubjectId(SubjectIdRecord(subjectId: candidate, serial: "SPK1",
                                                                      transactionId: [UInt8(thread), UInt8(index)], issuedAt: testDate))
                            return candidate
                        }
                    }
                    throw PostgresTestError("no free candidate")
                }
                issued.withLock { $0.append(id) }
            }
        }
        let ids = issued.withLock { $0 }
        XCTAssertEqual(ids.count, 2 * perThread)
        XCTAssertEqual(Set(ids).count, ids.count, "a subject id was issued twice")
        let stored = try PostgresCloudRepository(url: url).transaction { try $0.subjectIds(serial: "SPK1") }
        XCTAssertEqual(Set(stored.map(\.subjectId)), Set(ids))
    }

    func testTwoInstancesMigrateAtOnce() throws {
        let url = self.url
        let applied = Mutex<[[String]]>([])
        try concurrently(3) { _ in
            let repository = try PostgresCloudRepository(url: url)
            let versions = try repository.appliedMigrations()
            applied.withLock { $0.append(versions) }
        }
        XCTAssertEqual(applied.withLock { $0 }, Array(repeating: ["v1", "v2", "v3", "v4"], count: 3))
        var rows = 0
        try PostgresTestServer.admin(PostgresTestServer.Server(url: databaseURL, directory: nil)) { session in
            rows = try session.column(sql: "SELECT count(*)::text FROM schema_migrations").first.flatMap { $0 }.flatMap { Int($0) } ?? -1
        }
        XCTAssertEqual(rows, 4)
    }
}
