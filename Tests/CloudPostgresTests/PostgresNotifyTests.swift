@testable import CloudPostgres
import CloudSimulator
import Foundation
import Synchronization
import XCTest

/// `announce(serial:)` (pg_notify at commit) and `PostgresNotificationListener` (LISTEN on a
/// connection of its own, made again when it drops).
final class PostgresNotifyTests: PostgresTestCase {
    /// What a listener saw.
    final class Seen: Sendable {
        let payloads = Mutex<[String]>([])
        let listening = Mutex(0)

        /// Waits up to `seconds` for `condition`.
        func wait(_ seconds: Double, _ condition: (Seen) -> Bool) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if condition(self) { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return condition(self)
        }
    }

    private func listener(_ seen: Seen) throws -> PostgresNotificationListener {
        try PostgresNotificationListener(url: url, onListening: { seen.listening.withLock { $0 += 1 } },
                                         handler: { payload in seen.payloads.withLock { $0.append(payload) } })
    }

    func testAnAnnouncementArrivesAtCommitOnly() throws {
        let seen = Seen()
        let listener = try listener(seen)
        listener.start()
        defer { listener.stop() }
        XCTAssertTrue(seen.wait(10) { $0.listening.withLock { $0 } == 1 })
        let repository = try PostgresCloudRepository(url: url)
        struct Abort: Error {}
        XCTAssertThrowsError(try repository.transaction { store in
            try store.announce(serial: "SPK-ROLLED-BACK")
            throw Abort()
        })
        try repository.transaction { store in
            try store.announce(serial: "SPK1")
            // Not before the commit.
            Thread.sleep(forTimeInterval: 0.2)
            XCTAssertEqual(seen.payloads.withLock { $0 }, [])
        }
        try repository.transaction { try $0.announce(serial: "SPK2") }
        XCTAssertTrue(seen.wait(10) { $0.payloads.withLock { $0 }.count == 2 })
        XCTAssertEqual(seen.payloads.withLock { $0 }, ["SPK1", "SPK2"])
    }

    func testTheListenerReconnectsAfterItsConnectionDrops() throws {
        let seen = Seen()
        let listener = try listener(seen)
        listener.start()
        defer { listener.stop() }
        XCTAssertTrue(seen.wait(10) { $0.listening.withLock { $0 } == 1 })
        try PostgresTestServer.admin(server) { session in
            try session.execute(sql: """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = '\(databaseURL.database)' AND pid <> pg_backend_pid()
                """)
        }
        XCTAssertTrue(seen.wait(15) { $0.listening.withLock { $0 } == 2 }, "listening \(seen.listening.withLock { $0 }) times")
        try PostgresCloudRepository(url: url).transaction { try $0.announce(serial: "SPK3") }
        XCTAssertTrue(seen.wait(10) { $0.payloads.withLock { $0 } == ["SPK3"] }, "\(seen.payloads.withLock { $0 })")
    }

    func testStopEndsTheListener() throws {
        let seen = Seen()
        let listener = try listener(seen)
        listener.start()
        XCTAssertTrue(seen.wait(10) { $0.listening.withLock { $0 } == 1 })
        listener.stop()
        try PostgresCloudRepository(url: url).transaction { try $0.announce(serial: "SPK4") }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(seen.payloads.withLock { $0 }, [])
        // A listener that cannot connect keeps trying and stops when told.
        let lost = try PostgresNotificationListener(url: "postgres://nobody@127.0.0.1:1/none", handler: { _ in })
        lost.start()
        Thread.sleep(forTimeInterval: 0.3)
        lost.stop()
    }
}
