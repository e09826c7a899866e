import SpaakCore

/// What an ISO-TP channel asks its owner to do or tells it, in order.
public enum ISOTPOutput: Equatable, Sendable {
    /// Put this frame on the bus (data frame of our transmission, or our flow control).
    case transmit(CANFrame)
    /// A complete message arrived from the peer.
    case received([UInt8])
    /// The message given to `send` has been handed out completely (last frame emitted).
    case transmitCompleted
    /// A transmission or reception ended in an error; `error.isTransmitError` tells which.
    case failed(ISOTPError)
}

/// Why an ISO-TP transmission or reception failed (names after ISO 15765-2 N_Result).
public enum ISOTPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `send` while a transmission is in progress; the ongoing one is untouched.
    case busy
    /// `send` with an empty payload.
    case emptyPayload
    /// `send` with a payload longer than the channel's limit.
    case payloadTooLong(length: Int, maximum: Int)
    /// N_TIMEOUT_Bs: no flow control arrived in time after a first frame or a block.
    case timeoutBs
    /// N_TIMEOUT_A: a consecutive frame handed to the bus was not confirmed (on the bus) within
    /// N_As: the bus is off or its transmit queue does not drain.
    case timeoutAs
    /// N_WFT_OVRN: more FC.WAIT frames in a row than `maxWaitFrames`.
    case waitFrameOverrun(limit: Int)
    /// N_BUFFER_OVFLW: the peer answered our first frame with FC.OVFLW.
    case bufferOverflow
    /// N_INVALID_FS: a flow control with a reserved flow status.
    case invalidFlowStatus(UInt8)
    /// N_TIMEOUT_Cr: the next consecutive frame did not arrive in time.
    case timeoutCr
    /// N_WRONG_SN: a consecutive frame with an unexpected sequence number.
    case wrongSequenceNumber(expected: UInt8, received: UInt8)
    /// N_UNEXP_PDU: a new single or first frame replaced an unfinished reception.
    case receptionInterrupted(receivedBytes: Int, messageLength: Int)
    /// An incoming first frame announced more than we accept; we answered FC.OVFLW.
    case messageTooLarge(length: Int, maximum: Int)

    /// `true` for errors of our own transmission, `false` for errors of a reception.
    public var isTransmitError: Bool {
        switch self {
        case .busy, .emptyPayload, .payloadTooLong, .timeoutBs, .timeoutAs, .waitFrameOverrun,
             .bufferOverflow, .invalidFlowStatus:
            return true
        case .timeoutCr, .wrongSequenceNumber, .receptionInterrupted, .messageTooLarge:
            return false
        }
    }

    public var description: String {
        switch self {
        case .busy: return "transmission already in progress"
        case .emptyPayload: return "empty payload"
        case let .payloadTooLong(length, maximum): return "payload of \(length) bytes exceeds \(maximum)"
        case .timeoutBs: return "N_Bs timeout waiting for flow control"
        case .timeoutAs: return "N_As timeout: a consecutive frame was not transmitted in time"
        case let .waitFrameOverrun(limit): return "more than \(limit) FC.WAIT in a row"
        case .bufferOverflow: return "peer reported overflow (FC.OVFLW)"
        case let .invalidFlowStatus(status): return "invalid flow status \(status)"
        case .timeoutCr: return "N_Cr timeout waiting for consecutive frame"
        case let .wrongSequenceNumber(expected, received):
            return "wrong sequence number \(received), expected \(expected)"
        case let .receptionInterrupted(received, length):
            return "reception interrupted after \(received) of \(length) bytes"
        case let .messageTooLarge(length, maximum):
            return "incoming message of \(length) bytes exceeds \(maximum), sent FC.OVFLW"
        }
    }
}

/// Diagnostic counters of one channel; they only ever grow.
public struct ISOTPCounters: Sendable, Equatable {
    /// Frames on `rxID` handed to the channel.
    public var framesReceived = 0
    /// Of those, frames ignored (malformed, unexpected, wrong format).
    public var framesIgnored = 0
    /// Frames the channel asked to transmit.
    public var framesTransmitted = 0
    /// Complete messages received.
    public var messagesReceived = 0
    /// Messages completely transmitted.
    public var messagesTransmitted = 0
    /// Failed receptions.
    public var receiveErrors = 0
    /// Failed transmissions (including refused `send` calls).
    public var transmitErrors = 0

    /// All counters at zero.
    public init() {}
}
