import Foundation
import GRDB

/// One transaction on the SQLite database of a `GRDBCloudRepository`.
struct GRDBCloudStore: CloudStore {
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
        try Row.fetchOne(db, sql: "SELECT * FROM vehicles WHERE serial = ?", arguments: [serial]).map(Self.vehicle)
    }
    func saveVehicle(_ vehicle: VehicleRecord) throws {
        let last = vehicle.lastUseCase
        try db.execute(sql: """
            INSERT OR REPLACE INTO vehicles (serial, vin, drm_uuid, last_use_case, last_message, last_outcome, last_error, last_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [vehicle.serial, vehicle.vin, vehicle.drmUUID.map { Data($0) }, last?.useCase, last?.message,
                             last.map { $0.accepted ? "accepted" : "refused" }, last?.error, last?.at])
    }
    func vehicles(vin: String) throws -> [VehicleRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM vehicles WHERE vin = ? ORDER BY serial", arguments: [vin]).map(Self.vehicle)
    }

    static func vehicle(_ row: Row) -> VehicleRecord {
        var last: LastUseCaseRecord?
        if let useCase: String = row["last_use_case"], let message: String = row["last_message"], let at: Date = row["last_at"] {
            last = LastUseCaseRecord(useCase: useCase, message: message, accepted: (row["last_outcome"] as String?) == "accepted",
                                     error: row["last_error"], at: at)
        }
        return VehicleRecord(serial: row["serial"], vin: row["vin"], drmUUID: bytes(row["drm_uuid"]), lastUseCase: last)
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
        try Row.fetchOne(db, sql: "SELECT * FROM passwords WHERE verifier_id = ?", arguments: [verifierId]).map(Self.password)
    }
    func passwords(serial: String) throws -> [PasswordRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM passwords WHERE serial = ? ORDER BY verifier_id", arguments: [serial]).map(Self.password)
    }
    func savePassword(_ record: PasswordRecord) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO passwords (verifier_id, serial, password, delivered_at, channel, delivery_id, handed_out_at,
                ended_at, end_reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.verifierId, record.serial, record.password, record.deliveredAt, record.channel?.rawValue,
                             record.deliveryId, record.handedOutAt, record.endedAt, record.endReason?.rawValue])
    }

    static func password(_ row: Row) -> PasswordRecord {
        PasswordRecord(verifierId: row["verifier_id"], serial: row["serial"], password: row["password"],
                       deliveredAt: row["delivered_at"], channel: (row["channel"] as String?).flatMap(PasswordChannel.init(rawValue:)),
                       deliveryId: row["delivery_id"], handedOutAt: row["handed_out_at"], endedAt: row["ended_at"],
                       endReason: (row["end_reason"] as String?).flatMap(PasswordEndReason.init(rawValue:)))
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
    static func byte(_ value: Int?) -> UInt8? { value.map { UInt8(truncatingIfNeeded: $0) } }
    /// A nullable BLOB column as bytes.
    static func bytes(_ value: Data?) -> [UInt8]? { value.map { [UInt8]($0) } }

    private static func ecu(_ row: Row) -> ECURecord {
        ECURecord(serial: row["serial"], certificateDER: [UInt8](row["certificate"] as Data), registeredAt: row["registered_at"])
    }
}
