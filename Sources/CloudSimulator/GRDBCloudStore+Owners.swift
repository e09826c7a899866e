import Foundation
import GRDB

/// The owner services' tables (migration `v3`): owners, deep links (token hashes only),
/// hotline requests.
extension GRDBCloudStore {
    func owner(vin: String) throws -> VehicleOwnerRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM vehicle_owners WHERE vin = ?", arguments: [vin]).map(Self.owner)
    }
    func owners(user: String) throws -> [VehicleOwnerRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM vehicle_owners WHERE \"user\" = ? ORDER BY registered_at, rowid",
                         arguments: [user]).map(Self.owner)
    }
    func saveOwner(_ record: VehicleOwnerRecord) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO vehicle_owners (vin, \"user\", email, registered_at) VALUES (?, ?, ?, ?)",
                       arguments: [record.vin, record.user, record.email, record.registeredAt])
    }

    func pairingLink(tokenHash: [UInt8]) throws -> PairingLinkRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM pairing_links WHERE token_hash = ?", arguments: [Data(tokenHash)]).map(Self.link)
    }
    func pairingLinks(verifierId: Int64) throws -> [PairingLinkRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM pairing_links WHERE verifier_id = ? ORDER BY created_at, rowid",
                         arguments: [verifierId]).map(Self.link)
    }
    func savePairingLink(_ record: PairingLinkRecord) throws {
        try db.execute(sql: """
            INSERT INTO pairing_links (token_hash, verifier_id, vin, "user", created_at, expires_at, redeemed_at, replaced_at, via)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(token_hash) DO UPDATE SET redeemed_at = excluded.redeemed_at, replaced_at = excluded.replaced_at,
                expires_at = excluded.expires_at
            """, arguments: [Data(record.tokenHash), record.verifierId, record.vin, record.user, record.createdAt,
                             record.expiresAt, record.redeemedAt, record.replacedAt, record.via.rawValue])
    }

    func hotlineRequest(id: String) throws -> HotlineRequestRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM hotline_requests WHERE id = ?", arguments: [id]).map(Self.hotline)
    }
    func hotlineRequests() throws -> [HotlineRequestRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM hotline_requests ORDER BY created_at, rowid").map(Self.hotline)
    }
    func saveHotlineRequest(_ record: HotlineRequestRecord) throws {
        try db.execute(sql: """
            INSERT INTO hotline_requests (id, vin, agent, created_at, state, authorized_by, authorized_at, message_id, failure)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET state = excluded.state, authorized_by = excluded.authorized_by,
                authorized_at = excluded.authorized_at, message_id = excluded.message_id, failure = excluded.failure
            """, arguments: [record.id, record.vin, record.agent, record.createdAt, record.state.rawValue, record.authorizedBy,
                             record.authorizedAt, record.messageId, record.failure])
    }

    static func owner(_ row: Row) -> VehicleOwnerRecord {
        VehicleOwnerRecord(vin: row["vin"], user: row["user"], email: row["email"], registeredAt: row["registered_at"])
    }

    static func link(_ row: Row) -> PairingLinkRecord {
        PairingLinkRecord(tokenHash: [UInt8](row["token_hash"] as Data), verifierId: row["verifier_id"], vin: row["vin"],
                          user: row["user"], createdAt: row["created_at"], expiresAt: row["expires_at"],
                          redeemedAt: row["redeemed_at"], replacedAt: row["replaced_at"],
                          via: PairingLinkVia(rawValue: row["via"]) ?? .app)
    }

    static func hotline(_ row: Row) -> HotlineRequestRecord {
        HotlineRequestRecord(id: row["id"], vin: row["vin"], agent: row["agent"], createdAt: row["created_at"],
                             state: HotlineRequestState(rawValue: row["state"]) ?? .failed, authorizedBy: row["authorized_by"],
                             authorizedAt: row["authorized_at"], messageId: row["message_id"], failure: row["failure"])
    }
}
