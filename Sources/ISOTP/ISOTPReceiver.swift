import SpaakCore

/// The receiving half of a channel: reassembles SF / FF + CF messages and sends our flow
/// control. Internal; `ISOTPChannel` routes frames to it.
struct ISOTPReceiver {
    private let configuration: ISOTPConfiguration
    private let builder: ISOTPFrameBuilder
    private let maxLength: Int

    /// The message being reassembled (empty when idle).
    private var buffer: [UInt8] = []
    /// FF_DL of the message in progress.
    private var messageLength = 0
    /// RX_DL, taken from the first frame's length.
    private var rxDataLength = 8
    private var expectedSequenceNumber: UInt8 = 1
    private var framesInBlock = 0
    /// N_Cr deadline; `nil` when no segmented reception is in progress.
    private(set) var deadline: Instant?

    init(configuration: ISOTPConfiguration) {
        self.configuration = configuration
        builder = ISOTPFrameBuilder(configuration)
        maxLength = configuration.effectiveMaxMessageLength
    }

    /// `true` while a segmented message is being reassembled.
    var isReceiving: Bool { deadline != nil }

    private mutating func reset() {
        buffer = []
        messageLength = 0
        deadline = nil
    }

    /// Drops an unfinished reception because a new SF or FF arrived (N_UNEXP_PDU).
    private mutating func interrupt(_ out: inout [ISOTPOutput]) {
        guard isReceiving else { return }
        out.append(.failed(.receptionInterrupted(receivedBytes: buffer.count, messageLength: messageLength)))
        reset()
    }

    /// A single frame: always accepted, ending any unfinished reception first.
    mutating func single(_ data: [UInt8], offset: Int, length: Int, out: inout [ISOTPOutput]) -> Bool {
        guard length <= maxLength else { return false }
        interrupt(&out)
        out.append(.received(Array(data[offset..<(offset + length)])))
        return true
    }

    /// A first frame: starts a reception (or refuses it with FC.OVFLW); returns `false` if
    /// the frame is ignored.
    mutating func first(_ data: [UInt8], offset: Int, length: Int, now: Instant, out: inout [ISOTPOutput]) -> Bool {
        guard !configuration.singleFrameOnly else { return false }
        interrupt(&out)
        guard length <= maxLength else {
            out.append(.transmit(builder.flowControl(.overflow, blockSize: 0, separationTime: 0)))
            out.append(.failed(.messageTooLarge(length: length, maximum: maxLength)))
            return true
        }
        buffer.reserveCapacity(length)
        buffer.append(contentsOf: data[offset...])
        messageLength = length
        rxDataLength = data.count
        expectedSequenceNumber = 1
        framesInBlock = 0
        deadline = now + configuration.nCr
        out.append(.transmit(continueToSend()))
        return true
    }

    /// A consecutive frame; returns `false` if it is ignored (no reception in progress, or
    /// a length that breaks the RX_DL rule).
    mutating func consecutive(_ data: [UInt8], sequenceNumber: UInt8, now: Instant, out: inout [ISOTPOutput]) -> Bool {
        guard isReceiving else { return false }
        let count = data.count
        let remaining = messageLength - buffer.count
        // CAN_DL must equal RX_DL except on the last CF, which must still hold the rest.
        guard count <= rxDataLength, count == rxDataLength || count - 1 >= remaining else { return false }
        guard sequenceNumber == expectedSequenceNumber else {
            out.append(.failed(.wrongSequenceNumber(expected: expectedSequenceNumber, received: sequenceNumber)))
            reset()
            return true
        }
        let take = min(remaining, count - 1)
        buffer.append(contentsOf: data[1..<(1 + take)])
        if buffer.count == messageLength {
            let message = buffer
            reset()
            out.append(.received(message))
            return true
        }
        expectedSequenceNumber = (expectedSequenceNumber + 1) & 0x0F
        deadline = now + configuration.nCr
        if configuration.blockSize > 0 {
            framesInBlock += 1
            if framesInBlock == Int(configuration.blockSize) {
                framesInBlock = 0
                out.append(.transmit(continueToSend()))
            }
        }
        return true
    }

    /// N_Cr expiry.
    mutating func expire(now: Instant, out: inout [ISOTPOutput]) {
        guard let deadline, now >= deadline else { return }
        reset()
        out.append(.failed(.timeoutCr))
    }

    private func continueToSend() -> CANFrame {
        builder.flowControl(.continueToSend, blockSize: configuration.blockSize,
                            separationTime: configuration.separationTime)
    }
}
