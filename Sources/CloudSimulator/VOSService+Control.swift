import Foundation
import SpaakCore

/// The control commands of `spaak-cloud vos` (its `ctl` socket and the owner services' pushes).
extension VOSService {
    /// Executes a control command; `readFile` reads a file named in `register-ecu`. Pushes go
    /// to the outbox and are never refused because the vehicle is not connected here.
    public func control(_ command: ControlCommand, now: Instant, date: Date,
                        readFile: (String) throws -> [UInt8]) -> (reply: Reply, step: Step) {
        var step = Step()
        let reply: Reply
        do {
            reply = try execute(command, now: now, date: date, readFile: readFile, into: &step)
        } catch {
            reply = Reply(ok: false, text: String(describing: error))
        }
        // The trace never shows a pairing password; nor the stats line (polled).
        guard command != .stats else { return (reply, step) }
        step.events.insert(CloudEvent.control(command, reply: reply, now: now), at: 0)
        return (reply, step)
    }

    private func execute(_ command: ControlCommand, now: Instant, date: Date, readFile: (String) throws -> [UInt8],
                         into step: inout Step) throws -> Reply {
        switch command {
        case .tbm:
            throw VOSCommandError("the TBM is its own process (spaak-cloud tbm): use its control socket")
        case .pushVerifier(let serial):
            if waiting.mustWait {
                try vos.repository.transaction { try vos.requireECU(serial, store: $0) }
                guard waiting.enqueue(.push(serial)) else { throw VOSCommandError("too many inputs waiting for a verifier") }
                return Reply(ok: true, text: "verifier push to \(serial) waits until a verifier is ready (scrypt running)")
            }
            let state = try queuePush(vos.pushVerifier(serial: serial, date: date), serial: serial, now: now, date: date, into: &step)
            return Reply(ok: true, text: "verifier push \(state)")
        case .terminateOwnerKey(let serial):
            let state = try queuePush(vos.terminateOwnerKey(serial: serial, date: date), serial: serial, now: now, date: date, into: &step)
            return Reply(ok: true, text: "owner key termination \(state)")
        case .pairingMode(let serial):
            let state = try queuePush(vos.requestPairingMode(serial: serial, date: date), serial: serial, now: now, date: date, into: &step)
            return Reply(ok: true, text: "pairing mode request \(state); its OwnerPairingStatus shows in the trace and in status")
        case .fault, .clearFault, .password, .registerECU, .resetCounter, .registerOwner:
            guard let reply = try vos.executeOperatorCommand(command, date: date, readFile: readFile) else {
                throw VOSCommandError("\(command.text): not an operator command")
            }
            return reply
        case .status:
            return Reply(ok: true, text: statusText(try vos.summary()))
        case .stats:
            return Reply(ok: true, text: statsLine(now: now))
        }
    }

    /// `status`: this instance, its connections, then the database summary.
    private func statusText(_ summary: CloudSummary) -> String {
        let fault = vos.faults.armed.map { "\($0) ×\(vos.faults.remaining)" } ?? "none"
        let head = "instance \(instance); \(connections.count) connection\(connections.count == 1 ? "" : "s"), "
            + "\(bindings.count) vehicle\(bindings.count == 1 ? "" : "s") bound here; fault \(fault); "
            + "\(summary.ecus.count) ECU\(summary.ecus.count == 1 ? "" : "s")"
        return ([head] + CloudSimulator.ecuLines(summary)).joined(separator: "\n")
    }

    /// `stats`: one line of JSON, e.g. `{"instance":"vos-1","connections":2,"vehicles":2,"v2c":10,
    /// "answered":9,"refused":1,"pushes":2,"outbox_sent":2,"db_transactions":30,"db_ms":12.5,
    /// "db_retries":0,"uptime_s":61.2}`. The `db_` numbers come from a `MeteredCloudRepository`
    /// around the real one (0 without it).
    public func statsLine(now: Instant) -> String {
        let metered = vos.repository as? MeteredCloudRepository
        let name = String(decoding: (try? JSONEncoder().encode(instance)) ?? Data("\"\"".utf8), as: UTF8.self)
        let fields: [(String, String)] = [
            ("instance", name), ("connections", "\(connections.count)"), ("vehicles", "\(bindings.count)"),
            ("v2c", "\(counters.v2c)"), ("answered", "\(counters.answered)"), ("refused", "\(counters.refused)"),
            ("pushes", "\(counters.pushes)"), ("outbox_sent", "\(counters.outboxSent)"),
            ("db_transactions", "\(metered?.transactions ?? 0)"),
            ("db_ms", Self.decimal((metered?.time ?? .zero).milliseconds)),
            ("db_retries", "\(metered?.retries ?? 0)"),
            ("uptime_s", Self.decimal((now - startedAt).milliseconds / 1000)),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A number with three decimals at most, JSON-safe.
    private static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.3f", value)
    }
}
