import SpaakCore

/// One entry of the simulator's trace: a message hop, a decision, a TBM state change or a
/// control command. `spaak-cloud` prints `description` as a log line and writes the
/// event as one JSON object per line to `--trace FILE` (keys sorted, absent fields left
/// out), from which a sequence diagram with the lifelines SpaaK, SGW/TBM, VOS
/// and KTS can be drawn.
public struct CloudEvent: Codable, Sendable, Equatable, CustomStringConvertible {
    /// A lifeline of the sequence diagram.
    public enum Node: String, Codable, Sendable {
        /// The SpaaK module (on the bus, behind the SGW).
        case spaak = "SpaaK"
        /// The TBM, with the SGW (transparent on a single bus).
        case tbm = "SGW/TBM"
        /// The Vehicle OEM Server.
        case vos = "VOS"
        /// The key tracking server (signs OwnerKeyTermination with [ZZ2]).
        case kts = "KTS"
        /// The operator's control socket.
        case control = "control"
    }

    /// What happened.
    public enum Outcome: String, Codable, Sendable {
        /// A V2C message passed every check.
        case accepted
        /// A V2C message failed a check (no answer, or an ErrorResponse, see `detail`).
        case refused
        /// The TBM got a V2C message while its link was down.
        case discarded
        /// A C2V message was built and queued at the TBM.
        case queued
        /// A fault dropped the C2V message.
        case dropped
        /// The TBM finished transmitting a C2V message on the bus.
        case delivered
        /// The TBM could not transmit a C2V message.
        case notSent = "not-sent"
        /// A state change or a command (`detail` says which).
        case info
    }

    /// Milliseconds on the monotonic clock (set by `CloudSimulator`).
    public var ms: UInt64?
    /// The sender.
    public var from: Node
    /// The receiver.
    public var to: Node
    /// What happened.
    public var outcome: Outcome
    /// `V2C` or `C2V` for a message.
    public var direction: String?
    /// The message type byte.
    public var type: UInt8?
    /// The ICD name of the type, e.g. `VehicleSubjectIdRequest`.
    public var name: String?
    /// The ECU serial.
    public var serial: String?
    /// The VIN, when the message carries it.
    public var vin: String?
    /// The transaction id, hex.
    public var transaction: String?
    /// The message counter.
    public var counter: UInt32?
    /// The fault applied, e.g. `corrupt-signature`.
    public var fault: String?
    /// Free text: the reason of a refusal, the payload in short, the command.
    public var detail: String?

    /// Creates an event.
    public init(from: Node, to: Node, outcome: Outcome, direction: String? = nil, type: UInt8? = nil, name: String? = nil,
                serial: String? = nil, vin: String? = nil, transaction: [UInt8]? = nil, counter: UInt32? = nil,
                fault: String? = nil, detail: String? = nil) {
        self.from = from
        self.to = to
        self.outcome = outcome
        self.direction = direction
        self.type = type
        self.name = name
        self.serial = serial
        self.vin = vin
        self.transaction = transaction?.hexString
        self.counter = counter
        self.fault = fault
        self.detail = detail
    }

    /// The log line, e.g.
    /// `V2C SpaaK→VOS accepted 0x01 VehicleSubjectIdRequest serial=SPK1 txn=… ctr=3`.
    public var description: String {
        var parts: [String] = []
        if let ms { parts.append("[\(ms) ms]") }
        parts.append(direction ?? "---")
        parts.append("\(from.rawValue)→\(to.rawValue)")
        parts.append(outcome.rawValue)
        if let type { parts.append("0x" + [type].hexString) }
        if let name { parts.append(name) }
        if let serial { parts.append("serial=\(serial)") }
        if let vin { parts.append("vin=\(vin)") }
        if let transaction { parts.append("txn=\(transaction)") }
        if let counter { parts.append("ctr=\(counter)") }
        if let fault { parts.append("fault=\(fault)") }
        if let detail { parts.append("— \(detail)") }
        return parts.joined(separator: " ")
    }
}

extension CloudEvent {
    /// The trace line of a control command and its reply, at `now`; it never shows a pairing
    /// password (a handed-out one reads "ok (password handed out)").
    static func control(_ command: ControlCommand, reply: CloudSimulator.Reply, now: Instant) -> CloudEvent {
        let shown = if case .password = command, reply.ok { "ok (password handed out)" } else { reply.description }
        var event = CloudEvent(from: .control, to: .vos, outcome: .info, detail: "\(command.text) → \(shown)")
        event.ms = now.milliseconds
        return event
    }
}
