import CloudProtocol
import Crypto
import Foundation
import SpaakCore

/// The id the shell gives one GSDP (WebSocket) connection of a TBM.
public typealias GSDPConnectionID = UInt64

/// What the VOS service asks its shell to do on the GSDP connections.
public enum VOSServiceAction: Equatable, Sendable {
    /// Send one ICD 7 message (C2V) as a binary WebSocket message.
    case send(GSDPConnectionID, [UInt8])
    /// Send one GSDP control message (JSON) as a text WebSocket message.
    case sendText(GSDPConnectionID, String)
    /// Close the connection, with the reason.
    case close(GSDPConnectionID, String)
}

/// The Vehicle OEM Server as a service many TBMs connect to (`spaak-cloud vos`), one of
/// possibly several instances over one database: pure glue between the GSDP connections and
/// one `VehicleOEMServer`.
///
/// - A TBM's `hello` binds its serials to its connection (the newest binding wins); the
///   service answers `welcome` and sends the serials' pushes waiting in the outbox. A serial
///   that authenticates a V2C message on a connection is bound to it as well.
/// - A V2C message is handled by `VehicleOEMServer.handleV2C`; its answer goes back on the
///   connection it came on (no outbox: the module repeats a request whose answer was lost).
/// - A push (0x0A PP-02, 0x0C, 0x0E) is written to the repository's C2V outbox in the
///   transaction that makes it (`VehicleOEMServer.pushesGoToOutbox`) and announced; the
///   instance holding the vehicle's connection sends it (at once when that is this one, on
///   `notified` when another instance queued it, on the next `hello` or authenticated V2C
///   otherwise). `not-sent` sends it again 5 s later; after the TBM's `delivered` ack the
///   row stays until the module's answer (`PushAnswer`: 0x0B, 0x0D, 0x09) deletes it, on
///   whichever instance it arrives, and no answer within 60 s sends it again. At most 3 sends
///   after the first, for either reason (ICD 7.4), then the row is deleted ("given up"). A
///   connection that closes leaves its unanswered rows in the outbox for the next connection.
/// - Spake2VerifierRequests and `push-verifier` wait for a verifier made in advance
///   (`verifierReady`), as in `CloudSimulator`.
///
/// GSDP control text is decoded by the shell (target GSDP); this type gets the decoded
/// `Hello` and C2V outcomes, and returns `welcome` as text (design section 1).
/// Not thread-safe: one event loop drives it. Time comes from the `now`/`date` arguments.
public final class VOSService {
    /// What one input produced.
    public struct Step: Sendable, Equatable {
        /// What to do on the connections, in order.
        public var actions: [VOSServiceAction] = []
        /// Trace events, in order (`ms` = `now`).
        public var events: [CloudEvent] = []

        /// An empty step.
        public init() {}
    }

    /// The answer to a control command.
    public typealias Reply = CloudSimulator.Reply

    /// A TBM's first message on its connection (GSDP `hello`).
    public struct Hello: Sendable, Equatable {
        /// The TBM's name.
        public var tbm: String
        /// The serials behind it (may be empty: bound when they authenticate).
        public var serials: [String]

        /// Creates a hello.
        public init(tbm: String, serials: [String]) {
            self.tbm = tbm
            self.serials = serials
        }
    }

    /// What the TBM reported for one C2V message (GSDP `c2v` ack).
    public enum C2VOutcome: Sendable, Equatable {
        /// It left on the vehicle bus.
        case delivered
        /// It could not, with the TBM's reason.
        case notSent(reason: String)
    }

    /// The counters of `stats`.
    public struct Counters: Sendable, Equatable {
        /// Binary messages received (V2C).
        public var v2c = 0
        /// V2C messages that got an answer on their connection (ErrorResponses included).
        public var answered = 0
        /// V2C messages the VOS refused (an ErrorResponse, or no answer: malformed, not authentic, replayed).
        public var refused = 0
        /// Pushes this instance wrote to the outbox.
        public var pushes = 0
        /// Outbox messages this instance sent whose delivery the TBM acknowledged.
        public var outboxSent = 0
    }

    /// One open connection.
    struct Connection {
        var tbm: String
        var serials: Set<String> = []
    }

    /// An outbox row sent on a connection, until the module's answer: waiting for the TBM's
    /// ack (`due` nil), for a retry after `not-sent`, or for the answer (`awaitingAnswer`).
    struct Flight {
        var outboxID: Int64
        var serial: String
        var connection: GSDPConnectionID
        var bytes: [UInt8]
        var digest: String
        var event: CloudEvent
        /// What answers it; `nil`: nothing does (done when delivered).
        var answer: PushAnswer?
        /// Sends so far.
        var attempts = 1
        /// When set: sent again at `due` (after `not-sent`, or when no answer came).
        var due: Instant?
        /// Delivered; waiting for the module's answer until `due`.
        var awaitingAnswer = false
    }

    /// An input waiting for a verifier.
    enum Waiting {
        case request([UInt8], GSDPConnectionID)
        case push(String)
    }

    /// The VOS (and KTS).
    public let vos: VehicleOEMServer
    /// This instance's name (the `welcome`, `stats`).
    public let instance: String
    /// The counters of `stats`.
    public internal(set) var counters = Counters()
    let startedAt: Instant
    var connections: [GSDPConnectionID: Connection] = [:]
    /// Serial → the connection it is bound to here.
    var bindings: [String: GSDPConnectionID] = [:]
    var flights: [Flight] = []
    /// Answers sent, by connection and digest, for their delivered/not-sent events.
    var answersInTransit: [GSDPConnectionID: [String: CloudEvent]] = [:]
    /// Answers held back by a `delay` fault.
    var delayed: [(due: Instant, connection: GSDPConnectionID, bytes: [UInt8], event: CloudEvent)] = []
    var waiting = VerifierWaitQueue<Waiting>(capacity: CloudSimulator.maxWaiting)

    /// The time between a push's not-sent ack and the next attempt (ICD 7.4: 5 s).
    public static let pushRetryDelay: Duration = CloudSimulator.pushRetryDelay
    /// The most attempts after the first (ICD 7.4: 3).
    public static let pushRetries = CloudSimulator.pushRetries
    /// How long a delivered push waits for the module's answer before it is sent again.
    public static let pushAnswerTimeout: Duration = CloudSimulator.pushAnswerTimeout

    /// A service named `instance` over `vos` (its pushes then go to the outbox), started at `now`.
    public init(vos: VehicleOEMServer, instance: String, now: Instant) {
        self.vos = vos
        self.instance = instance
        self.startedAt = now
        vos.pushesGoToOutbox = true
    }

    /// Whether a verifier made in advance is ready; `nil`: derived on demand, nothing waits.
    public var verifierReady: (() -> Bool)? {
        get { waiting.isReady }
        set { waiting.isReady = newValue }
    }

    /// Inputs that need a verifier, waiting for one.
    public var waitingForVerifier: Int { waiting.count }

    /// Open connections.
    public var connectionCount: Int { connections.count }

    /// Serials bound to a connection of this instance.
    public var boundSerials: Set<String> { Set(bindings.keys) }

    /// The earliest instant at which `handleTimeout` has work.
    public var nextDeadline: Instant? {
        flights.compactMap(\.due).min().earliest(delayed.map(\.due).min())
    }

    /// The `welcome` text for this instance (GSDP control, design section 1).
    public var welcomeText: String {
        let name = String(decoding: (try? JSONEncoder().encode(instance)) ?? Data("\"\"".utf8), as: UTF8.self)
        return "{\"welcome\":{\"instance\":\(name)}}"
    }

    /// The lowercase hex SHA-256 of a C2V message: how the TBM's ack names it.
    public static func digest(_ bytes: [UInt8]) -> String { Array(SHA256.hash(data: bytes)).hexString.lowercased() }

    /// A connection opened and its TBM said `hello`: binds the serials, answers `welcome`,
    /// sends their outbox.
    public func connected(_ id: GSDPConnectionID, hello: Hello, now: Instant, date: Date) -> Step {
        var step = Step()
        connections[id, default: Connection(tbm: hello.tbm)].tbm = hello.tbm
        let serials = hello.serials.filter { !$0.isEmpty && $0.utf8.count <= 32 }
        info("connection \(id): TBM \(hello.tbm) hello (\(serials.isEmpty ? "no serials" : serials.joined(separator: ", "))); welcome from \(instance)",
             now: now, into: &step)
        step.actions.append(.sendText(id, welcomeText))
        for serial in serials { bind(serial, to: id, now: now, date: date, into: &step) }
        return step
    }

    /// A binary message (V2C) on connection `id`.
    public func received(_ bytes: [UInt8], from id: GSDPConnectionID, now: Instant, date: Date) -> Step {
        var step = Step()
        guard connections[id] != nil else {
            append([CloudEvent(from: .tbm, to: .vos, outcome: .refused, direction: "V2C",
                               type: CloudMessageCodec.peekRawMessageType(bytes),
                               detail: "\(bytes.count) bytes on connection \(id) before its hello: discarded")], now: now, into: &step)
            return step
        }
        counters.v2c += 1
        if CloudMessageCodec.peekMessageType(bytes) == .spake2VerifierRequest, waiting.mustWait {
            var event = CloudEvent(from: .spaak, to: .vos, outcome: .info, direction: "V2C",
                                   type: CloudMessageType.spake2VerifierRequest.rawValue,
                                   name: CloudMessageType.spake2VerifierRequest.description)
            if waiting.enqueue(.request(bytes, id)) {
                event.detail = "waiting for a verifier (scrypt running)"
            } else {
                counters.refused += 1
                event.outcome = .refused
                event.detail = "too many inputs waiting for a verifier: discarded"
            }
            append([event], now: now, into: &step)
            return step
        }
        handleV2C(bytes, from: id, now: now, date: date, into: &step)
        return step
    }

    /// The TBM's ack of a C2V message (`digest` = `VOSService.digest` of its bytes).
    public func c2vOutcome(_ digest: String, _ outcome: C2VOutcome, from id: GSDPConnectionID, now: Instant, date: Date) -> Step {
        var step = Step()
        if let index = flights.firstIndex(where: { $0.connection == id && $0.digest == digest && $0.due == nil }) {
            pushAcknowledged(at: index, outcome, now: now, into: &step)
        } else if let event = answersInTransit[id]?.removeValue(forKey: digest) {
            append([transit(event, outcome)], now: now, into: &step)
        } else {
            info("connection \(id): ack for an unknown C2V message \(digest.prefix(16))…: ignored", now: now, into: &step)
        }
        return step
    }

    /// The connection closed: its bindings end; its unanswered pushes stay in the outbox.
    public func disconnected(_ id: GSDPConnectionID, now: Instant) -> Step {
        var step = Step()
        guard let connection = connections.removeValue(forKey: id) else { return step }
        for serial in connection.serials where bindings[serial] == id { bindings.removeValue(forKey: serial) }
        let unanswered = flights.filter { $0.connection == id }.count
        flights.removeAll { $0.connection == id }
        answersInTransit.removeValue(forKey: id)
        delayed.removeAll { $0.connection == id }
        info("connection \(id) (TBM \(connection.tbm)) closed"
             + (unanswered > 0 ? "; \(unanswered) unanswered push\(unanswered == 1 ? " stays" : "es stay") in the outbox" : ""),
             now: now, into: &step)
        return step
    }

    /// Another instance queued C2V messages for `serial`: sends them when it is bound here.
    public func notified(_ serial: String, now: Instant, date: Date) -> Step {
        var step = Step()
        if let id = bindings[serial] { deliverOutbox(serial, on: id, now: now, date: date, into: &step) }
        return step
    }

    /// A verifier became ready: handles the waiting inputs while verifiers last.
    public func verifiersReady(now: Instant, date: Date) -> Step {
        var step = Step()
        while let next = waiting.next() {
            switch next {
            case .request(let bytes, let id):
                guard connections[id] != nil else {
                    info("a waiting Spake2VerifierRequest's connection \(id) closed: dropped", now: now, into: &step)
                    continue
                }
                handleV2C(bytes, from: id, now: now, date: date, into: &step)
            case .push(let serial):
                do {
                    _ = try queuePush(vos.pushVerifier(serial: serial, date: date), serial: serial, now: now, date: date, into: &step)
                } catch {
                    append([CloudEvent(from: .control, to: .vos, outcome: .info, serial: serial,
                                       detail: "queued push-verifier \(serial) failed: \(error)")], now: now, into: &step)
                }
            }
        }
        return step
    }

    /// Timers: retries of pushes not sent or not answered, answers held back by a `delay` fault.
    public func handleTimeout(now: Instant, date: Date) -> Step {
        var step = Step()
        for index in delayed.indices.reversed() where delayed[index].due <= now {
            let held = delayed.remove(at: index)
            sendAnswer(held.bytes, event: held.event, on: held.connection, now: now, into: &step)
        }
        var done: Set<Int64> = []
        for index in flights.indices {
            guard let due = flights[index].due, due <= now else { continue }
            if flights[index].awaitingAnswer {
                guard unanswered(flights[index], now: now, into: &step) else {
                    done.insert(flights[index].outboxID)
                    continue
                }
                flights[index].awaitingAnswer = false
            }
            flights[index].attempts += 1
            flights[index].due = nil
            let flight = flights[index]
            append([pushInfo(flight.event, "retry \(flight.attempts - 1)/\(Self.pushRetries): sent again on connection \(flight.connection)")],
                   now: now, into: &step)
            step.actions.append(.send(flight.connection, flight.bytes))
        }
        flights.removeAll { done.contains($0.outboxID) }
        return step
    }

    /// Stamps `events` with `now` and appends them.
    func append(_ events: [CloudEvent], now: Instant, into step: inout Step) {
        for var event in events {
            event.ms = now.milliseconds
            step.events.append(event)
        }
    }

    /// An info line of the service.
    func info(_ detail: String, serial: String? = nil, now: Instant, into step: inout Step) {
        append([CloudEvent(from: .tbm, to: .vos, outcome: .info, serial: serial, detail: detail)], now: now, into: &step)
    }
}
