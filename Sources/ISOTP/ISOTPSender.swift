import SpaakCore

/// The transmitting half of a channel: segments a message into SF or FF + CF and obeys the
/// peer's flow control. Internal; `ISOTPChannel` routes flow-control frames to it.
struct ISOTPSender {
    /// BS and STmin of the peer, from the first FC.CTS of the message (as Linux does).
    private struct PeerParameters {
        /// CFs per block; 0: no further FC until the end.
        let blockSize: Int
        let separationTime: Duration
    }

    /// A segmented message after its FF: the part still to send.
    private struct Transfer {
        let payload: [UInt8]
        /// The first byte not yet sent.
        var offset: Int
        /// The SN of the next CF (1, 2 ... 15, 0, 1 ...).
        var sequenceNumber: UInt8 = 1
        /// When the last CF went out (confirmed by `confirmTransmission`); `nil` before the
        /// first. STmin runs from here, across an FC between blocks too.
        var lastConsecutiveFrame: Instant?
        /// With an STmin gap: the last CF was handed out and its transmit confirmation has
        /// not come yet. The next CF waits for it (STmin runs from the confirmation), and
        /// the deadline is N_As meanwhile.
        var awaitingConfirmation = false
    }

    private enum State {
        case idle
        /// After the FF or the last CF of a block, until an FC.CTS. `peer` is `nil` until
        /// the first FC.CTS of the message; `waitFrames` counts FC.WAIT in a row;
        /// `deadline` is N_Bs.
        case waitingForFlowControl(Transfer, peer: PeerParameters?, waitFrames: Int, deadline: Instant)
        /// Clear to send `framesLeftInBlock` more CFs (any number with BS 0); `deadline` is
        /// when the next CF may go (STmin), or N_As while the last CF awaits its confirmation.
        case sending(Transfer, peer: PeerParameters, framesLeftInBlock: Int, deadline: Instant)
    }

    private var state = State.idle
    private let configuration: ISOTPConfiguration
    private let builder: ISOTPFrameBuilder

    init(configuration: ISOTPConfiguration) {
        self.configuration = configuration
        builder = ISOTPFrameBuilder(configuration)
    }

    /// N_Bs while waiting for FC, the STmin gap while sending; `nil` when idle.
    var deadline: Instant? {
        switch state {
        case .idle: return nil
        case let .waitingForFlowControl(_, _, _, deadline), let .sending(_, _, _, deadline): return deadline
        }
    }

    /// `true` from `send` until the last frame is emitted or the transmission fails.
    var isTransmitting: Bool {
        switch state {
        case .idle: return false
        case .waitingForFlowControl, .sending: return true
        }
    }

    private mutating func fail(_ error: ISOTPError, _ out: inout [ISOTPOutput]) {
        state = .idle
        out.append(.failed(error))
    }

    /// Starts transmitting `message`: an SF (completed at once) or an FF, then waits for FC.
    mutating func send(_ message: [UInt8], now: Instant, out: inout [ISOTPOutput]) {
        guard !isTransmitting else { out.append(.failed(.busy)); return }
        guard !message.isEmpty else { out.append(.failed(.emptyPayload)); return }
        let maxLength = configuration.effectiveMaxMessageLength
        guard message.count <= maxLength else {
            out.append(.failed(.payloadTooLong(length: message.count, maximum: maxLength)))
            return
        }
        let length = message.count
        if length <= 7 {
            out.append(.transmit(builder.frame(header: [ISOTPPDU.PCIType.single.pci(UInt8(length))], payload: message, range: 0..<length)))
            out.append(.transmitCompleted)
            return
        }
        if length <= configuration.maxSingleFrameLength {
            out.append(.transmit(builder.frame(header: [ISOTPPDU.PCIType.single.pci(0), UInt8(length)],
                                               payload: message, range: 0..<length)))
            out.append(.transmitCompleted)
            return
        }
        let first = ISOTPPDU.PCIType.first
        let header: [UInt8] = length <= 0xFFF
            ? [first.pci(UInt8(length >> 8)), UInt8(length & 0xFF)]
            : [first.pci(0), 0x00] + UInt32(length).bigEndianBytes
        let firstCount = configuration.txDataLength - header.count
        out.append(.transmit(builder.frame(header: header, payload: message, range: 0..<firstCount)))
        state = .waitingForFlowControl(Transfer(payload: message, offset: firstCount), peer: nil, waitFrames: 0,
                                       deadline: now + configuration.nBs)
    }

    /// A flow control from the peer; returns `false` if it is ignored (not waiting for one).
    mutating func flowControl(status: UInt8, blockSize: UInt8, separationTime: UInt8,
                              now: Instant, out: inout [ISOTPOutput]) -> Bool {
        guard case let .waitingForFlowControl(transfer, peer, waitFrames, _) = state else { return false }
        switch ISOTPPDU.FlowStatus(rawValue: status) {
        case .continueToSend:
            let peer = peer ?? PeerParameters(blockSize: Int(blockSize),
                                              separationTime: SeparationTime.duration(separationTime))
            if let last = transfer.lastConsecutiveFrame, now < last + peer.separationTime {
                state = .sending(transfer, peer: peer, framesLeftInBlock: peer.blockSize,
                                 deadline: last + peer.separationTime)
            } else {
                transmitConsecutiveFrames(transfer, peer: peer, framesLeftInBlock: peer.blockSize, now: now, out: &out)
            }
        case .wait:
            guard waitFrames < configuration.maxWaitFrames else {
                fail(.waitFrameOverrun(limit: configuration.maxWaitFrames), &out)
                return true
            }
            state = .waitingForFlowControl(transfer, peer: peer, waitFrames: waitFrames + 1,
                                           deadline: now + configuration.nBs)
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
        case .waitingForFlowControl(var transfer, let peer, let waitFrames, let deadline):
            // After the FF or the last CF of a block: N_Bs runs from the transmission.
            if let last = transfer.lastConsecutiveFrame, now > last { transfer.lastConsecutiveFrame = now }
            state = .waitingForFlowControl(transfer, peer: peer, waitFrames: waitFrames,
                                           deadline: max(deadline, now + configuration.nBs))
        case .sending(var transfer, let peer, let framesLeftInBlock, _):
            guard let last = transfer.lastConsecutiveFrame, now >= last, peer.separationTime > .zero else { return }
            transfer.lastConsecutiveFrame = now
            transfer.awaitingConfirmation = false
            state = .sending(transfer, peer: peer, framesLeftInBlock: framesLeftInBlock,
                             deadline: now + peer.separationTime)
        }
    }

    /// N_Bs expiry, or the STmin gap elapsed so the next CF may go.
    mutating func expire(now: Instant, out: inout [ISOTPOutput]) {
        switch state {
        case .idle:
            return
        case let .waitingForFlowControl(_, _, _, deadline):
            guard now >= deadline else { return }
            fail(.timeoutBs, &out)
        case let .sending(transfer, peer, framesLeftInBlock, deadline):
            guard now >= deadline else { return }
            if transfer.awaitingConfirmation {
                fail(.timeoutAs, &out)
                return
            }
            transmitConsecutiveFrames(transfer, peer: peer, framesLeftInBlock: framesLeftInBlock, now: now, out: &out)
        }
    }

    /// Emits CFs: the whole block at once with STmin 0, otherwise one and sets the deadline.
    /// Ends idle (all sent), waiting for FC (block done) or sending (STmin gap).
    private mutating func transmitConsecutiveFrames(_ transfer: Transfer, peer: PeerParameters, framesLeftInBlock: Int,
                                                    now: Instant, out: inout [ISOTPOutput]) {
        var transfer = transfer
        var framesLeftInBlock = framesLeftInBlock
        let payload = transfer.payload
        let perFrame = configuration.txDataLength - 1
        let burst = peer.separationTime <= .zero
        if burst {
            let framesLeft = (payload.count - transfer.offset + perFrame - 1) / perFrame
            out.reserveCapacity(out.count + min(framesLeft, peer.blockSize == 0 ? framesLeft : framesLeftInBlock) + 1)
        }
        repeat {
            let end = min(payload.count, transfer.offset + perFrame)
            out.append(.transmit(builder.consecutiveFrame(pci: ISOTPPDU.PCIType.consecutive.pci(transfer.sequenceNumber),
                                                          payload: payload, range: transfer.offset..<end)))
            transfer.offset = end
            transfer.sequenceNumber = (transfer.sequenceNumber + 1) & 0x0F
            transfer.lastConsecutiveFrame = now
            if transfer.offset >= payload.count {
                state = .idle
                out.append(.transmitCompleted)
                return
            }
            if peer.blockSize > 0 {
                framesLeftInBlock -= 1
                if framesLeftInBlock == 0 {
                    state = .waitingForFlowControl(transfer, peer: peer, waitFrames: 0, deadline: now + configuration.nBs)
                    return
                }
            }
        } while burst
        // One CF with an STmin gap: the next waits for this one's confirmation (N_As meanwhile).
        transfer.awaitingConfirmation = true
        state = .sending(transfer, peer: peer, framesLeftInBlock: framesLeftInBlock, deadline: now + configuration.nAs)
    }
}
