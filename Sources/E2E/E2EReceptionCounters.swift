/// What an E2E receiver counted under the receiver rules of ICD 3 (`TBM_Status`, and the
/// `NFC_Status` and `HU_Request` of ICD 8.1 that follow them): one place that turns an
/// `E2ECheckStatus` into counts and the verdict "new data or not".
public struct E2EReceptionCounters: Hashable, Sendable {
    /// Frames accepted as new data (E2E ok, or with lost frames before them).
    public var valid = 0
    /// Frames discarded for a wrong CRC.
    public var discardedCRC = 0
    /// Frames discarded for a length other than 8.
    public var discardedLength = 0
    /// Frames discarded for alive counter 15.
    public var discardedInvalidCounter = 0
    /// CRC-valid frames that repeated the previous counter (not new data).
    public var repeated = 0
    /// Frames missed, from counter jumps.
    public var lost = 0

    /// Creates zeroed counters.
    public init() {}

    /// Counts one checked frame; `true` when it is new data (`.ok` or `.lost`).
    public mutating func count(_ status: E2ECheckStatus) -> Bool {
        switch status {
        case .wrongLength: discardedLength += 1
        case .wrongCRC: discardedCRC += 1
        case .invalidCounter: discardedInvalidCounter += 1
        case .repeated: repeated += 1
        case .ok:
            valid += 1
            return true
        case .lost(let n):
            lost += n
            valid += 1
            return true
        }
        return false
    }
}
