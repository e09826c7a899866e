import CloudProtocol
import GSDP
import SpaakCore

/// A vehicle's TBM as its own process's core (pure): the `TBMSimulator` on the CAN bus
/// (`TBM_Status`, the ISO-TP bridge) in front of a GSDP link to the VOS (`GSDPLinkMachine`).
///
/// - `TBM_Status` follows the link: welcomed → `online` (bits 0+1, relays), WebSocket up
///   without welcome → `unsubscribed` (bit 0), else `offline`. A manual override (`tbm
///   offline|unsubscribe|silent`) shows that state and closes the link until `tbm online`.
/// - A complete V2C message from the bus → a binary message to the VOS (only while online).
/// - A binary message from the VOS → queued on the bus as a C2V message; once it left the bus
///   (or could not) → the text ack `{"c2v":"<sha256>","outcome":…}` to the VOS.
///
/// The shell executes the actions (CAN transmitter, `GSDPClient`) and feeds back frames,
/// timeouts and link events, with the monotonic `now`.
public struct TBMRelay: Sendable {
    /// What the shell has to do.
    public enum Action: Equatable, Sendable {
        /// Put this frame on the bus.
        case transmit(CANFrame)
        /// Open the WebSocket to the URL.
        case connect(String)
        /// Send a binary message (one ICD 7 message) to the VOS.
        case sendBinary([UInt8])
        /// Send a text message (a GSDP control message) to the VOS.
        case sendText(String)
        /// Close the WebSocket.
        case close(String)
    }

    /// What one input produced.
    public struct Step: Equatable, Sendable {
        /// To execute, in order.
        public var actions: [Action] = []
        /// Trace events (from the TBM's view), `ms` set.
        public var events: [CloudEvent] = []

        /// An empty step.
        public init() {}

        /// The frames among the actions.
        public var frames: [CANFrame] { actions.compactMap { if case .transmit(let frame) = $0 { frame } else { nil } } }
    }

    /// What the relay did so far (for `status` and tests).
    public struct Counts: Equatable, Sendable {
        /// V2C messages sent to the VOS.
        public var v2cRelayed = 0
        /// V2C messages dropped because the link was down.
        public var v2cDiscarded = 0
        /// C2V messages received from the VOS.
        public var c2vReceived = 0
        /// C2V messages completely transmitted on the bus.
        public var c2vDelivered = 0
        /// C2V messages not transmitted.
        public var c2vNotSent = 0
        /// Welcomes received (connections that subscribed).
        public var connections = 0
        /// Connections and attempts that ended.
        public var disconnections = 0
    }

    /// The bus side.
    public private(set) var tbm: TBMSimulator
    /// The link to the VOS.
    public private(set) var link: GSDPLinkMachine
    /// The manual override, or `nil` when `TBM_Status` follows the link.
    public private(set) var override: TBMLinkState?
    /// The counters.
    public private(set) var counts = Counts()
    /// The `queued` events of C2V messages on their way to the bus, for their `delivered` events.
    private var inTransit: [(bytes: [UInt8], event: CloudEvent)] = []
    /// What the TBM produced while the relay was made (put offline), handed out by the first `handleTimeout`.
    private var pending: [TBMOutput] = []

    /// A relay whose TBM shows `offline` until the link is welcomed (make `tbm` offline, or its
    /// first `TBM_Status` comes with the first `handleTimeout`); the first attempt is due when
    /// `link` says (its `nextDeadline`).
    public init(tbm: TBMSimulator, link: GSDPLinkMachine, now: Instant) {
        self.tbm = tbm
        self.link = link
        if self.tbm.linkState != .offline { pending = self.tbm.setLinkState(.offline, now: now) }
    }

    /// The state `TBM_Status` shows now.
    public var linkState: TBMLinkState { tbm.linkState }

    /// The earliest instant at which `handleTimeout` has work.
    public var nextDeadline: Instant? { tbm.nextDeadline.earliest(link.nextDeadline) }

    /// The frames handed out last are on the bus now (ISO-TP transmit confirmation).
    public mutating func framesTransmitted(now: Instant) { tbm.framesTransmitted(now: now) }

    /// A frame from the bus.
    public mutating func handle(_ frame: CANFrame, now: Instant) -> Step {
        var step = Step()
        process(tbm.handle(frame, now: now), now: now, into: &step)
        return step
    }

    /// `TBM_Status`, ISO-TP timers, due link attempts.
    public mutating func handleTimeout(now: Instant) -> Step {
        var step = Step()
        let early = pending
        pending = []
        process(early, now: now, into: &step)
        apply(link.handleTimeout(now: now), now: now, into: &step)
        process(tbm.handleTimeout(now: now), now: now, into: &step)
        return step
    }

    /// The WebSocket is up.
    public mutating func linkConnected(now: Instant) -> Step {
        var step = Step()
        apply(link.connected(now: now), now: now, into: &step)
        return step
    }

    /// A text message from the VOS.
    public mutating func linkReceived(text: String, now: Instant) -> Step {
        var step = Step()
        apply(link.receivedText(text, now: now), now: now, into: &step)
        return step
    }

    /// A binary message (a C2V message) from the VOS: onto the bus, acked once it left it.
    public mutating func linkReceived(binary bytes: [UInt8], now: Instant) -> Step {
        var step = Step()
        counts.c2vReceived += 1
        var event = Self.describe(bytes, from: .vos, to: .tbm, outcome: .queued)
        event.ms = now.milliseconds
        step.events.append(event)
        inTransit.append((bytes, event))
        process(tbm.send(bytes, now: now), now: now, into: &step)
        return step
    }

    /// The WebSocket closed (or the attempt failed).
    public mutating func linkClosed(reason: String, now: Instant) -> Step {
        var step = Step()
        apply(link.closed(reason: reason, now: now), now: now, into: &step)
        return step
    }

    /// The manual override: `online` lets `TBM_Status` follow the link again (and reconnects
    /// at once); any other state is shown as such and closes the link until then.
    public mutating func setOverride(_ state: TBMLinkState, now: Instant) -> Step {
        var step = Step()
        info("manual override: tbm \(state)", now: now, into: &step)
        if state == .online {
            override = nil
            apply(link.resume(now: now), now: now, into: &step)
        } else {
            override = state
            apply(link.suspend(reason: "tbm \(state)"), now: now, into: &step)
        }
        return step
    }

    /// One line for the `status` command.
    public var statusLine: String {
        let c = counts
        return "link \(tbm.linkState)\(override.map { " (override \($0))" } ?? ""); state \(Self.name(of: link.state)); "
            + "instance \(link.instance ?? "-"); url \(link.currentURL ?? "-"); v2c relayed \(c.v2cRelayed), discarded \(c.v2cDiscarded); "
            + "c2v received \(c.c2vReceived), delivered \(c.c2vDelivered), not sent \(c.c2vNotSent); "
            + "connections \(c.connections), disconnections \(c.disconnections)"
    }

    private static func name(of state: GSDPLinkMachine.State) -> String {
        switch state {
        case .disconnected: return "disconnected"
        case .connecting: return "connecting"
        case .connected: return "connected"
        case .subscribed: return "subscribed"
        case .suspended: return "suspended"
        }
    }

    // MARK: - Internals

    /// Executes a link step and brings `TBM_Status` in line with the link.
    private mutating func apply(_ linkStep: GSDPLinkMachine.Step, now: Instant, into step: inout Step) {
        for action in linkStep.actions {
            switch action {
            case .connect(let url): step.actions.append(.connect(url))
            case .sendText(let text): step.actions.append(.sendText(text))
            case .close(let reason): step.actions.append(.close(reason))
            }
        }
        for event in linkStep.events {
            switch event {
            case .subscribed: counts.connections += 1
            case .disconnected: counts.disconnections += 1
            default: break
            }
            var cloudEvent = CloudEvent(from: .tbm, to: .vos, outcome: .info, detail: event.description)
            if case .ignoredText = event { cloudEvent.from = .vos; cloudEvent.to = .tbm; cloudEvent.outcome = .refused }
            cloudEvent.ms = now.milliseconds
            step.events.append(cloudEvent)
        }
        let wanted = override ?? (link.isSubscribed ? .online : link.isConnected ? .unsubscribed : .offline)
        if wanted != tbm.linkState {
            let signals = wanted.signals.map { "TBM_Status \($0)" } ?? "no TBM_Status"
            info("link \(wanted): \(signals)", now: now, into: &step)
            process(tbm.setLinkState(wanted, now: now), now: now, into: &step)
        }
    }

    private mutating func process(_ outputs: [TBMOutput], now: Instant, into step: inout Step) {
        for output in outputs {
            switch output {
            case .transmit(let frame):
                step.actions.append(.transmit(frame))
            case .v2cMessage(let bytes):
                counts.v2cRelayed += 1
                step.actions.append(.sendBinary(bytes))
                var event = Self.describe(bytes, from: .tbm, to: .vos, outcome: .info)
                event.detail = "relayed to \(link.instance ?? "?")" + (event.detail.map { " (\($0))" } ?? "")
                event.ms = now.milliseconds
                step.events.append(event)
            case .v2cDiscarded(let bytes, let state):
                counts.v2cDiscarded += 1
                var event = Self.describe(bytes, from: .spaak, to: .tbm, outcome: .discarded)
                event.detail = "\(bytes.count) bytes, TBM \(state): not relayed"
                event.ms = now.milliseconds
                step.events.append(event)
            case .c2vSent(let bytes):
                counts.c2vDelivered += 1
                finished(bytes, outcome: .delivered, now: now, into: &step)
            case .c2vNotSent(let bytes, let reason):
                counts.c2vNotSent += 1
                finished(bytes, outcome: .notSent(reason: reason), now: now, into: &step)
            case .receiveFailed(let error):
                var event = CloudEvent(from: .spaak, to: .tbm, outcome: .refused, direction: "V2C",
                                       detail: "ISO-TP reception failed: \(error)")
                event.ms = now.milliseconds
                step.events.append(event)
            }
        }
    }

    /// A C2V message left the bus or could not: its event, and the ack when the link is up.
    private mutating func finished(_ bytes: [UInt8], outcome: GSDPC2VOutcome, now: Instant, into step: inout Step) {
        var event: CloudEvent
        if let index = inTransit.firstIndex(where: { $0.bytes == bytes }) {
            event = inTransit.remove(at: index).event
        } else {
            event = Self.describe(bytes, from: .tbm, to: .spaak, outcome: .delivered)
        }
        event.from = .tbm
        event.to = .spaak
        event.ms = now.milliseconds
        let ack = GSDPC2VAck(message: bytes, outcome: outcome)
        switch outcome {
        case .delivered:
            event.outcome = .delivered
            event.detail = nil
        case .notSent(let reason):
            event.outcome = .notSent
            event.detail = reason
        }
        if link.isConnected {
            step.actions.append(.sendText(GSDPControlMessage.c2vAck(ack).text))
            event.detail = (event.detail.map { $0 + "; " } ?? "") + "ack sha256=\(ack.sha256.prefix(16))…"
        } else {
            event.detail = (event.detail.map { $0 + "; " } ?? "") + "no ack: link down"
        }
        step.events.append(event)
    }

    private func info(_ text: String, now: Instant, into step: inout Step) {
        var event = CloudEvent(from: .tbm, to: .spaak, outcome: .info, detail: text)
        event.ms = now.milliseconds
        step.events.append(event)
    }

    /// A trace event naming the message's type, serial, transaction and counter when it decodes
    /// (the TBM checks nothing: the VOS and the module do).
    static func describe(_ bytes: [UInt8], from: CloudEvent.Node, to: CloudEvent.Node, outcome: CloudEvent.Outcome) -> CloudEvent {
        if let decoded = try? CloudMessageCodec.decode(bytes) {
            return VehicleOEMServer.event(for: decoded.message, from: from, to: to, outcome: outcome)
        }
        var event = CloudEvent(from: from, to: to, outcome: outcome, direction: from == .vos ? "C2V" : "V2C",
                               detail: "\(bytes.count) bytes, not decodable")
        event.type = CloudMessageCodec.peekRawMessageType(bytes)
        return event
    }
}
