import SpaakCore

/// The signals of `TBM_Status` (CAN id 0x3A0, ICD section 3): byte 2 bit 0 `GsdpConnected`,
/// bit 1 `SpaakTopicSubscribed`; bytes 3...7 are 0.
public struct TBMStatusSignals: Hashable, Sendable, CustomStringConvertible {
    /// The TBM has a connection to the cloud (GSDP).
    public var gsdpConnected: Bool
    /// The TBM has subscribed to the SpaaK topic, so V2C messages reach the cloud.
    public var spaakTopicSubscribed: Bool

    /// Creates the signals.
    public init(gsdpConnected: Bool, spaakTopicSubscribed: Bool) {
        self.gsdpConnected = gsdpConnected
        self.spaakTopicSubscribed = spaakTopicSubscribed
    }

    /// Both bits set: what the receiver needs to call the TBM online.
    public static let ready = TBMStatusSignals(gsdpConnected: true, spaakTopicSubscribed: true)

    /// `true` when both bits are set.
    public var isReady: Bool { gsdpConnected && spaakTopicSubscribed }

    /// Bytes 2...7 of the frame.
    public var signalBytes: [UInt8] {
        [(gsdpConnected ? 0x01 : 0) | (spaakTopicSubscribed ? 0x02 : 0), 0, 0, 0, 0, 0]
    }

    /// Decodes byte 2 of a whole frame payload; `nil` if it is shorter than 3 bytes.
    /// Reserved bits and bytes are ignored.
    public init?(frameData data: [UInt8]) {
        guard data.count >= 3 else { return nil }
        self.init(gsdpConnected: data[2] & 0x01 != 0, spaakTopicSubscribed: data[2] & 0x02 != 0)
    }

    public var description: String {
        "GsdpConnected=\(gsdpConnected ? 1 : 0) SpaakTopicSubscribed=\(spaakTopicSubscribed ? 1 : 0)"
    }
}

/// The sender side of `TBM_Status`, for the TBM simulator: builds E2E-protected frames with
/// a running alive counter (0...14, wrapping 14 → 0). Timing is the caller's business
/// (see `CyclicSchedule`).
public struct TBMStatusEncoder: Hashable, Sendable {
    /// The default CAN id of `TBM_Status`; also its E2E data id.
    public static let defaultCANID: UInt32 = 0x3A0

    /// The CAN id (and data id) of the frames.
    public var canID: UInt32
    /// The counter the next frame will carry.
    public private(set) var counter: UInt8

    /// Creates an encoder whose first frame carries `firstCounter` (taken modulo 15).
    public init(canID: UInt32 = TBMStatusEncoder.defaultCANID, firstCounter: UInt8 = 0) {
        self.canID = canID
        self.counter = firstCounter % UInt8(E2EProfile.counterModulus)
    }

    /// The next frame for `signals`; advances the counter.
    public mutating func nextFrame(_ signals: TBMStatusSignals) -> CANFrame {
        let frame = Self.frame(canID: canID, counter: counter, signals: signals)
        counter = E2EProfile.nextCounter(after: counter)
        return frame
    }

    /// One protected frame with an explicit counter (for tests and fault injection).
    public static func frame(canID: UInt32 = defaultCANID, counter: UInt8, signals: TBMStatusSignals) -> CANFrame {
        let data = E2EProfile.protect(dataID: UInt16(truncatingIfNeeded: canID), counter: counter, signals: signals.signalBytes)
        return CANFrame(id: canID, data: data)
    }
}
