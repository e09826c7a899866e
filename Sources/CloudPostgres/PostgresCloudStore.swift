import CloudSimulator
import Foundation
import PostgresNIO

/// One transaction on the PostgreSQL database of a `PostgresCloudRepository`: GRDB's
/// semantics (`GRDBCloudStore`) statement by statement — the same orderings, upserts and errors.
struct PostgresCloudStore: CloudStore {
    let session: PostgresSession

    func ecu(serial: String) throws -> ECURecord? {
        try session.rows("SELECT * FROM ecus WHERE serial = \(serial)").first.map(Self.ecu)
    }
    func saveECU(_ ecu: ECURecord) throws {
        try session.execute("""
            INSERT INTO ecus (serial, certificate, registered_at) VALUES (\(ecu.serial), \(Data(ecu.certificateDER)), \(ecu.registeredAt))
            ON CONFLICT (serial) DO UPDATE SET certificate = excluded.certificate, registered_at = excluded.registered_at
            """)
    }
    func ecus() throws -> [ECURecord] {
        try session.rows("SELECT * FROM ecus ORDER BY serial").map(Self.ecu)
    }

    func vehicle(serial: String) throws -> VehicleRecord? {
        try session.rows("SELECT * FROM vehicles WHERE serial = \(serial)").first.map(Self.vehicle)
    }
    func saveVehicle(_ vehicle: VehicleRecord) throws {
        let last = vehicle.lastUseCase
        try session.execute("""
            INSERT INTO vehicles (serial, vin, drm_uuid, last_use_case, last_message, last_outcome, last_error, last_at)
            VALUES (\(vehicle.serial), \(vehicle.vin), \(vehicle.drmUUID.map { Data($0) }), \(last?.useCase), \(last?.message),
                    \(last.map { $0.accepted ? "accepted" : "refused" }), \(last?.error), \(last?.at))
            ON CONFLICT (serial) DO UPDATE SET vin = excluded.vin, drm_uuid = excluded.drm_uuid,
                last_use_case = excluded.last_use_case, last_message = excluded.last_message, last_outcome = excluded.last_outcome,
                last_error = excluded.last_error, last_at = excluded.last_at
            """)
    }
    func vehicles(vin: String) throws -> [VehicleRecord] {
        try session.rows("SELECT * FROM vehicles WHERE vin = \(vin) ORDER BY serial").map(Self.vehicle)
    }

    func subjectIds(serial: String) throws -> [SubjectIdRecord] {
        try session.rows("SELECT * FROM subject_ids WHERE serial = \(serial) ORDER BY issued_at, seq").map { row in
            SubjectIdRecord(subjectId: try row["subject_id"].decode(String.self), serial: try row["serial"].decode(String.self),
                            transactionId: try Self.bytes(row, "transaction_id"), issuedAt: try row["issued_at"].decode(Date.self))
        }
    }
    func subjectIdExists(_ subjectId: String) throws -> Bool {
        try session.rows("SELECT EXISTS (SELECT 1 FROM subject_ids WHERE subject_id = \(subjectId)) AS found")
            .first.map { try $0["found"].decode(Bool.self) } ?? false
    }
    func insertSubjectId(_ record: SubjectIdRecord) throws {
        guard try !subjectIdExists(record.subjectId) else { throw CloudRepositoryError.duplicate("subject id \(record.subjectId)") }
        do {
            try session.execute("""
                INSERT INTO subject_ids (subject_id, serial, transaction_id, issued_at)
                VALUES (\(record.subjectId), \(record.serial), \(Data(record.transactionId)), \(record.issuedAt))
                """)
        } catch CloudRepositoryError.database(let message) where message.hasPrefix("23505") {
            throw CloudRepositoryError.duplicate("subject id \(record.subjectId)")
        }
    }

    func certificates(serial: String) throws -> [CertificateRecord] {
        try session.rows("SELECT * FROM certificates WHERE serial = \(serial) ORDER BY id").map { row in
            CertificateRecord(id: try row["id"].decode(Int64.self), serial: try row["serial"].decode(String.self),
                              subjectId: try row["subject_id"].decode(String.self), der: try Self.bytes(row, "der"),
                              issuedAt: try row["issued_at"].decode(Date.self), installStatus: try Self.byte(row, "install_status"))
        }
    }
    func insertCertificate(_ record: CertificateRecord) throws -> Int64 {
        try Self.id(session.rows("""
            INSERT INTO certificates (serial, subject_id, der, issued_at, install_status)
            VALUES (\(record.serial), \(record.subjectId), \(Data(record.der)), \(record.issuedAt), \(record.installStatus.map { Int64($0) }))
            RETURNING id
            """))
    }
    func updateCertificate(_ record: CertificateRecord) throws {
        let changed = try session.execute("""
            UPDATE certificates SET install_status = \(record.installStatus.map { Int64($0) }) WHERE id = \(record.id)
            """)
        guard changed == 1 else { throw CloudRepositoryError.notFound("certificate \(record.id.map(String.init) ?? "nil")") }
    }

    func verifiers(serial: String) throws -> [VerifierRecord] {
        try session.rows("SELECT * FROM verifiers WHERE serial = \(serial) ORDER BY id").map { row in
            VerifierRecord(id: try row["id"].decode(Int64.self), serial: try row["serial"].decode(String.self),
                           transactionId: try Self.bytes(row, "transaction_id"), record: try Self.bytes(row, "record"),
                           trigger: VerifierTrigger(rawValue: Int(try row["trigger"].decode(Int64.self))) ?? .push,
                           createdAt: try row["created_at"].decode(Date.self), status: try Self.byte(row, "status"),
                           revoked: try row["revoked"].decode(Bool.self))
        }
    }
    func insertVerifier(_ record: VerifierRecord) throws -> Int64 {
        try Self.id(session.rows("""
            INSERT INTO verifiers (serial, transaction_id, record, "trigger", created_at, status, revoked)
            VALUES (\(record.serial), \(Data(record.transactionId)), \(Data(record.record)), \(Int64(record.trigger.rawValue)),
                    \(record.createdAt), \(record.status.map { Int64($0) }), \(record.revoked))
            RETURNING id
            """))
    }
    func updateVerifier(_ record: VerifierRecord) throws {
        let changed = try session.execute("""
            UPDATE verifiers SET status = \(record.status.map { Int64($0) }), revoked = \(record.revoked) WHERE id = \(record.id)
            """)
        guard changed == 1 else { throw CloudRepositoryError.notFound("verifier \(record.id.map(String.init) ?? "nil")") }
    }

    func password(verifierId: Int64) throws -> PasswordRecord? {
        try session.rows("SELECT * FROM passwords WHERE verifier_id = \(verifierId)").first.map(Self.password)
    }
    func passwords(serial: String) throws -> [PasswordRecord] {
        try session.rows("SELECT * FROM passwords WHERE serial = \(serial) ORDER BY verifier_id").map(Self.password)
    }
    func savePassword(_ record: PasswordRecord) throws {
        try session.execute("""
            INSERT INTO passwords (verifier_id, serial, password, delivered_at, channel, delivery_id, handed_out_at, ended_at, end_reason)
            VALUES (\(record.verifierId), \(record.serial), \(record.password), \(record.deliveredAt), \(record.channel?.rawValue),
                    \(record.deliveryId), \(record.handedOutAt), \(record.endedAt), \(record.endReason?.rawValue))
            ON CONFLICT (verifier_id) DO UPDATE SET serial = excluded.serial, password = excluded.password,
                delivered_at = excluded.delivered_at, channel = excluded.channel, delivery_id = excluded.delivery_id,
                handed_out_at = excluded.handed_out_at, ended_at = excluded.ended_at, end_reason = excluded.end_reason
            """)
    }

    func ownerPairing(serial: String) throws -> OwnerPairingRecord? {
        try session.rows("SELECT * FROM owner_pairing WHERE serial = \(serial)").first.map { row in
            OwnerPairingRecord(
                serial: try row["serial"].decode(String.self), state: try Self.byte(row, "state"),
                ownerKeyId: try Self.optionalBytes(row, "owner_key_id"), status: try Self.byte(row, "status"),
                transactionId: try Self.optionalBytes(row, "transaction_id"), updatedAt: try row["updated_at"].decode(Date?.self),
                modeRequestTransactionId: try Self.optionalBytes(row, "mode_request_transaction_id"),
                modeRequestedAt: try row["mode_requested_at"].decode(Date?.self),
                modeAnsweredAt: try row["mode_answered_at"].decode(Date?.self),
                activeOwnerKeyId: try Self.optionalBytes(row, "active_owner_key_id"),
                terminatedOwnerKeyId: try Self.optionalBytes(row, "terminated_owner_key_id"),
                terminatedAt: try row["terminated_at"].decode(Date?.self))
        }
    }
    func saveOwnerPairing(_ record: OwnerPairingRecord) throws {
        try session.execute("""
            INSERT INTO owner_pairing (serial, state, owner_key_id, status, transaction_id, updated_at, mode_request_transaction_id,
                mode_requested_at, mode_answered_at, active_owner_key_id, terminated_owner_key_id, terminated_at)
            VALUES (\(record.serial), \(record.state.map { Int64($0) }), \(record.ownerKeyId.map { Data($0) }),
                    \(record.status.map { Int64($0) }), \(record.transactionId.map { Data($0) }), \(record.updatedAt),
                    \(record.modeRequestTransactionId.map { Data($0) }), \(record.modeRequestedAt), \(record.modeAnsweredAt),
                    \(record.activeOwnerKeyId.map { Data($0) }), \(record.terminatedOwnerKeyId.map { Data($0) }), \(record.terminatedAt))
            ON CONFLICT (serial) DO UPDATE SET state = excluded.state, owner_key_id = excluded.owner_key_id, status = excluded.status,
                transaction_id = excluded.transaction_id, updated_at = excluded.updated_at,
                mode_request_transaction_id = excluded.mode_request_transaction_id, mode_requested_at = excluded.mode_requested_at,
                mode_answered_at = excluded.mode_answered_at, active_owner_key_id = excluded.active_owner_key_id,
                terminated_owner_key_id = excluded.terminated_owner_key_id, terminated_at = excluded.terminated_at
            """)
    }

    func counter(serial: String, kind: CounterKind) throws -> UInt32? {
        try session.rows("SELECT value FROM counters WHERE serial = \(serial) AND kind = \(kind.rawValue)")
            .first.map { UInt32(truncatingIfNeeded: try $0["value"].decode(Int64.self)) }
    }
    func setCounter(serial: String, kind: CounterKind, value: UInt32) throws {
        try session.execute("""
            INSERT INTO counters (serial, kind, value) VALUES (\(serial), \(kind.rawValue), \(Int64(value)))
            ON CONFLICT (serial, kind) DO UPDATE SET value = excluded.value
            """)
    }
    func removeCounter(serial: String, kind: CounterKind) throws {
        try session.execute("DELETE FROM counters WHERE serial = \(serial) AND kind = \(kind.rawValue)")
    }

    func enqueueC2V(_ record: C2VOutboxRecord) throws -> Int64 {
        try Self.id(session.rows("""
            INSERT INTO c2v_outbox (serial, bytes, created_at) VALUES (\(record.serial), \(Data(record.bytes)), \(record.createdAt))
            RETURNING id
            """))
    }
    func pendingC2V(serial: String) throws -> [C2VOutboxRecord] {
        try session.rows("SELECT * FROM c2v_outbox WHERE serial = \(serial) ORDER BY id").map { row in
            C2VOutboxRecord(id: try row["id"].decode(Int64.self), serial: try row["serial"].decode(String.self),
                            bytes: try Self.bytes(row, "bytes"), createdAt: try row["created_at"].decode(Date.self))
        }
    }
    func deleteC2V(id: Int64) throws {
        try session.execute("DELETE FROM c2v_outbox WHERE id = \(id)")
    }
    /// NOTIFY in the transaction: PostgreSQL delivers it at COMMIT, and not at all on ROLLBACK.
    func announce(serial: String) throws {
        try session.execute("SELECT pg_notify(\(PostgresCloudRepository.notificationChannel), \(serial))")
    }

    // MARK: Rows

    static func ecu(_ row: PostgresRandomAccessRow) throws -> ECURecord {
        ECURecord(serial: try row["serial"].decode(String.self), certificateDER: try bytes(row, "certificate"),
                  registeredAt: try row["registered_at"].decode(Date.self))
    }

    static func vehicle(_ row: PostgresRandomAccessRow) throws -> VehicleRecord {
        var last: LastUseCaseRecord?
        if let useCase = try row["last_use_case"].decode(String?.self), let message = try row["last_message"].decode(String?.self),
           let at = try row["last_at"].decode(Date?.self) {
            last = LastUseCaseRecord(useCase: useCase, message: message,
                                     accepted: try row["last_outcome"].decode(String?.self) == "accepted",
                                     error: try row["last_error"].decode(String?.self), at: at)
        }
        return VehicleRecord(serial: try row["serial"].decode(String.self), vin: try row["vin"].decode(String?.self),
                             drmUUID: try optionalBytes(row, "drm_uuid"), lastUseCase: last)
    }

    static func password(_ row: PostgresRandomAccessRow) throws -> PasswordRecord {
        PasswordRecord(verifierId: try row["verifier_id"].decode(Int64.self), serial: try row["serial"].decode(String.self),
                       password: try row["password"].decode(String?.self), deliveredAt: try row["delivered_at"].decode(Date?.self),
                       channel: try row["channel"].decode(String?.self).flatMap(PasswordChannel.init(rawValue:)),
                       deliveryId: try row["delivery_id"].decode(String?.self), handedOutAt: try row["handed_out_at"].decode(Date?.self),
                       endedAt: try row["ended_at"].decode(Date?.self),
                       endReason: try row["end_reason"].decode(String?.self).flatMap(PasswordEndReason.init(rawValue:)))
    }

    /// The id of `INSERT … RETURNING id`.
    static func id(_ rows: [PostgresRandomAccessRow]) throws -> Int64 {
        guard let row = rows.first else { throw CloudRepositoryError.database("INSERT … RETURNING id returned no row") }
        return try row["id"].decode(Int64.self)
    }
    /// A BYTEA column.
    static func bytes(_ row: PostgresRandomAccessRow, _ column: String) throws -> [UInt8] {
        [UInt8](try row[column].decode(Data.self))
    }
    /// A nullable BYTEA column.
    static func optionalBytes(_ row: PostgresRandomAccessRow, _ column: String) throws -> [UInt8]? {
        try row[column].decode(Data?.self).map { [UInt8]($0) }
    }
    /// A nullable small integer column as a byte.
    static func byte(_ row: PostgresRandomAccessRow, _ column: String) throws -> UInt8? {
        try row[column].decode(Int64?.self).map { UInt8(truncatingIfNeeded: $0) }
    }
}
