import Foundation
import GRDB

/// The VOS state in an SQLite file (GRDB), so that the simulator survives restarts.
///
/// Tables (migration `v1`): `ecus`, `vehicles`, `subject_ids`, `certificates`, `verifiers`,
/// `passwords`, `counters`; migration `v2` (owner pairing, ICD 8.5): `owner_pairing`;
/// migration `v3` (owner services, OP-01a/b): the password lifecycle columns, the vehicles'
/// last use case, `vehicle_owners`, `pairing_links`, `hotline_requests`; migration `v4` (the
/// VOS service): `c2v_outbox` (see `GRDBCloudRepository+Migrations.swift`). Every `transaction` is one SQLite transaction. Other
/// processes (e.g. `spaak-cloud register-ecu`) may use the file at the same time: a busy
/// database is waited for up to 5 s.
public final class GRDBCloudRepository: CloudRepository {
    private let queue: DatabaseQueue

    /// Opens (creating if needed) the database at `path` and migrates it; `nil` path opens a
    /// private in-memory database.
    public init(path: String?) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        // A forgotten pairing password (set to NULL once delivered or ended) must not linger
        // in the file's free pages.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        do {
            if let path {
                queue = try DatabaseQueue(path: path, configuration: configuration)
            } else {
                queue = try DatabaseQueue(configuration: configuration)
            }
            try Self.migrator.migrate(queue)
        } catch let error as DatabaseError {
            throw CloudRepositoryError.database(error.description)
        }
    }

    /// Runs `body` in one SQLite write transaction (rolled back if it throws).
    public func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
        do {
            return try queue.write { db in try body(GRDBCloudStore(db: db)) }
        } catch let error as DatabaseError {
            throw CloudRepositoryError.database(error.description)
        }
    }
}
