import CloudSimulator
import Foundation
import PostgresNIO

/// The owner services' tables (migration `v3`): owners, deep links (token hashes only),
/// hotline requests.
extension PostgresCloudStore {
    func owner(vin: String) throws -> VehicleOwnerRecord? {
        try session.rows("SELECT * FROM vehicle_owners WHERE vin = \(vin)").first.map(Self.owner)
    }
    func owners(user: String) throws -> [VehicleOwnerRecord] {
        try session.rows("SELECT * FROM vehicle_owners WHERE \"user\" = \(user) ORDER BY registered_at, seq").map(Self.owner)
    }
    /// As SQLite's INSERT OR REPLACE: a replaced binding is a new row (it sorts as the newest).
    func saveOwner(_ record: VehicleOwnerRecord) throws {
        try session.execute("DELETE FROM vehicle_owners WHERE vin = \(record.vin)")
        try session.execute("""
            INSERT INTO vehicle_owners (vin, "user", email, registered_at)
            VALUES (\(record.vin), \(record.user), \(record.email), \(record.registeredAt))
            """)
    }

    func pairingLink(tokenHash: [UInt8]) throws -> PairingLinkRecord? {
        try session.rows("SELECT * FROM pairing_links WHERE token_hash = \(Data(tokenHash))").first.map(Self.link)
    }
    func pairingLinks(verifierId: Int64) throws -> [PairingLinkRecord] {
        try session.rows("SELECT * FROM pairing_links WHERE verifier_id = \(verifierId) ORDER BY created_at, seq").map(Self.link)
    }
    func savePairingLink(_ record: PairingLinkRecord) throws {
        try session.execute("""
            INSERT INTO pairing_links (token_hash, verifier_id, vin, "user", created_at, expires_at, redeemed_at, replaced_at, via)
            VALUES (\(Data(record.tokenHash)), \(record.verifierId), \(record.vin), \(record.user), \(record.createdAt),
                    \(record.expiresAt), \(record.redeemedAt), \(record.replacedAt), \(record.via.rawValue))
            ON CONFLICT (token_hash) DO UPDATE SET redeemed_at = excluded.redeemed_at, replaced_at = excluded.replaced_at,
                expires_at = excluded.expires_at
            """)
    }

    func hotlineRequest(id: String) throws -> HotlineRequestRecord? {
        try session.rows("SELECT * FROM hotline_requests WHERE id = \(id)").first.map(Self.hotline)
    }
    func hotlineRequests() throws -> [HotlineRequestRecord] {
        try session.rows("SELECT * FROM hotline_requests ORDER BY created_at, seq").map(Self.hotline)
    }
    func saveHotlineRequest(_ record: HotlineRequestRecord) throws {
        try session.execute("""
            INSERT INTO hotline_requests (id, vin, agent, created_at, state, authorized_by, authorized_at, message_id, failure)
            VALUES (\(record.id), \(record.vin), \(record.agent), \(record.createdAt), \(record.state.rawValue), \(record.authorizedBy),
                    \(record.authorizedAt), \(record.messageId), \(record.failure))
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, authorized_by = excluded.authorized_by,
                authorized_at = excluded.authorized_at, message_id = excluded.message_id, failure = excluded.failure
            """)
    }

    static func owner(_ row: PostgresRandomAccessRow) throws -> VehicleOwnerRecord {
        VehicleOwnerRecord(vin: try row["vin"].decode(String.self), user: try row["user"].decode(String.self),
                           email: try row["email"].decode(String.self), registeredAt: try row["registered_at"].decode(Date.self))
    }

    static func link(_ row: PostgresRandomAccessRow) throws -> PairingLinkRecord {
        PairingLinkRecord(tokenHash: try bytes(row, "token_hash"), verifierId: try row["verifier_id"].decode(Int64.self),
                          vin: try row["vin"].decode(String.self), user: try row["user"].decode(String.self),
                          createdAt: try row["created_at"].decode(Date.self), expiresAt: try row["expires_at"].decode(Date.self),
                          redeemedAt: try row["redeemed_at"].decode(Date?.self), replacedAt: try row["replaced_at"].decode(Date?.self),
                          via: PairingLinkVia(rawValue: try row["via"].decode(String.self)) ?? .app)
    }

    static func hotline(_ row: PostgresRandomAccessRow) throws -> HotlineRequestRecord {
        HotlineRequestRecord(id: try row["id"].decode(String.self), vin: try row["vin"].decode(String.self),
                             agent: try row["agent"].decode(String.self), createdAt: try row["created_at"].decode(Date.self),
                             state: HotlineRequestState(rawValue: try row["state"].decode(String.self)) ?? .failed,
                             authorizedBy: try row["authorized_by"].decode(String?.self),
                             authorizedAt: try row["authorized_at"].decode(Date?.self),
                             messageId: try row["message_id"].decode(String?.self), failure: try row["failure"].decode(String?.self))
    }
}
