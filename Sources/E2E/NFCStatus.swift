import SpaakCore

/// The signals of `NFC_Status` (CAN id 0x3B0, ICD section 8.1), sent by the NFC reader every
/// 100 ms with the E2E layout of section 3: byte 2 bit 0 `DevicePresent`, bit 1 `ReaderReady`;
/// bytes 3...7 are 0.
public struct NFCStatusSignals: Hashable, Sendable, CustomStringConvertible {
    /// A device (the owner's phone) is in the reader's field.
    public var devicePresent: Bool
    /// The reader can forward APDUs.
    public var readerReady: Bool

    /// Creates the signals.
    public init(devicePresent: Bool, readerReady: Bool) {
        self.devicePresent = devicePresent
        self.readerReady = readerReady
    }

    /// A device in the field of a ready reader: what starts a session.
    public static let tapped = NFCStatusSignals(devicePresent: true, readerReady: true)
    /// A ready reader with an empty field.
    public static let idle = NFCStatusSignals(devicePresent: false, readerReady: true)

    /// Bytes 2...7 of the frame.
    public var signalBytes: [UInt8] {
        [(devicePresent ? 0x01 : 0) | (readerReady ? 0x02 : 0), 0, 0, 0, 0, 0]
    }

    /// Decodes byte 2 of a whole frame payload; `nil` if it is shorter than 3 bytes.
    /// Reserved bits and bytes are ignored.
    public init?(frameData data: [UInt8]) {
        guard data.count >= 3 else { return nil }
        self.init(devicePresent: data[2] & 0x01 != 0, readerReady: data[2] & 0x02 != 0)
    }

    public var description: String {
        "DevicePresent=\(devicePresent ? 1 : 0) ReaderReady=\(readerReady ? 1 : 0)"
    }
}

/// The sender side of `NFC_Status`, for the reader simulator (`spaak-phone`): protected frames
/// with a running alive counter. Timing is the caller's business (`CyclicSchedule`).
public struct NFCStatusEncoder: Hashable, Sendable {
    /// The default CAN id of `NFC_Status`; also its E2E data id.
    public static let defaultCANID: UInt32 = 0x3B0

    /// The CAN id (and data id) of the frames.
    public var canID: UInt32
    /// The counter the next frame will carry.
    public private(set) var counter: UInt8

    /// Creates an encoder whose first frame carries `firstCounter` (taken modulo 15).
    public init(canID: UInt32 = NFCStatusEncoder.defaultCANID, firstCounter: UInt8 = 0) {
        self.canID = canID
        self.counter = firstCounter % UInt8(E2EProfile.counterModulus)
    }

    /// The next frame for `signals`; advances the counter.
    public mutating func nextFrame(_ signals: NFCStatusSignals) -> CANFrame {
        let data = E2EProfile.protect(dataID: UInt16(truncatingIfNeeded: canID), counter: counter, signals: signals.signalBytes)
        counter = E2EProfile.nextCounter(after: counter)
        return CANFrame(id: canID, data: data)
    }
}
