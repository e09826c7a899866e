import CloudSimulator
import PostgresNIO

/// The PostgreSQL schema: GRDB's migrations `v1` … `v4` (`GRDBCloudRepository+Migrations`)
/// with the same tables, columns and constraints in PostgreSQL types (BYTEA, TIMESTAMPTZ,
/// BIGINT identities), the same names, and indexes for the per-vehicle queries of a fleet.
/// Where SQLite orders by `rowid`, a `seq` identity column keeps the insertion order. GRDB's
/// `v3` data conversions have no PostgreSQL counterpart: no PostgreSQL database predates `v4`.
///
/// Applied versions are rows of `schema_migrations`; `migrate` holds
/// `pg_advisory_lock(lockKey)` throughout, so a second VOS instance starting at the same time
/// waits and then finds everything applied. Each version is one transaction.
enum PostgresMigrations {
    /// The advisory lock of the migrations (any constant the fleet agrees on).
    static let lockKey: Int64 = 0x5350_414B_0000_0012

    static let versions: [(name: String, statements: [String])] = [
        ("v1", [
            """
            CREATE TABLE ecus (
                serial TEXT PRIMARY KEY,
                certificate BYTEA NOT NULL,
                registered_at TIMESTAMPTZ NOT NULL)
            """,
            """
            CREATE TABLE vehicles (
                serial TEXT PRIMARY KEY REFERENCES ecus(serial) ON DELETE CASCADE,
                vin TEXT,
                drm_uuid BYTEA)
            """,
            """
            CREATE TABLE subject_ids (
                subject_id TEXT PRIMARY KEY,
                serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                transaction_id BYTEA NOT NULL,
                issued_at TIMESTAMPTZ NOT NULL,
                seq BIGINT GENERATED ALWAYS AS IDENTITY)
            """,
            """
            CREATE TABLE certificates (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                subject_id TEXT NOT NULL REFERENCES subject_ids(subject_id),
                der BYTEA NOT NULL,
                issued_at TIMESTAMPTZ NOT NULL,
                install_status BIGINT)
            """,
            """
            CREATE TABLE verifiers (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                transaction_id BYTEA NOT NULL,
                record BYTEA NOT NULL,
                "trigger" BIGINT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                status BIGINT,
                revoked BOOLEAN NOT NULL DEFAULT FALSE)
            """,
            """
            CREATE TABLE passwords (
                verifier_id BIGINT PRIMARY KEY REFERENCES verifiers(id) ON DELETE CASCADE,
                serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                password TEXT NOT NULL,
                delivered_at TIMESTAMPTZ)
            """,
            """
            CREATE TABLE counters (
                serial TEXT NOT NULL REFERENCES ecus(serial) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                value BIGINT NOT NULL,
                PRIMARY KEY (serial, kind))
            """,
            "CREATE INDEX subject_ids_serial ON subject_ids(serial, issued_at, seq)",
            "CREATE INDEX certificates_serial ON certificates(serial, id)",
            "CREATE INDEX verifiers_serial ON verifiers(serial, id)",
        ]),
        ("v2", [
            """
            CREATE TABLE owner_pairing (
                serial TEXT PRIMARY KEY REFERENCES ecus(serial) ON DELETE CASCADE,
                state BIGINT,
                owner_key_id BYTEA,
                status BIGINT,
                transaction_id BYTEA,
                updated_at TIMESTAMPTZ,
                mode_request_transaction_id BYTEA,
                mode_requested_at TIMESTAMPTZ,
                mode_answered_at TIMESTAMPTZ,
                active_owner_key_id BYTEA,
                terminated_owner_key_id BYTEA,
                terminated_at TIMESTAMPTZ)
            """,
        ]),
        ("v3", [
            """
            ALTER TABLE passwords ALTER COLUMN password DROP NOT NULL,
                ADD COLUMN channel TEXT,
                ADD COLUMN delivery_id TEXT,
                ADD COLUMN handed_out_at TIMESTAMPTZ,
                ADD COLUMN ended_at TIMESTAMPTZ,
                ADD COLUMN end_reason TEXT
            """,
            "CREATE INDEX passwords_serial ON passwords(serial, verifier_id)",
            """
            ALTER TABLE vehicles ADD COLUMN last_use_case TEXT,
                ADD COLUMN last_message TEXT,
                ADD COLUMN last_outcome TEXT,
                ADD COLUMN last_error TEXT,
                ADD COLUMN last_at TIMESTAMPTZ
            """,
            "CREATE INDEX vehicles_vin ON vehicles(vin)",
            """
            CREATE TABLE vehicle_owners (
                vin TEXT PRIMARY KEY,
                "user" TEXT NOT NULL,
                email TEXT NOT NULL,
                registered_at TIMESTAMPTZ NOT NULL,
                seq BIGINT GENERATED ALWAYS AS IDENTITY)
            """,
            "CREATE INDEX vehicle_owners_user ON vehicle_owners(\"user\")",
            """
            CREATE TABLE pairing_links (
                token_hash BYTEA PRIMARY KEY,
                verifier_id BIGINT NOT NULL REFERENCES verifiers(id) ON DELETE CASCADE,
                vin TEXT NOT NULL,
                "user" TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                redeemed_at TIMESTAMPTZ,
                replaced_at TIMESTAMPTZ,
                via TEXT NOT NULL,
                seq BIGINT GENERATED ALWAYS AS IDENTITY)
            """,
            "CREATE INDEX pairing_links_verifier ON pairing_links(verifier_id)",
            """
            CREATE TABLE hotline_requests (
                id TEXT PRIMARY KEY,
                vin TEXT NOT NULL,
                agent TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                state TEXT NOT NULL,
                authorized_by TEXT,
                authorized_at TIMESTAMPTZ,
                message_id TEXT,
                failure TEXT,
                seq BIGINT GENERATED ALWAYS AS IDENTITY)
            """,
        ]),
        ("v4", [
            """
            CREATE TABLE c2v_outbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                serial TEXT NOT NULL,
                bytes BYTEA NOT NULL,
                created_at TIMESTAMPTZ NOT NULL)
            """,
            "CREATE INDEX c2v_outbox_serial ON c2v_outbox(serial, id)",
        ]),
    ]

    /// Applies the missing versions, under the advisory lock.
    static func migrate(_ session: PostgresSession) throws {
        try session.execute("SELECT pg_advisory_lock(\(lockKey))")
        defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(lockKey))") }
        try session.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version TEXT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """)
        let done = Set(try applied(session))
        for version in versions where !done.contains(version.name) {
            do {
                try session.execute("BEGIN")
                for statement in version.statements { try session.execute(PostgresQuery(unsafeSQL: statement)) }
                try session.execute("INSERT INTO schema_migrations (version) VALUES (\(version.name))")
                try session.execute("COMMIT")
            } catch {
                _ = try? session.execute("ROLLBACK")
                throw CloudRepositoryError.database("migration \(version.name): \(error)")
            }
        }
    }

    /// The applied versions, in order.
    static func applied(_ session: PostgresSession) throws -> [String] {
        try session.rows("SELECT version FROM schema_migrations ORDER BY version").map { try $0["version"].decode(String.self) }
    }
}
