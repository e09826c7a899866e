import SpaakCore

/// The receiving half of a channel: reassembles SF / FF + CF messages and sends our flow
/// control. Internal; `ISOTPChannel` routes frames to it.
struct ISOTPReceiver {
    /// A segmented message being reassembled.
    private struct Reception {
        /// The bytes received so far.
        var buffer: [UInt8]
        /// FF_DL.
        let messageLength: Int
        /// RX_DL, taken from the first frame's length.
        let rxDataLength: Int
        var expectedSequenceNumber: UInt8 = 1
        /// CFs received since our last FC (counts up to our BS).
        var framesInBlock = 0
        /// N_Cr.
        var deadline: Instant
    }

    private enum State {
        case idle
        case receiving(Reception)
    }

    private var state = State.idle
    private let configuration: ISOTPConfiguration
    private let builder: ISOTPFrameBuilder
    /// Our FC.CTS with our BS and STmin: the same frame every time.
    private let continueToSend: CANFrame
    /// N_Cr in nanoseconds, computed once (`Instant + Duration` costs a 128-bit division).
    private let nCr: ISOTPTimeout

    init(configuration: ISOTPConfiguration) {
        self.configuration = configuration
        builder = ISOTPFrameBuilder(configuration)
        continueToSend = builder.flowControl(.continueToSend, blockSize: configuration.blockSize,
                                             separationTime: configuration.separationTime)
        nCr = ISOTPTimeout(configuration.nCr)
    }

    /// N_Cr deadline; `nil` when no segmented reception is in progress.
    var deadline: Instant? {
        switch state {
        case .idle: return nil
        case .receiving(let reception): return reception.deadline
        }
    }

    /// `true` while a segmented message is being reassembled.
    var isReceiving: Bool {
        switch state {
        case .idle: return false
        case .receiving: return true
        }
    }

    /// Drops an unfinished reception because a new SF or FF arrived (N_UNEXP_PDU).
    private mutating func interrupt(_ out: inout [ISOTPOutput]) {
        switch state {
        case .idle:
            return
        case .receiving(let reception):
            out.append(.failed(.receptionInterrupted(receivedBytes: reception.buffer.count,
                                                     messageLength: reception.messageLength)))
            state = .idle
        }
    }

    /// A single frame: always accepted, ending any unfinished reception first.
    mutating func single(_ data: UnsafeBufferPointer<UInt8>, offset: Int, length: Int, out: inout [ISOTPOutput]) -> Bool {
        guard length <= configuration.effectiveMaxMessageLength else { return false }
        interrupt(&out)
        out.append(.received(Array(UnsafeBufferPointer(rebasing: data[offset..<(offset + length)]))))
        return true
    }

    /// A first frame: starts a reception (or refuses it with FC.OVFLW); returns `false` if
    /// the frame is ignored.
    mutating func first(_ data: UnsafeBufferPointer<UInt8>, offset: Int, length: Int, now: Instant,
                        out: inout [ISOTPOutput]) -> Bool {
        guard !configuration.singleFrameOnly else { return false }
        interrupt(&out)
        let maxLength = configuration.effectiveMaxMessageLength
        guard length <= maxLength else {
            out.append(.transmit(builder.flowControl(.overflow, blockSize: 0, separationTime: 0)))
            out.append(.failed(.messageTooLarge(length: length, maximum: maxLength)))
            return true
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(length)
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: data[offset...]))
        state = .receiving(Reception(buffer: buffer, messageLength: length, rxDataLength: data.count,
                                     deadline: nCr.after(now)))
        out.append(.transmit(continueToSend))
        return true
    }

    /// A consecutive frame; returns `false` if it is ignored (no reception in progress, or
    /// a length that breaks the RX_DL rule).
    mutating func consecutive(_ data: UnsafeBufferPointer<UInt8>, sequenceNumber: UInt8, now: Instant,
                              out: inout [ISOTPOutput]) -> Bool {
        guard case .receiving(var reception) = state else { return false }
        let count = data.count
        let remaining = reception.messageLength - reception.buffer.count
        // CAN_DL must equal RX_DL except on the last CF, which must still hold the rest.
        guard count <= reception.rxDataLength, count == reception.rxDataLength || count - 1 >= remaining else {
            return false
        }
        guard sequenceNumber == reception.expectedSequenceNumber else {
            out.append(.failed(.wrongSequenceNumber(expected: reception.expectedSequenceNumber, received: sequenceNumber)))
            state = .idle
            return true
        }
        // The state lets go of the buffer first, so appending does not copy it.
        state = .idle
        let take = min(remaining, count - 1)
        reception.buffer.append(contentsOf: UnsafeBufferPointer(rebasing: data[1..<(1 + take)]))
        if reception.buffer.count == reception.messageLength {
            out.append(.received(reception.buffer))
            return true
        }
        reception.expectedSequenceNumber = (reception.expectedSequenceNumber + 1) & 0x0F
        reception.deadline = nCr.after(now)
        if configuration.blockSize > 0 {
            reception.framesInBlock += 1
            if reception.framesInBlock == Int(configuration.blockSize) {
                reception.framesInBlock = 0
                out.append(.transmit(continueToSend))
            }
        }
        state = .receiving(reception)
        return true
    }

    /// N_Cr expiry.
    mutating func expire(now: Instant, out: inout [ISOTPOutput]) {
        guard case .receiving(let reception) = state, now >= reception.deadline else { return }
        state = .idle
        out.append(.failed(.timeoutCr))
    }
}
