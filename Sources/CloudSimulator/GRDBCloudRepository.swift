import Foundation
import GRDB

/// The VOS state in an SQLite file (GRDB), so that the simulator survives restarts.
///
/// Tables (migration `v1`): `ecus`, `vehicles`, `subject_ids`, `certificates`, `verifiers`,
/// `passwords`, `counters`; migration `v2` (owner pairing, ICD 8.5): `owner_pairing`. Every `transaction` is one SQLite transaction. Other
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

    /// The schema, one migration per version.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE ecus (
                    serial TEXT PRIMARY KEY NOT NULL,
                    certificate BLOB NOT NULL,
                    registered_at DATETIME NOT NULL);
                CREATE TABLE vehicles (
                    serial TEXT PRIMARY KEY NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    vin TEXT,
                    drm_uuid BLOB);
                CREATE TABLE subject_ids (
                    subject_id TEXT PRIMARY KEY NOT NULL,
                    serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    transaction_id BLOB NOT NULL,
                    issued_at DATETIME NOT NULL);
                CREATE TABLE certificates (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    subject_id TEXT NOT NULL REFERENCES subject_ids(subject_id),
                    der BLOB NOT NULL,
                    issued_at DATETIME NOT NULL,
                    install_status INTEGER);
                CREATE TABLE verifiers (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    transaction_id BLOB NOT NULL,
                    record BLOB NOT NULL,
                    trigger INTEGER NOT NULL,
                    created_at DATETIME NOT NULL,
                    status INTEGER,
                    revoked BOOLEAN NOT NULL DEFAULT 0);
                CREATE TABLE passwords (
                    verifier_id INTEGER PRIMARY KEY NOT NULL REFERENCES verifiers(id) ON DELETE CASCADE,
                    serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    password TEXT NOT NULL,
                    delivered_at DATETIME);
                CREATE TABLE counters (
                    serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    value INTEGER NOT NULL,
                    PRIMARY KEY (serial, kind));
                CREATE INDEX subject_ids_serial ON subject_ids(serial);
                CREATE INDEX certificates_serial ON certificates(serial);
                CREATE INDEX verifiers_serial ON verifiers(serial);
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE owner_pairing (
                    serial TEXT PRIMARY KEY NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    state INTEGER,
                    owner_key_id BLOB,
                    status INTEGER,
                    transaction_id BLOB,
                    updated_at DATETIME,
                    mode_request_transaction_id BLOB,
                    mode_requested_at DATETIME,
                    mode_answered_at DATETIME,
                    active_owner_key_id BLOB,
                    terminated_owner_key_id BLOB,
                    terminated_at DATETIME);
                """)
        }
        return migrator
    }

    /// Runs `body` in one SQLite write transaction (rolled back if it throws).
    public func transaction<T>(_ body: (any CloudStore) throws -> T) throws -> T {
        do {
            return try queue.write { db in try body(Store(db: db)) }
        } catch let error as DatabaseError {
            throw CloudRepositoryError.database(error.description)
        }
    }

    private struct Store: CloudStore {
        let db: Database

        func ecu(serial: String) throws -> ECURecord? {
            try Row.fetchOne(db, sql: "SELECT * FROM ecus WHERE serial = ?", arguments: [serial]).map(Self.ecu)
        }
        func saveECU(_ ecu: ECURecord) throws {
            try db.execute(sql: """
                INSERT INTO ecus (serial, certificate, registered_at) VALUES (?, ?, ?)
                ON CONFLICT(serial) DO UPDATE SET certificate = excluded.certificate, registered_at = excluded.registered_at
                """, arguments: [ecu.serial, Data(ecu.certificateDER), ecu.registeredAt])
        }
        func ecus() throws -> [ECURecord] {
            try Row.fetchAll(db, sql: "SELECT * FROM ecus ORDER BY serial").map(Self.ecu)
        }

        func vehicle(serial: String) throws -> VehicleRecord? {
            try Row.fetchOne(db, sql: "SELECT * FROM vehicles WHERE serial = ?", arguments: [serial]).map { row in
                VehicleRecord(serial: row["serial"], vin: row["vin"], drmUUID: (row["drm_uuid"] as Data?).map { [UInt8]($0) })
            }
        }
        func saveVehicle(_ vehicle: VehicleRecord) throws {
            try db.execute(sql: "INSERT OR REPLACE INTO vehicles (serial, vin, drm_uuid) VALUES (?, ?, ?)",
                           arguments: [vehicle.serial, vehicle.vin, vehicle.drmUUID.map { Data($0) }])
        }

        func subjectIds(serial: String) throws -> [SubjectIdRecord] {
            try Row.fetchAll(db, sql: "SELECT * FROM subject_ids WHERE serial = ? ORDER BY issued_at, rowid",
                             arguments: [serial]).map { row in
                SubjectIdRecord(subjectId: row["subject_id"], serial: row["serial"],
                                transactionId: [UInt8](row["transaction_id"] as Data), issuedAt: row["issued_at"])
            }
        }
        func subjectIdExists(_ subjectId: String) throws -> Bool {
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM subject_ids WHERE subject_id = ?)", arguments: [subjectId]) ?? false
        }
        func insertSubjectId(_ record: SubjectIdRecord) throws {
            guard try !subjectIdExists(record.subjectId) else { throw CloudRepositoryError.duplicate("subject id \(record.subjectId)") }
            try db.execute(sql: "INSERT INTO subject_ids (subject_id, serial, transaction_id, issued_at) VALUES (?, ?, ?, ?)",
                           arguments: [record.subjectId, record.serial, Data(record.transactionId), record.issuedAt])
        }

        func certificates(serial: String) throws -> [CertificateRecord] {
            try Row.fetchAll(db, sql: "SELECT * FROM certificates WHERE serial = ? ORDER BY id", arguments: [serial]).map { row in
                CertificateRecord(id: row["id"], serial: row["serial"], subjectId: row["subject_id"],
                                  der: [UInt8](row["der"] as Data), issuedAt: row["issued_at"],
                                  installStatus: (row["install_status"] as Int?).map { UInt8(truncatingIfNeeded: $0) })
            }
        }
        func insertCertificate(_ record: CertificateRecord) throws -> Int64 {
            try db.execute(sql: """
                INSERT INTO certificates (serial, subject_id, der, issued_at, install_status) VALUES (?, ?, ?, ?, ?)
                """, arguments: [record.serial, record.subjectId, Data(record.der), record.issuedAt, record.installStatus.map { Int($0) }])
            return db.lastInsertedRowID
        }
        func updateCertificate(_ record: CertificateRecord) throws {
            try db.execute(sql: "UPDATE certificates SET install_status = ? WHERE id = ?",
                           arguments: [record.installStatus.map { Int($0) }, record.id])
            guard db.changesCount == 1 else { throw CloudRepositoryError.notFound("certificate \(record.id.map(String.init) ?? "nil")") }
        }

        func verifiers(serial: String) throws -> [VerifierRecord] {
            try Row.fetchAll(db, sql: "SELECT * FROM verifiers WHERE serial = ? ORDER BY id", arguments: [serial]).map { row in
                VerifierRecord(id: row["id"], serial: row["serial"], transactionId: [UInt8](row["transaction_id"] as Data),
                               record: [UInt8](row["record"] as Data),
                               trigger: VerifierTrigger(rawValue: row["trigger"]) ?? .push, createdAt: row["created_at"],
                               status: (row["status"] as Int?).map { UInt8(truncatingIfNeeded: $0) }, revoked: row["revoked"])
            }
        }
        func insertVerifier(_ record: VerifierRecord) throws -> Int64 {
            try db.execute(sql: """
                INSERT INTO verifiers (serial, transaction_id, record, trigger, created_at, status, revoked)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.serial, Data(record.transactionId), Data(record.record), record.trigger.rawValue,
                                 record.createdAt, record.status.map { Int($0) }, record.revoked])
            return db.lastInsertedRowID
        }
        func updateVerifier(_ record: VerifierRecord) throws {
            try db.execute(sql: "UPDATE verifiers SET status = ?, revoked = ? WHERE id = ?",
                           arguments: [record.status.map { Int($0) }, record.revoked, record.id])
            guard db.changesCount == 1 else { throw CloudRepositoryError.notFound("verifier \(record.id.map(String.init) ?? "nil")") }
        }

        func password(verifierId: Int64) throws -> PasswordRecord? {
            try Row.fetchOne(db, sql: "SELECT * FROM passwords WHERE verifier_id = ?", arguments: [verifierId]).map { row in
                PasswordRecord(verifierId: row["verifier_id"], serial: row["serial"], password: row["password"],
                               deliveredAt: row["delivered_at"])
            }
        }
        func savePassword(_ record: PasswordRecord) throws {
            try db.execute(sql: "INSERT OR REPLACE INTO passwords (verifier_id, serial, password, delivered_at) VALUES (?, ?, ?, ?)",
                           arguments: [record.verifierId, record.serial, record.password, record.deliveredAt])
        }

        func ownerPairing(serial: String) throws -> OwnerPairingRecord? {
            try Row.fetchOne(db, sql: "SELECT * FROM owner_pairing WHERE serial = ?", arguments: [serial]).map { row in
                OwnerPairingRecord(
                    serial: row["serial"], state: Self.byte(row["state"]), ownerKeyId: Self.bytes(row["owner_key_id"]),
                    status: Self.byte(row["status"]), transactionId: Self.bytes(row["transaction_id"]), updatedAt: row["updated_at"],
                    modeRequestTransactionId: Self.bytes(row["mode_request_transaction_id"]),
                    modeRequestedAt: row["mode_requested_at"], modeAnsweredAt: row["mode_answered_at"],
                    activeOwnerKeyId: Self.bytes(row["active_owner_key_id"]),
                    terminatedOwnerKeyId: Self.bytes(row["terminated_owner_key_id"]), terminatedAt: row["terminated_at"])
            }
        }
        func saveOwnerPairing(_ record: OwnerPairingRecord) throws {
            try db.execute(sql: """
                INSERT OR REPLACE INTO owner_pairing (serial, state, owner_key_id, status, transaction_id, updated_at,
                    mode_request_transaction_id, mode_requested_at, mode_answered_at, active_owner_key_id,
                    terminated_owner_key_id, terminated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    record.serial, record.state.map { Int($0) }, record.ownerKeyId.map { Data($0) }, record.status.map { Int($0) },
                    record.transactionId.map { Data($0) }, record.updatedAt, record.modeRequestTransactionId.map { Data($0) },
                    record.modeRequestedAt, record.modeAnsweredAt, record.activeOwnerKeyId.map { Data($0) },
                    record.terminatedOwnerKeyId.map { Data($0) }, record.terminatedAt,
                ])
        }

        func counter(serial: String, kind: CounterKind) throws -> UInt32? {
            try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE serial = ? AND kind = ?", arguments: [serial, kind.rawValue])
                .map { UInt32(truncatingIfNeeded: $0) }
        }
        func setCounter(serial: String, kind: CounterKind, value: UInt32) throws {
            try db.execute(sql: "INSERT OR REPLACE INTO counters (serial, kind, value) VALUES (?, ?, ?)",
                           arguments: [serial, kind.rawValue, Int64(value)])
        }

        func removeCounter(serial: String, kind: CounterKind) throws {
            try db.execute(sql: "DELETE FROM counters WHERE serial = ? AND kind = ?", arguments: [serial, kind.rawValue])
        }

        /// A nullable small integer column as a byte.
        private static func byte(_ value: Int?) -> UInt8? { value.map { UInt8(truncatingIfNeeded: $0) } }
        /// A nullable BLOB column as bytes.
        private static func bytes(_ value: Data?) -> [UInt8]? { value.map { [UInt8]($0) } }

        private static func ecu(_ row: Row) -> ECURecord {
            ECURecord(serial: row["serial"], certificateDER: [UInt8](row["certificate"] as Data), registeredAt: row["registered_at"])
        }
    }
}
