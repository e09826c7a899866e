import SpaakCore

/// The transmitting half of a channel: segments a message into SF or FF + CF and obeys the
/// peer's flow control. Internal; `ISOTPChannel` routes flow-control frames to it.
struct ISOTPSender {
    private enum State {
        case idle
        /// After the FF or the last CF of a block; `deadline` is N_Bs.
        case waitingForFlowControl
        /// Clear to send; `deadline` is when the next CF may go (STmin).
        case sending
    }

    private let configuration: ISOTPConfiguration
    private let builder: ISOTPFrameBuilder
    private let maxLength: Int

    private var state = State.idle
    private var payload: [UInt8] = []
    private var offset = 0
    private var sequenceNumber: UInt8 = 1
    /// BS and STmin of the peer, from the first FC.CTS of the message (as Linux does).
    private var peerParameters: (blockSize: Int, separationTime: Duration)?
    private var framesLeftInBlock = 0
    private var waitFrames = 0
    private var lastConsecutiveFrame: Instant?
    /// N_Bs while waiting for FC, the STmin gap while sending; `nil` when idle.
    private(set) var deadline: Instant?

    init(configuration: ISOTPConfiguration) {
        self.configuration = configuration
        builder = ISOTPFrameBuilder(configuration)
        maxLength = configuration.effectiveMaxMessageLength
    }

    /// `true` from `send` until the last frame is emitted or the transmission fails.
    var isTransmitting: Bool {
        if case .idle = state { return false }
        return true
    }

    /// `true` while a flow control from the peer would be acted upon.
    var isWaitingForFlowControl: Bool {
        if case .waitingForFlowControl = state { return true }
        return false
    }

    private mutating func finish() {
        state = .idle
        payload = []
        deadline = nil
        peerParameters = nil
        lastConsecutiveFrame = nil
    }

    private mutating func fail(_ error: ISOTPError, _ out: inout [ISOTPOutput]) {
        finish()
        out.append(.failed(error))
    }

    /// Starts transmitting `message`: an SF (completed at once) or an FF, then waits for FC.
    mutating func send(_ message: [UInt8], now: Instant, out: inout [ISOTPOutput]) {
        guard !isTransmitting else { out.append(.failed(.busy)); return }
        guard !message.isEmpty else { out.append(.failed(.emptyPayload)); return }
        guard message.count <= maxLength else {
            out.append(.failed(.payloadTooLong(length: message.count, maximum: maxLength)))
            return
        }
        let length = message.count
        if length <= 7 {
            out.append(.transmit(builder.frame(header: [UInt8(length)], payload: message, range: 0..<length)))
            out.append(.transmitCompleted)
            return
        }
        if length <= configuration.maxSingleFrameLength {
            out.append(.transmit(builder.frame(header: [0x00, UInt8(length)], payload: message, range: 0..<length)))
            out.append(.transmitCompleted)
            return
        }
        let header: [UInt8] = length <= 0xFFF
            ? [0x10 | UInt8(length >> 8), UInt8(length & 0xFF)]
            : [0x10, 0x00] + UInt32(length).bigEndianBytes
        let firstCount = configuration.txDataLength - header.count
        out.append(.transmit(builder.frame(header: header, payload: message, range: 0..<firstCount)))
        payload = message
        offset = firstCount
        sequenceNumber = 1
        waitFrames = 0
        peerParameters = nil
        lastConsecutiveFrame = nil
        state = .waitingForFlowControl
        deadline = now + configuration.nBs
    }

    /// A flow control from the peer; returns `false` if it is ignored (not waiting for one).
    mutating func flowControl(status: UInt8, blockSize: UInt8, separationTime: UInt8,
                              now: Instant, out: inout [ISOTPOutput]) -> Bool {
        guard isWaitingForFlowControl else { return false }
        switch ISOTPPDU.FlowStatus(rawValue: status) {
        case .continueToSend:
            waitFrames = 0
            let parameters = peerParameters
                ?? (blockSize: Int(blockSize), separationTime: SeparationTime.duration(separationTime))
            peerParameters = parameters
            framesLeftInBlock = parameters.blockSize
            state = .sending
            if let last = lastConsecutiveFrame, now < last + parameters.separationTime {
                deadline = last + parameters.separationTime
            } else {
                transmitConsecutiveFrames(now: now, out: &out)
            }
        case .wait:
            waitFrames += 1
            if waitFrames > configuration.maxWaitFrames {
                fail(.waitFrameOverrun(limit: configuration.maxWaitFrames), &out)
            } else {
                deadline = now + configuration.nBs
            }
        case .overflow:
            fail(.bufferOverflow, &out)
        case nil:
            fail(.invalidFlowStatus(status), &out)
        }
        return true
    }

    /// The frames emitted last are on the bus now (CanTp's TxConfirmation): STmin and N_Bs
    /// run from the actual transmission, not from when the frames were handed out, so a
    /// slow shell can never shorten the peer's STmin.
    mutating func confirmTransmission(now: Instant) {
        switch state {
        case .idle:
            return
        case .waitingForFlowControl:
            // After the FF or the last CF of a block: N_Bs runs from the transmission.
            if let deadline, now + configuration.nBs > deadline { self.deadline = now + configuration.nBs }
            if let last = lastConsecutiveFrame, now > last { lastConsecutiveFrame = now }
        case .sending:
            guard let last = lastConsecutiveFrame, now > last else { return }
            guard let parameters = peerParameters, parameters.separationTime > .zero else { return }
            lastConsecutiveFrame = now
            deadline = now + parameters.separationTime
        }
    }

    /// N_Bs expiry, or the STmin gap elapsed so the next CF may go.
    mutating func expire(now: Instant, out: inout [ISOTPOutput]) {
        guard let deadline, now >= deadline else { return }
        switch state {
        case .idle: self.deadline = nil
        case .waitingForFlowControl: fail(.timeoutBs, &out)
        case .sending: transmitConsecutiveFrames(now: now, out: &out)
        }
    }

    /// Emits CFs: the whole block at once with STmin 0, otherwise one and sets the deadline.
    private mutating func transmitConsecutiveFrames(now: Instant, out: inout [ISOTPOutput]) {
        guard let parameters = peerParameters else { return }
        let perFrame = configuration.txDataLength - 1
        let burst = parameters.separationTime <= .zero
        if burst {
            let framesLeft = (payload.count - offset + perFrame - 1) / perFrame
            out.reserveCapacity(out.count + min(framesLeft, parameters.blockSize == 0 ? framesLeft : framesLeftInBlock) + 1)
        }
        repeat {
            let end = min(payload.count, offset + perFrame)
            out.append(.transmit(builder.consecutiveFrame(pci: 0x20 | sequenceNumber, payload: payload, range: offset..<end)))
            offset = end
            sequenceNumber = (sequenceNumber + 1) & 0x0F
            lastConsecutiveFrame = now
            if offset >= payload.count {
                finish()
                out.append(.transmitCompleted)
                return
            }
            if parameters.blockSize > 0 {
                framesLeftInBlock -= 1
                if framesLeftInBlock == 0 {
                    state = .waitingForFlowControl
                    deadline = now + configuration.nBs
                    return
                }
            }
        } while burst
        deadline = now + parameters.separationTime
    }
}
