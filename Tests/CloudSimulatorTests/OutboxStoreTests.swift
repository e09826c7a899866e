@testable import CloudSimulator
import Foundation
import Testing

/// The C2V outbox of the VOS service (migration v4): queued, listed oldest first per vehicle,
/// deleted once; kept or dropped with its transaction.
@Suite("VOS repository v4: the C2V outbox")
struct OutboxStoreTests {
    @Test("Queued pushes come back per serial, oldest first, with their bytes and dates", arguments: RepositoryKind.allCases)
    func enqueueAndList(kind: RepositoryKind) throws {
        let repository = try kind.make()
        let ids = try repository.transaction { store in
            [try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [1, 2, 3], createdAt: testDate)),
             try store.enqueueC2V(C2VOutboxRecord(serial: "SPK2", bytes: [9], createdAt: testDate)),
             try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [4], createdAt: testDate.addingTimeInterval(1)))]
        }
        #expect(Set(ids).count == 3)
        let pending = try repository.transaction { try $0.pendingC2V(serial: "SPK1") }
        #expect(pending == [C2VOutboxRecord(id: ids[0], serial: "SPK1", bytes: [1, 2, 3], createdAt: testDate),
                            C2VOutboxRecord(id: ids[2], serial: "SPK1", bytes: [4], createdAt: testDate.addingTimeInterval(1))])
        #expect(try repository.transaction { try $0.pendingC2V(serial: "SPK2") }.map(\.bytes) == [[9]])
        #expect(try repository.transaction { try $0.pendingC2V(serial: "SPK3") }.isEmpty)
    }

    @Test("A deleted push is gone; deleting it again (or an unknown id) is no error", arguments: RepositoryKind.allCases)
    func delete(kind: RepositoryKind) throws {
        let repository = try kind.make()
        let id = try repository.transaction { try $0.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [1], createdAt: testDate)) }
        let other = try repository.transaction { try $0.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [2], createdAt: testDate)) }
        try repository.transaction { try $0.deleteC2V(id: id) }
        try repository.transaction { try $0.deleteC2V(id: id) }
        try repository.transaction { try $0.deleteC2V(id: 999_999) }
        #expect(try repository.transaction { try $0.pendingC2V(serial: "SPK1") }.map(\.id) == [other])
    }

    @Test("A push queued (and announced) in a transaction that throws is not kept", arguments: RepositoryKind.allCases)
    func rollback(kind: RepositoryKind) throws {
        struct Abort: Error {}
        let repository = try kind.make()
        #expect(throws: Abort.self) {
            try repository.transaction { store in
                _ = try store.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [1], createdAt: testDate))
                try store.announce(serial: "SPK1")
                throw Abort()
            }
        }
        #expect(try repository.transaction { try $0.pendingC2V(serial: "SPK1") }.isEmpty)
    }

    @Test("v3 → v4: an older database gets the outbox and keeps its rows")
    func upgrade() throws {
        let path = temporaryPath("v3.sqlite")
        try GRDBCloudRepository.migrate(path: path, upTo: "v3")
        try GRDBCloudRepository.execute(path: path, sql: """
            INSERT INTO ecus (serial, certificate, registered_at) VALUES ('SPK1', x'3000', '2027-01-15 08:00:00.000');
            """)
        let repository = try GRDBCloudRepository(path: path)
        #expect(try GRDBCloudRepository.appliedMigrations(path: path).last == "v4")
        #expect(try repository.transaction { try $0.ecu(serial: "SPK1") }?.certificateDER == [0x30, 0x00])
        let id = try repository.transaction { try $0.enqueueC2V(C2VOutboxRecord(serial: "SPK1", bytes: [7], createdAt: testDate)) }
        // A second process (a restart) sees the queued push.
        let reopened = try GRDBCloudRepository(path: path)
        #expect(try reopened.transaction { try $0.pendingC2V(serial: "SPK1") }.map(\.id) == [id])
    }
}
