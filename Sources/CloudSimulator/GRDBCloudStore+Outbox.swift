import Foundation
import GRDB

/// The VOS service's C2V outbox (migration `v4`).
extension GRDBCloudStore {
    func enqueueC2V(_ record: C2VOutboxRecord) throws -> Int64 {
        try db.execute(sql: "INSERT INTO c2v_outbox (serial, bytes, created_at) VALUES (?, ?, ?)",
                       arguments: [record.serial, Data(record.bytes), record.createdAt])
        return db.lastInsertedRowID
    }
    func pendingC2V(serial: String) throws -> [C2VOutboxRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM c2v_outbox WHERE serial = ? ORDER BY id", arguments: [serial]).map { row in
            C2VOutboxRecord(id: row["id"], serial: row["serial"], bytes: [UInt8](row["bytes"] as Data), createdAt: row["created_at"])
        }
    }
    func deleteC2V(id: Int64) throws {
        try db.execute(sql: "DELETE FROM c2v_outbox WHERE id = ?", arguments: [id])
    }
    /// One process per SQLite file serves the vehicles: nobody to tell.
    func announce(serial: String) throws {}
}
