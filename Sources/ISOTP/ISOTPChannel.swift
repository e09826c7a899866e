import SpaakCore

/// One ISO-TP (ISO 15765-2) channel, normal addressing, as a sans-I/O state machine: one
/// (txID, rxID) pair, full duplex (a reception and a transmission may run at the same
/// time, like Linux can-isotp).
///
/// The owner feeds it frames (`handle`), messages to send (`send`) and the time
/// (`handleTimeout` once `nextDeadline` has passed) and performs the returned outputs in
/// order. Every entry point first processes deadlines that have already passed at `now`,
/// so the result never depends on whether the owner called `handleTimeout` first.
/// Transmission confirmation (N_As, N_Ar) is the owner's business: a frame counts as sent
/// when it is returned.
///
/// ```swift
/// var uds = ISOTPChannel(configuration: .init(txID: 0x7A8, rxID: 0x7A0))
/// for output in uds.handle(frame, now: clock.now) {
///     switch output {
///     case .transmit(let f): socket.write(f)
///     case .received(let request): handleRequest(request)
///     case .transmitCompleted, .failed: break   // log
///     }
/// }
/// // event loop: if let d = uds.nextDeadline, clock.now >= d { perform(uds.handleTimeout(now: clock.now)) }
/// ```
public struct ISOTPChannel: Sendable {
    /// The channel's parameters.
    public let configuration: ISOTPConfiguration
    /// Diagnostic counters.
    public private(set) var counters = ISOTPCounters()

    private var receiver: ISOTPReceiver
    private var sender: ISOTPSender

    /// Creates an idle channel.
    public init(configuration: ISOTPConfiguration) {
        self.configuration = configuration
        receiver = ISOTPReceiver(configuration: configuration)
        sender = ISOTPSender(configuration: configuration)
    }

    /// `true` while a message given to `send` is not yet completely transmitted.
    public var isTransmitting: Bool { sender.isTransmitting }

    /// `true` while a segmented message from the peer is being reassembled.
    public var isReceiving: Bool { receiver.isReceiving }

    /// The earliest instant at which `handleTimeout` has work to do (N_Bs, N_Cr, or the
    /// STmin gap before the next consecutive frame); `nil` when there is none.
    public var nextDeadline: Instant? { sender.deadline.earliest(receiver.deadline) }

    /// Starts transmitting `payload`. Refused with `.failed(.busy)` while a transmission is
    /// in progress (which continues untouched), and with `.emptyPayload` or
    /// `.payloadTooLong` for a payload of the wrong size. A single frame is followed at once
    /// by `.transmitCompleted`.
    public mutating func send(_ payload: [UInt8], now: Instant) -> [ISOTPOutput] {
        var out: [ISOTPOutput] = []
        expire(now: now, out: &out)
        sender.send(payload, now: now, out: &out)
        count(out)
        return out
    }

    /// Processes a frame from the bus. Frames not on `rxID` (or of the other identifier
    /// length) are ignored silently; malformed or unexpected frames on `rxID` are ignored
    /// and counted. A classic channel ignores CAN FD frames; an FD channel accepts both.
    public mutating func handle(_ frame: CANFrame, now: Instant) -> [ISOTPOutput] {
        guard frame.id == configuration.rxID, frame.isExtended == configuration.extendedIDs else { return [] }
        counters.framesReceived += 1
        var out: [ISOTPOutput] = []
        expire(now: now, out: &out)
        if !process(frame, now: now, out: &out) { counters.framesIgnored += 1 }
        count(out)
        return out
    }

    /// Tells the channel that the frames it handed out were written to the bus at `now`
    /// (AUTOSAR CanTp_TxConfirmation): the STmin gap and N_Bs then run from that instant.
    public mutating func transmissionConfirmed(now: Instant) {
        sender.confirmTransmission(now: now)
    }

    /// Processes every deadline that has passed at `now`; call it when `now >= nextDeadline`.
    public mutating func handleTimeout(now: Instant) -> [ISOTPOutput] {
        var out: [ISOTPOutput] = []
        expire(now: now, out: &out)
        count(out)
        return out
    }

    private mutating func expire(now: Instant, out: inout [ISOTPOutput]) {
        receiver.expire(now: now, out: &out)
        sender.expire(now: now, out: &out)
    }

    /// Routes a frame on `rxID`; returns `false` if it was ignored.
    /// The frame's bytes are read in place (no copy of the payload per frame).
    private mutating func process(_ frame: CANFrame, now: Instant, out: inout [ISOTPOutput]) -> Bool {
        let count = frame.dataCount
        if configuration.isFD {
            guard count <= 8 || CANFrame.fdLengths.contains(count) else { return false }
        } else {
            guard !frame.isFD, count <= 8 else { return false }
        }
        return frame.withUnsafeData { process(pdu: $0, now: now, out: &out) }
    }

    private mutating func process(pdu data: UnsafeBufferPointer<UInt8>, now: Instant, out: inout [ISOTPOutput]) -> Bool {
        guard let pdu = ISOTPPDU.parse(data) else { return false }
        switch pdu {
        case let .single(offset, length):
            return receiver.single(data, offset: offset, length: length, out: &out)
        case let .first(offset, length):
            return receiver.first(data, offset: offset, length: length, now: now, out: &out)
        case let .consecutive(sequenceNumber):
            return receiver.consecutive(data, sequenceNumber: sequenceNumber, now: now, out: &out)
        case let .flowControl(status, blockSize, separationTime):
            return sender.flowControl(status: status, blockSize: blockSize, separationTime: separationTime,
                                      now: now, out: &out)
        }
    }

    private mutating func count(_ out: [ISOTPOutput]) {
        for output in out {
            switch output {
            case .transmit: counters.framesTransmitted += 1
            case .received: counters.messagesReceived += 1
            case .transmitCompleted: counters.messagesTransmitted += 1
            case let .failed(error):
                if error.isTransmitError { counters.transmitErrors += 1 } else { counters.receiveErrors += 1 }
            }
        }
    }
}
