import CloudProtocol
import Foundation
import SpaakCore

/// The whole simulated cloud side as one sans-I/O machine: the TBM (`TBM_Status`, the ISO-TP
/// bridge on 0x6A0/0x6A8) in front of the Vehicle OEM Server, and the control commands.
///
/// The shell feeds it frames, timeouts and control commands, together with the monotonic
/// `now` and the wall-clock `date` (certificate validity, records); it puts the returned
/// frames on the bus and logs the events. Trace events carry `ms` = `now` in milliseconds.
public final class CloudSimulator {
    /// What one input produced.
    public struct Step: Sendable, Equatable {
        /// Frames to put on the bus, in order.
        public var frames: [CANFrame] = []
        /// Trace events, in order.
        public var events: [CloudEvent] = []
    }

    /// The answer to a control command.
    public struct Reply: Sendable, Equatable, CustomStringConvertible {
        /// `false` when the command was refused.
        public var ok: Bool
        /// The text (one or more lines).
        public var text: String

        /// Creates a reply.
        public init(ok: Bool, text: String) {
            self.ok = ok
            self.text = text
        }

        /// The wire form: `ok TEXT` or `error TEXT`.
        public var description: String { (ok ? "ok" : "error") + (text.isEmpty ? "" : " " + text) }
    }

    /// The TBM.
    public private(set) var tbm: TBMSimulator
    /// The VOS (and KTS).
    public let vos: VehicleOEMServer

    /// Whether a verifier made in advance is ready (see `VehicleOEMServer.verifierSource`).
    /// `nil`: verifiers are derived on demand and nothing waits. Otherwise a
    /// Spake2VerifierRequest or a `push-verifier` waits until one is ready (the shell calls
    /// `verifiersReady` then), so that the event loop never runs scrypt itself.
    public var verifierReady: (() -> Bool)? {
        get { waiting.isReady }
        set { waiting.isReady = newValue }
    }

    /// The `queued` events of C2V messages handed to the TBM, for their `delivered` events.
    private var inTransit: [(bytes: [UInt8], event: CloudEvent)] = []

    /// A push (0x0A PP-02, 0x0C owner key termination, 0x0E pairing mode) until the module
    /// answers it (`PushAnswer`): one whose ISO-TP delivery failed is sent again
    /// `pushRetryDelay` later, one delivered but not answered within `pushAnswerTimeout` is
    /// sent again; at most `pushRetries` times in all (the module's rule for its own requests,
    /// ICD 7.4). Answers to the module's requests are not retried: the module repeats the request.
    private struct Push {
        var bytes: [UInt8]
        var event: CloudEvent
        var answer: PushAnswer?
        var attempts = 1
        var due: Instant?
        var awaitingAnswer = false
    }
    private var pushes: [Push] = []
    /// The time between a failed push delivery and the next attempt (ICD 7.4: 5 s).
    public static let pushRetryDelay: Duration = .seconds(5)
    /// The most attempts after the first (ICD 7.4: 3).
    public static let pushRetries = 3
    /// How long a delivered push waits for the module's answer before it is sent again.
    public static let pushAnswerTimeout: Duration = .seconds(60)

    /// Inputs waiting for a verifier.
    private enum Waiting { case request([UInt8]), push(String) }
    private var waiting = VerifierWaitQueue<Waiting>(capacity: CloudSimulator.maxWaiting)
    /// The most inputs that wait; more are refused.
    public static let maxWaiting = 16

    /// Creates the simulator; the TBM's first `TBM_Status` is due at `now`.
    public init(vos: VehicleOEMServer, tbm: TBMSimulator) {
        self.vos = vos
        self.tbm = tbm
    }

    /// The frames returned last were written to the bus at `now` (ISO-TP transmit confirmation).
    public func framesTransmitted(now: Instant) { tbm.framesTransmitted(now: now) }

    /// The earliest instant at which `handleTimeout` has work.
    public var nextDeadline: Instant? { tbm.nextDeadline.earliest(pushes.compactMap(\.due).min()) }

    /// Inputs that need a verifier, waiting for one.
    public var waitingForVerifier: Int { waiting.count }

    /// A verifier became ready: handles the waiting inputs while verifiers last.
    public func verifiersReady(now: Instant, date: Date) -> Step {
        var step = Step()
        while let next = waiting.next() {
            switch next {
            case .request(let bytes):
                let result = vos.handleV2C(bytes, date: date)
                send(result, now: now, date: date, into: &step)
                pushesAnswered(by: bytes, result: result, now: now, into: &step)
            case .push(let serial):
                do {
                    try requireLink()
                    send(try vos.pushVerifier(serial: serial, date: date), push: true, now: now, date: date, into: &step)
                } catch {
                    append([CloudEvent(from: .control, to: .vos, outcome: .info, serial: serial,
                                       detail: "queued push-verifier \(serial) failed: \(error)")], now: now, into: &step)
                }
            }
        }
        return step
    }

    /// `true` when an input needing a verifier must wait (none ready).
    private var mustWait: Bool { waiting.mustWait }

    /// A frame from the bus.
    public func handle(_ frame: CANFrame, now: Instant, date: Date) -> Step {
        var step = Step()
        process(tbm.handle(frame, now: now), now: now, date: date, into: &step)
        return step
    }

    /// Timers: `TBM_Status`, ISO-TP, delayed messages.
    public func handleTimeout(now: Instant, date: Date) -> Step {
        var step = Step()
        process(tbm.handleTimeout(now: now), now: now, date: date, into: &step)
        retryDuePushes(now: now, date: date, into: &step)
        return step
    }

    /// Sends again the pushes whose retry is due (or gives them up while the TBM does not relay).
    private func retryDuePushes(now: Instant, date: Date, into step: inout Step) {
        for index in pushes.indices.reversed() {
            guard let due = pushes[index].due, due <= now else { continue }
            var push = pushes[index]
            guard tbm.linkState.relays else {
                pushes.remove(at: index)
                append([pushInfo(push, "push given up: TBM \(tbm.linkState)")], now: now, into: &step)
                continue
            }
            if push.awaitingAnswer {
                guard push.attempts <= Self.pushRetries else {
                    pushes.remove(at: index)
                    append([pushInfo(push, PushAnswer.Trace.givenUp(sends: push.attempts))], now: now, into: &step)
                    continue
                }
                append([pushInfo(push, PushAnswer.Trace.noAnswer(Self.pushAnswerTimeout))], now: now, into: &step)
                push.awaitingAnswer = false
            }
            push.attempts += 1
            push.due = nil
            pushes[index] = push
            append([pushInfo(push, "retry \(push.attempts - 1)/\(Self.pushRetries): sent again")], now: now, into: &step)
            inTransit.append((push.bytes, push.event))
            process(tbm.send(push.bytes, now: now), now: now, date: date, into: &step)
        }
    }

    /// The V2C `bytes`, handled with `result`, end the pushes they answer when the VOS
    /// authenticated them (answered them, or accepted them without an answer).
    private func pushesAnswered(by bytes: [UInt8], result: VOSResult, now: Instant, into step: inout Step) {
        guard !pushes.isEmpty,
              !result.transmissions.isEmpty || result.events.contains(where: { $0.direction == "V2C" && $0.outcome == .accepted }),
              let message = PushAnswer.candidate(bytes) else { return }
        pushes.removeAll { push in
            guard push.answer?.isAnswered(by: message) == true else { return false }
            append([pushInfo(push, PushAnswer.Trace.done(message, sends: push.attempts))], now: now, into: &step)
            return true
        }
    }

    /// A trace line about a push, with its type and serial.
    private func pushInfo(_ push: Push, _ detail: String) -> CloudEvent {
        var event = push.event
        event.from = .vos
        event.to = .spaak
        event.outcome = .info
        event.detail = detail
        return event
    }

    /// A C2V message left the TBM (`delivered`) or could not (`failed`): a push that could
    /// not is scheduled again, or given up after the last retry.
    private func pushOutcome(_ bytes: [UInt8], delivered: Bool, now: Instant) -> CloudEvent? {
        guard let index = pushes.firstIndex(where: { $0.bytes == bytes && $0.due == nil }) else { return nil }
        let push = pushes[index]
        if delivered {
            if push.answer == nil {
                pushes.remove(at: index)
            } else {
                pushes[index].awaitingAnswer = true
                pushes[index].due = now + Self.pushAnswerTimeout
            }
            return nil
        }
        guard push.attempts <= Self.pushRetries, tbm.linkState.relays else {
            pushes.remove(at: index)
            return pushInfo(push, "push given up after \(push.attempts) attempt\(push.attempts == 1 ? "" : "s")")
        }
        pushes[index].due = now + Self.pushRetryDelay
        return pushInfo(push, "retry \(push.attempts)/\(Self.pushRetries) in \(Int(Self.pushRetryDelay.milliseconds / 1000)) s")
    }

    /// Executes a control command; `readFile` reads a file named in `register-ecu`.
    public func control(_ command: ControlCommand, now: Instant, date: Date,
                        readFile: (String) throws -> [UInt8]) -> (reply: Reply, step: Step) {
        var step = Step()
        let reply: Reply
        do {
            reply = try execute(command, now: now, date: date, readFile: readFile, into: &step)
        } catch {
            reply = Reply(ok: false, text: String(describing: error))
        }
        step.events.insert(CloudEvent.control(command, reply: reply, now: now), at: 0)
        return (reply, step)
    }

    private func execute(_ command: ControlCommand, now: Instant, date: Date, readFile: (String) throws -> [UInt8],
                         into step: inout Step) throws -> Reply {
        switch command {
        case .tbm(let state):
            let signals = state.signals.map { "TBM_Status \($0)" } ?? "no TBM_Status"
            append([CloudEvent(from: .tbm, to: .spaak, outcome: .info, detail: "link \(state): \(signals)")], now: now, into: &step)
            process(tbm.setLinkState(state, now: now), now: now, date: date, into: &step)
            return Reply(ok: true, text: "TBM \(state)")
        case .pushVerifier(let serial):
            try requireLink()
            if mustWait {
                guard waiting.enqueue(.push(serial)) else { throw VOSCommandError("too many inputs waiting for a verifier") }
                return Reply(ok: true, text: "verifier push to \(serial) queued until a verifier is ready (scrypt running)")
            }
            send(try vos.pushVerifier(serial: serial, date: date), push: true, now: now, date: date, into: &step)
            return Reply(ok: true, text: "verifier pushed to \(serial)")
        case .terminateOwnerKey(let serial):
            try requireLink()
            send(try vos.terminateOwnerKey(serial: serial, date: date), push: true, now: now, date: date, into: &step)
            return Reply(ok: true, text: "owner key termination sent to \(serial)")
        case .pairingMode(let serial):
            try requireLink()
            send(try vos.requestPairingMode(serial: serial, date: date), push: true, now: now, date: date, into: &step)
            return Reply(ok: true, text: "pairing mode request sent to \(serial); its OwnerPairingStatus shows in the trace and in status")
        case .fault, .clearFault, .password, .registerECU, .resetCounter, .registerOwner:
            guard let reply = try vos.executeOperatorCommand(command, date: date, readFile: readFile) else {
                throw VOSCommandError("\(command.text): not an operator command")
            }
            return reply
        case .status:
            return Reply(ok: true, text: statusText(try vos.summary()))
        case .stats:
            throw VOSCommandError("stats is a command of spaak-cloud vos (the VOS service); serve has one vehicle: see status")
        }
    }

    private func requireLink() throws {
        guard tbm.linkState.relays else { throw VOSCommandError("TBM is \(tbm.linkState): nothing can be pushed") }
    }

    /// Hands the VOS's messages to the TBM and collects everything into `step`.
    private func send(_ result: VOSResult, push: Bool = false, now: Instant, date: Date, into step: inout Step) {
        append(result.events, now: now, into: &step)
        for transmission in result.transmissions {
            inTransit.append((transmission.bytes, transmission.event))
            if push { pushes.append(Push(bytes: transmission.bytes, event: transmission.event, answer: PushAnswer(push: transmission.bytes))) }
            let notBefore = transmission.delay.map { now + $0 }
            process(tbm.send(transmission.bytes, notBefore: notBefore, now: now), now: now, date: date, into: &step)
        }
    }

    private func process(_ outputs: [TBMOutput], now: Instant, date: Date, into step: inout Step) {
        for output in outputs {
            switch output {
            case .transmit(let frame):
                step.frames.append(frame)
            case .v2cMessage(let bytes):
                // A Spake2VerifierRequest waits for a prepared verifier.
                if CloudMessageCodec.peekMessageType(bytes) == .spake2VerifierRequest, mustWait {
                    var event = CloudEvent(from: .spaak, to: .vos, outcome: .info, direction: "V2C",
                                           type: CloudMessageType.spake2VerifierRequest.rawValue,
                                           name: CloudMessageType.spake2VerifierRequest.description)
                    if waiting.enqueue(.request(bytes)) {
                        event.detail = "waiting for a verifier (scrypt running)"
                    } else {
                        event.outcome = .refused
                        event.detail = "too many inputs waiting for a verifier: discarded"
                    }
                    append([event], now: now, into: &step)
                } else {
                    let result = vos.handleV2C(bytes, date: date)
                    send(result, now: now, date: date, into: &step)
                    pushesAnswered(by: bytes, result: result, now: now, into: &step)
                }
            case .v2cDiscarded(let bytes, let state):
                var event = CloudEvent(from: .spaak, to: .tbm, outcome: .discarded, direction: "V2C",
                                       detail: "\(bytes.count) bytes, TBM \(state): not relayed")
                event.type = CloudMessageCodec.peekRawMessageType(bytes)
                append([event], now: now, into: &step)
            case .c2vSent(let bytes):
                append([transitEvent(bytes, outcome: .delivered, detail: nil)], now: now, into: &step)
                _ = pushOutcome(bytes, delivered: true, now: now)
            case .c2vNotSent(let bytes, let reason):
                append([transitEvent(bytes, outcome: .notSent, detail: reason)], now: now, into: &step)
                if let retry = pushOutcome(bytes, delivered: false, now: now) { append([retry], now: now, into: &step) }
            case .receiveFailed(let error):
                append([CloudEvent(from: .spaak, to: .tbm, outcome: .refused, direction: "V2C",
                                   detail: "ISO-TP reception failed: \(error)")], now: now, into: &step)
            }
        }
    }

    /// The event of a C2V message leaving the TBM (removed from `inTransit`).
    private func transitEvent(_ bytes: [UInt8], outcome: CloudEvent.Outcome, detail: String?) -> CloudEvent {
        var event: CloudEvent
        if let index = inTransit.firstIndex(where: { $0.bytes == bytes }) {
            event = inTransit.remove(at: index).event
            event.from = .tbm
        } else {
            event = CloudEvent(from: .tbm, to: .spaak, outcome: outcome, direction: "C2V")
        }
        event.outcome = outcome
        if let detail { event.detail = detail }
        return event
    }

    private func append(_ events: [CloudEvent], now: Instant, into step: inout Step) {
        for var event in events {
            event.ms = now.milliseconds
            step.events.append(event)
        }
    }

    private func statusText(_ summary: CloudSummary) -> String {
        let lines = ["TBM \(tbm.linkState); fault \(vos.faults.armed.map { "\($0) ×\(vos.faults.remaining)" } ?? "none"); "
                     + "\(summary.ecus.count) ECU\(summary.ecus.count == 1 ? "" : "s")"]
        return (lines + Self.ecuLines(summary)).joined(separator: "\n")
    }

    /// The per-ECU lines of `status` (two per ECU: the database state, then the owner pairing).
    static func ecuLines(_ summary: CloudSummary) -> [String] {
        var lines: [String] = []
        for ecu in summary.ecus {
            let status: (UInt8?) -> String = { $0.map(String.init) ?? "-" }
            lines.append("\(ecu.serial) vin=\(ecu.vin ?? "-") drmUUID=\(ecu.drmUUID?.hexString ?? "-") "
                         + "subjectId=\(ecu.subjectId ?? "-") K=\(ecu.certificates)/status \(status(ecu.certificateStatus)) "
                         + "verifiers=\(ecu.verifiers)/status \(status(ecu.verifierStatus)) "
                         + "password=\(ecu.verifiers == 0 ? "-" : ecu.passwordState.rawValue) owner=\(ecu.owner ?? "-") "
                         + "v2c=\(ecu.v2cCounter.map(String.init) ?? "-") c2v=\(ecu.c2vCounter.map(String.init) ?? "-")")
            lines.append("  " + Self.pairingText(ecu.ownerPairing))
        }
        return lines
    }

    /// The owner pairing line of `status` (indented under its ECU), e.g.
    /// `pairing=3 (owner key active) ownerKey=5A11223344556677 pairingStatus=0 (ok)
    /// updated=2027-01-15T08:00:00Z pairingMode=answered 2027-… activeKey=5A11… terminatedKey=-`.
    static func pairingText(_ record: OwnerPairingRecord?) -> String {
        let time: (Date?) -> String = { $0.map { $0.formatted(.iso8601) } ?? "-" }
        let hex: ([UInt8]?) -> String = { $0?.hexString ?? "-" }
        guard let record else { return "pairing=- (no report) ownerKey=- pairingStatus=- updated=- pairingMode=- activeKey=- terminatedKey=-" }
        let state = record.state.map { byte in "\(byte) (\(OwnerPairingState(rawValue: byte).map(String.init(describing:)) ?? "unknown"))" }
        let status = record.status.map { byte in "\(byte) (\(CloudStatus(rawValue: byte).map(String.init(describing:)) ?? "unknown"))" }
        let mode = if let answered = record.modeAnsweredAt { "answered \(time(answered))" }
            else if let requested = record.modeRequestedAt { "requested \(time(requested))" } else { "-" }
        let terminated = record.terminatedOwnerKeyId.map { "\($0.hexString) at \(time(record.terminatedAt))" } ?? "-"
        return "pairing=\(state ?? "- (no report)") ownerKey=\(hex(record.ownerKeyId)) pairingStatus=\(status ?? "-") "
            + "updated=\(time(record.updatedAt)) pairingMode=\(mode) activeKey=\(hex(record.activeOwnerKeyId)) "
            + "terminatedKey=\(terminated)"
    }
}
