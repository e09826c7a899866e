import E2E
import ISOTP
import SpaakCore

/// The state of the simulated TBM's cloud link, as `TBM_Status` shows it.
public enum TBMLinkState: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Connected to GSDP and subscribed to the SpaaK topic: messages are relayed.
    case online
    /// Not connected to GSDP (both bits 0): nothing is relayed.
    case offline
    /// Connected but not subscribed to the SpaaK topic (bit 0 only): nothing is relayed.
    case unsubscribed
    /// `TBM_Status` is not sent at all (the module's 1000 ms supervision expires).
    case silent

    /// The signals sent in this state (`nil` when silent).
    public var signals: TBMStatusSignals? {
        switch self {
        case .online: return .ready
        case .offline: return TBMStatusSignals(gsdpConnected: false, spaakTopicSubscribed: false)
        case .unsubscribed: return TBMStatusSignals(gsdpConnected: true, spaakTopicSubscribed: false)
        case .silent: return nil
        }
    }

    /// `true` when V2C and C2V messages are relayed.
    public var relays: Bool { self == .online }

    public var description: String { rawValue }
}

/// What the TBM asks its owner to do or tells it.
public enum TBMOutput: Equatable, Sendable {
    /// Put this frame on the bus.
    case transmit(CANFrame)
    /// A complete V2C message arrived on 0x6A0 while online: hand it to the cloud.
    case v2cMessage([UInt8])
    /// A V2C message arrived while the link was down: not relayed.
    case v2cDiscarded([UInt8], TBMLinkState)
    /// A C2V message has been completely transmitted on 0x6A8.
    case c2vSent([UInt8])
    /// A C2V message could not be sent (link down, or an ISO-TP error).
    case c2vNotSent([UInt8], reason: String)
    /// An ISO-TP reception failed (the peer's problem).
    case receiveFailed(ISOTPError)
}

/// The simulated TBM as a sans-I/O machine: `TBM_Status` every 100 ms (ICD 3), and the
/// ISO-TP bridge to the cloud: receives V2C on 0x6A0, transmits C2V on 0x6A8 (ICD 2, 4;
/// classic CAN, padding 0xCC by default).
///
/// C2V messages are queued: one ISO-TP transmission at a time, each not before its own
/// instant (so a delayed message, a fault of the simulator, keeps its place in time).
public struct TBMSimulator: Sendable {
    /// The link state shown in `TBM_Status`.
    public private(set) var linkState: TBMLinkState
    /// C2V messages not yet handed to ISO-TP.
    public private(set) var outbox: [(bytes: [UInt8], notBefore: Instant)] = []

    private var encoder: TBMStatusEncoder
    private var schedule: CyclicSchedule
    private var channel: ISOTPChannel
    private var inFlight: [UInt8]?

    /// Creates a TBM whose first `TBM_Status` is due at `now`.
    public init(now: Instant, linkState: TBMLinkState = .online, statusID: UInt32 = TBMStatusEncoder.defaultCANID,
                period: Duration = .milliseconds(100), isotp: ISOTPConfiguration = TBMSimulator.defaultISOTP) {
        self.linkState = linkState
        encoder = TBMStatusEncoder(canID: statusID)
        schedule = CyclicSchedule(period: period, first: now)
        channel = ISOTPChannel(configuration: isotp)
        inFlight = nil
    }

    /// The TBM's channel: transmits on 0x6A8, receives on 0x6A0, classic CAN, padding 0xCC.
    public static let defaultISOTP = ISOTPConfiguration(txID: 0x6A8, rxID: 0x6A0)

    /// The bridge's channel for other identifiers or CAN FD (64-byte frames, no BRS);
    /// padding 0xCC, the ICD 4 timing.
    public static func isotpConfiguration(txID: UInt32, rxID: UInt32, canFD: Bool) -> ISOTPConfiguration {
        ISOTPConfiguration(txID: txID, rxID: rxID, frameFormat: canFD ? .fd(bitRateSwitch: false) : .classic)
    }

    /// The ISO-TP counters of the bridge.
    public var isotpCounters: ISOTPCounters { channel.counters }

    /// The frames handed out last are on the bus now (transmit confirmation, see
    /// `ISOTPChannel.transmissionConfirmed(now:)`).
    public mutating func framesTransmitted(now: Instant) { channel.transmissionConfirmed(now: now) }

    /// The earliest instant at which `handleTimeout` has work.
    public var nextDeadline: Instant? {
        var deadline: Instant? = linkState == .silent ? nil : schedule.nextDeadline
        deadline = deadline.earliest(channel.nextDeadline)
        if inFlight == nil, let first = outbox.first { deadline = deadline.earliest(first.notBefore) }
        return deadline
    }

    /// Changes the link state; the next `TBM_Status` shows it. Going down discards the
    /// queued C2V messages.
    public mutating func setLinkState(_ state: TBMLinkState, now: Instant) -> [TBMOutput] {
        let wasSilent = linkState == .silent
        linkState = state
        if wasSilent && state != .silent { schedule = CyclicSchedule(period: schedule.period, first: now) }
        var out: [TBMOutput] = []
        if !state.relays {
            out += outbox.map { .c2vNotSent($0.bytes, reason: "TBM \(state)") }
            outbox.removeAll()
        }
        return out + handleTimeout(now: now)
    }

    /// Queues a C2V message for transmission at `notBefore` (at once when `nil` or past).
    /// Refused with `.c2vNotSent` while the link is down.
    public mutating func send(_ message: [UInt8], notBefore: Instant? = nil, now: Instant) -> [TBMOutput] {
        guard linkState.relays else { return [.c2vNotSent(message, reason: "TBM \(linkState)")] }
        let at = notBefore ?? now
        let index = outbox.firstIndex { $0.notBefore > at } ?? outbox.endIndex
        outbox.insert((message, at), at: index)
        return pump(now: now)
    }

    /// Processes a frame from the bus (only 0x6A0 and its flow control matter).
    public mutating func handle(_ frame: CANFrame, now: Instant) -> [TBMOutput] {
        var out = map(channel.handle(frame, now: now))
        out += pump(now: now)
        return out
    }

    /// Sends `TBM_Status` when due, runs ISO-TP timers and starts due C2V messages.
    public mutating func handleTimeout(now: Instant) -> [TBMOutput] {
        var out: [TBMOutput] = []
        if schedule.fire(now: now), let signals = linkState.signals {
            out.append(.transmit(encoder.nextFrame(signals)))
        }
        out += map(channel.handleTimeout(now: now))
        out += pump(now: now)
        return out
    }

    private mutating func pump(now: Instant) -> [TBMOutput] {
        var out: [TBMOutput] = []
        while inFlight == nil, let first = outbox.first, first.notBefore <= now {
            outbox.removeFirst()
            inFlight = first.bytes
            out += map(channel.send(first.bytes, now: now))
        }
        return out
    }

    private mutating func map(_ outputs: [ISOTPOutput]) -> [TBMOutput] {
        var out: [TBMOutput] = []
        for output in outputs {
            switch output {
            case .transmit(let frame):
                out.append(.transmit(frame))
            case .received(let message):
                out.append(linkState.relays ? .v2cMessage(message) : .v2cDiscarded(message, linkState))
            case .transmitCompleted:
                if let sent = inFlight { out.append(.c2vSent(sent)) }
                inFlight = nil
            case .failed(let error):
                if error.isTransmitError {
                    if error != .busy, let failed = inFlight {
                        out.append(.c2vNotSent(failed, reason: error.description))
                        inFlight = nil
                    }
                } else {
                    out.append(.receiveFailed(error))
                }
            }
        }
        return out
    }
}
