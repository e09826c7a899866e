import CloudProtocol
import Foundation

extension VehicleOEMServer {
    /// With `pushesGoToOutbox`: writes the push messages of `pending` to the C2V outbox of
    /// `serial` and announces them (PostgreSQL: a notification sent at commit), inside the
    /// push's own transaction. Without it: nothing.
    func queueInOutbox(_ pending: VOSResult, serial: String, store: any CloudStore, date: Date) throws {
        guard pushesGoToOutbox, !pending.transmissions.isEmpty else { return }
        for transmission in pending.transmissions {
            _ = try store.enqueueC2V(C2VOutboxRecord(serial: serial, bytes: transmission.bytes, createdAt: date))
        }
        try store.announce(serial: serial)
    }

    /// With `pushesGoToOutbox`: deletes the outbox rows of `message`'s vehicle that the
    /// authenticated V2C `message` answers (`PushAnswer`), in the transaction that handles it,
    /// whichever instance sent them. Without it, or for a message that answers no push: nothing.
    func completePushes(answeredBy message: CloudMessage, store: any CloudStore) throws {
        guard pushesGoToOutbox, PushAnswer.canAnswer(message.type) else { return }
        for row in try store.pendingC2V(serial: message.serial) {
            guard let id = row.id, let answer = PushAnswer(push: row.bytes), answer.isAnswered(by: message) else { continue }
            try store.deleteC2V(id: id)
        }
    }

    /// The control commands that only touch the VOS's database and its faults (`fault`,
    /// `password`, `register-ecu`, `reset-counter`, `register-owner`), shared by `serve`
    /// (`CloudSimulator`) and the VOS service; `nil` for any other command. `readFile` reads a
    /// file named in `register-ecu`. Throws `VOSCommandError` when refused.
    public func executeOperatorCommand(_ command: ControlCommand, date: Date,
                                       readFile: (String) throws -> [UInt8]) throws -> CloudSimulator.Reply? {
        typealias Reply = CloudSimulator.Reply
        switch command {
        case .fault(let fault, let count):
            faults.arm(fault, count: count)
            return Reply(ok: true, text: "fault \(fault) armed for \(count) C2V message\(count == 1 ? "" : "s")")
        case .clearFault:
            faults.clear()
            return Reply(ok: true, text: "no fault armed")
        case .password(let serial):
            return Reply(ok: true, text: try handOutPassword(serial: serial, date: date))
        case .registerECU(let paths):
            var lines: [String] = []
            for path in paths {
                let bytes: [UInt8]
                do { bytes = try readFile(path) } catch { throw VOSCommandError("cannot read \(path): \(error)") }
                lines.append("registered \(try registerECU(certificate: bytes, date: date)) from \(path)")
            }
            return Reply(ok: true, text: lines.joined(separator: "\n"))
        case .resetCounter(let serial):
            try resetCounter(serial: serial)
            return Reply(ok: true, text: "V2C counter of \(serial) forgotten")
        case .registerOwner(let vin, let user, let email):
            let result = try registerOwner(vin: vin, user: user, email: email, date: date)
            let replaced = result.replacedUser.map { " (replacing \($0))" } ?? ""
            let known = result.vehicleKnown ? "the VOS knows the vehicle" : "the VOS has not heard from this vehicle yet"
            let change = result.ownerChange.map { "; \($0)" } ?? ""
            return Reply(ok: true, text: "owner of \(vin): \(user) <\(result.owner.email)>\(replaced); \(known)\(change)")
        case .tbm, .pushVerifier, .terminateOwnerKey, .pairingMode, .status, .stats:
            return nil
        }
    }
}
