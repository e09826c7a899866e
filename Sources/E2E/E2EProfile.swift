/// The E2E protection of the cyclic status frames (ICD section 3), modelled on AUTOSAR E2E
/// profile 1 with CRC over both data id bytes and the counter in the low nibble of byte 1.
///
/// Layout of the 8 bytes:
/// - byte 0: CRC-8/SAE-J1850 over data id low byte, data id high byte, then bytes 1...7;
/// - byte 1: bits 0-3 alive counter 0...14 (wraps 14 → 0, 15 is never sent), bits 4-7 zero;
/// - bytes 2...7: the signals.
///
/// Pure functions only; the receiver's memory (the previous counter) belongs to the caller.
/// On reception the high nibble of byte 1 is reserved: it is covered by the CRC but
/// otherwise ignored.
public enum E2EProfile {
    /// The frame length (DLC) of every protected frame.
    public static let frameLength = 8
    /// The number of signal bytes (bytes 2...7).
    public static let signalLength = 6
    /// The largest counter value that is ever sent.
    public static let maxCounter: UInt8 = 14
    /// The number of distinct counter values (0...14).
    public static let counterModulus = 15

    /// The counter that follows `counter`: 0, 1, ..., 14, 0, ... (15 or more restarts at 0).
    public static func nextCounter(after counter: UInt8) -> UInt8 {
        counter >= maxCounter ? 0 : counter + 1
    }

    /// The CRC byte for `dataID` and bytes 1...7 of `data` (missing bytes count as absent).
    public static func crc(dataID: UInt16, data: [UInt8]) -> UInt8 {
        let idBytes = [UInt8(truncatingIfNeeded: dataID), UInt8(truncatingIfNeeded: dataID >> 8)]
        let register = CRC8SAEJ1850.update(CRC8SAEJ1850.initialValue, with: idBytes)
        return CRC8SAEJ1850.update(register, with: data.dropFirst()) ^ CRC8SAEJ1850.finalXOR
    }

    /// Builds the 8 protected bytes: CRC, `counter` (taken modulo 15), then `signals`
    /// (the first 6 bytes are used; shorter input is padded with zeros).
    public static func protect(dataID: UInt16, counter: UInt8, signals: [UInt8]) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: frameLength)
        data[1] = counter % UInt8(counterModulus)
        for (offset, byte) in signals.prefix(signalLength).enumerated() { data[2 + offset] = byte }
        data[0] = crc(dataID: dataID, data: data)
        return data
    }

    /// The alive counter of a frame (low nibble of byte 1), `nil` if the frame is too short.
    public static func counter(of data: [UInt8]) -> UInt8? {
        data.count >= 2 ? data[1] & 0x0F : nil
    }

    /// Checks a received frame.
    ///
    /// Order: length, CRC, counter 15, then the counter relation to `previousCounter`
    /// (the counter of the last accepted frame; `nil` right after start or a resync, in
    /// which case any valid counter is `.ok`).
    public static func check(dataID: UInt16, data: [UInt8], previousCounter: UInt8?) -> E2ECheckStatus {
        guard data.count == frameLength else { return .wrongLength }
        guard data[0] == crc(dataID: dataID, data: data) else { return .wrongCRC }
        let counter = data[1] & 0x0F
        guard counter <= maxCounter else { return .invalidCounter }
        guard let previous = previousCounter, previous <= maxCounter else { return .ok }
        let delta = (Int(counter) - Int(previous) + counterModulus) % counterModulus
        switch delta {
        case 0: return .repeated
        case 1: return .ok
        default: return .lost(delta - 1)
        }
    }
}

/// The result of `E2EProfile.check`.
public enum E2ECheckStatus: Hashable, Sendable {
    /// Valid, and the counter follows the previous one (or there was none).
    case ok
    /// Valid, but `n` frames were missed (the counter advanced by `n + 1`). New data.
    case lost(Int)
    /// Valid CRC, same counter as the previous frame: not a new frame (stale data).
    case repeated
    /// The CRC does not match: the frame must be discarded.
    case wrongCRC
    /// The frame is not exactly 8 bytes long: the frame must be discarded.
    case wrongLength
    /// Valid CRC but counter 15, a value no sender ever uses: the frame must be discarded.
    case invalidCounter

    /// `true` for the statuses that carry new, usable data (`.ok` and `.lost`).
    public var isNewData: Bool {
        switch self {
        case .ok, .lost: return true
        default: return false
        }
    }
}
