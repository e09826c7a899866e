import CloudSimulator
import Foundation
import PostgresNIO
import Synchronization

/// The VOS state in PostgreSQL, shared by several VOS instances of one fleet.
///
/// Synchronous like every `CloudRepository`: called from the simulator's event loop thread
/// (never from a NIO thread), each query waits for its answer on the repository's one
/// connection (reconnected at the next transaction after it was lost). Every `transaction` is
/// `BEGIN ISOLATION LEVEL SERIALIZABLE` … `COMMIT`: two instances' read-modify-writes (a C2V
/// counter, a pairing password handed out, a subject id) behave as if one ran after the
/// other. A serialization failure (SQLSTATE 40001, or a deadlock 40P01) runs the whole body
/// again after a random pause of up to 1, 2, 4 … 64 ms, up to `maxAttempts` times in all,
/// counted in `retries`; so a body must have no effect outside the store. The schema is GRDB's (`PostgresMigrations`), migrated at `init`
/// under an advisory lock (two instances may start at once).
public final class PostgresCloudRepository: CloudRepository {
    /// The LISTEN/NOTIFY channel of `CloudStore.announce(serial:)`; the payload is the serial.
    public static let notificationChannel = "spaak_c2v"
    /// How many times a transaction runs at most (the first attempt and the retries).
    public static let maxAttempts = 9

    private let session: PostgresSession
    private let retryCount = Mutex<Int>(0)

    /// The serialization failures retried so far (the `db_retries` of the VOS's `stats`).
    public var retries: Int { retryCount.withLock { $0 } }

    /// Connects to `url` (see `PostgresURL`) and migrates the database. A query (or a
    /// connection) without an answer within `answerTimeout` fails its transaction and closes the
    /// connection (`PostgresSession`), so a stalled database or client never holds the caller.
    public init(url: String, answerTimeout: Duration = .seconds(10), logger: Logger = Logger(label: "spaak.cloud.postgres")) throws {
        let parsed: PostgresURL
        do { parsed = try PostgresURL(url) } catch { throw CloudRepositoryError.database(error.description) }
        session = try PostgresSession(url: parsed, answerTimeout: answerTimeout, logger: logger)
        do {
            try PostgresMigrations.migrate(session)
        } catch {
            session.close()
            throw error
        }
    }

    deinit { session.close() }

    /// The migrations applied to the database, in order.
    public func appliedMigrations() throws -> [String] {
        try session.connect()
        return try PostgresMigrations.applied(session)
    }

    /// Runs `body` in one serializable transaction, again after a serialization failure.
    public func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
        var attempt = 1
        while true {
            try session.connect()
            session.serializationFailure = false
            do {
                try session.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                let result = try body(PostgresCloudStore(session: session))
                try session.execute("COMMIT")
                return result
            } catch {
                // After a failed statement (or a failed COMMIT) the transaction is aborted:
                // ROLLBACK ends it (a warning only when it is already over).
                _ = try? session.execute("ROLLBACK")
                guard session.serializationFailure, attempt < Self.maxAttempts else { throw error }
                retryCount.withLock { $0 += 1 }
                session.logger.debug("serialization failure, transaction run again", metadata: ["attempt": "\(attempt + 1)"])
                // Two instances that collided would collide again in lock-step: a random pause
                // (up to 1, 2, 4 … 64 ms) lets one of them through first.
                Thread.sleep(forTimeInterval: Double.random(in: 0...(0.001 * Double(1 << min(attempt - 1, 6)))))
                attempt += 1
            }
        }
    }

    /// Closes the connection (the next transaction opens a new one).
    public func close() { session.close() }
}
