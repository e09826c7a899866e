import Foundation
import GRDB

extension GRDBCloudRepository {
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
        migrator.registerMigration("v3") { db in
            // SQLite cannot relax `password NOT NULL`: a new table, the rows copied, the old
            // one dropped, the new one renamed (GRDB runs a migration with foreign key checks
            // deferred to its end).
            try db.execute(sql: """
                CREATE TABLE passwords_v3 (
                    verifier_id INTEGER PRIMARY KEY NOT NULL REFERENCES verifiers(id) ON DELETE CASCADE,
                    serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                    password TEXT,
                    delivered_at DATETIME,
                    channel TEXT,
                    delivery_id TEXT,
                    handed_out_at DATETIME,
                    ended_at DATETIME,
                    end_reason TEXT);
                INSERT INTO passwords_v3 (verifier_id, serial, password, delivered_at)
                    SELECT verifier_id, serial, password, delivered_at FROM passwords;
                DROP TABLE passwords;
                ALTER TABLE passwords_v3 RENAME TO passwords;
                CREATE INDEX passwords_serial ON passwords(serial);
                -- Delivered before v3: by the operator (`ctl password`); the VOS forgets them.
                UPDATE passwords SET password = NULL, channel = 'operator' WHERE delivered_at IS NOT NULL;
                -- A password whose verifier has a newer one was replaced when that one was made.
                UPDATE passwords SET password = NULL, end_reason = 'replaced',
                    ended_at = (SELECT MIN(v.created_at) FROM verifiers v
                                WHERE v.serial = passwords.serial AND v.id > passwords.verifier_id)
                    WHERE EXISTS (SELECT 1 FROM verifiers v WHERE v.serial = passwords.serial AND v.id > passwords.verifier_id);

                ALTER TABLE vehicles ADD COLUMN last_use_case TEXT;
                ALTER TABLE vehicles ADD COLUMN last_message TEXT;
                ALTER TABLE vehicles ADD COLUMN last_outcome TEXT;
                ALTER TABLE vehicles ADD COLUMN last_error TEXT;
                ALTER TABLE vehicles ADD COLUMN last_at DATETIME;
                CREATE INDEX vehicles_vin ON vehicles(vin);

                CREATE TABLE vehicle_owners (
                    vin TEXT PRIMARY KEY NOT NULL,
                    "user" TEXT NOT NULL,
                    email TEXT NOT NULL,
                    registered_at DATETIME NOT NULL);
                CREATE INDEX vehicle_owners_user ON vehicle_owners("user");

                CREATE TABLE pairing_links (
                    token_hash BLOB PRIMARY KEY NOT NULL,
                    verifier_id INTEGER NOT NULL REFERENCES verifiers(id) ON DELETE CASCADE,
                    vin TEXT NOT NULL,
                    "user" TEXT NOT NULL,
                    created_at DATETIME NOT NULL,
                    expires_at DATETIME NOT NULL,
                    redeemed_at DATETIME,
                    replaced_at DATETIME,
                    via TEXT NOT NULL);
                CREATE INDEX pairing_links_verifier ON pairing_links(verifier_id);

                CREATE TABLE hotline_requests (
                    id TEXT PRIMARY KEY NOT NULL,
                    vin TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    created_at DATETIME NOT NULL,
                    state TEXT NOT NULL,
                    authorized_by TEXT,
                    authorized_at DATETIME,
                    message_id TEXT,
                    failure TEXT);
                """)
        }
        migrator.registerMigration("v4") { db in
            // The VOS service's outbox (issue 12): C2V pushes waiting for their vehicle's TBM connection.
            try db.execute(sql: """
                CREATE TABLE c2v_outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    serial TEXT NOT NULL,
                    bytes BLOB NOT NULL,
                    created_at DATETIME NOT NULL);
                CREATE INDEX c2v_outbox_serial ON c2v_outbox(serial, id);
                """)
        }
        return migrator
    }

    /// Migrates the database at `path` up to (and including) `version` only: for tests of
    /// the upgrade path, which need a database as an older release left it.
    static func migrate(path: String, upTo version: String) throws {
        let queue = try DatabaseQueue(path: path)
        try migrator.migrate(queue, upTo: version)
    }

    /// Runs `sql` on the database at `path` as it is (no migration): for tests of the upgrade
    /// path, which fill a database of an older schema.
    static func execute(path: String, sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: sql) }
    }

    /// The applied migrations of the database at `path`.
    static func appliedMigrations(path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in try migrator.appliedMigrations(db) }
    }
}
