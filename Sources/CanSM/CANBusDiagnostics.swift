/// What DID 0xD130 reports: the CAN controller's state and error counters and the module's
/// own bus counters since it started (docs/ICD-CHOICES.md has the layout). Counters
/// saturate at their field's maximum; they survive an ECUReset (they belong to the shell,
/// like the controller), not a process restart.
public struct CANBusDiagnostics: Equatable, Sendable {
    /// The controller's state.
    public var state: CANControllerState = .unknown
    /// Transmit error counter (TEC), 0 when unknown.
    public var transmitErrors: UInt8 = 0
    /// Receive error counter (REC), 0 when unknown.
    public var receiveErrors: UInt8 = 0
    /// Nominal bitrate in bit/s, 0 for a virtual interface or when unknown.
    public var bitrate: UInt32 = 0
    /// Times the controller went bus-off.
    public var busOffs: Int = 0
    /// Bus-off recoveries completed (by the kernel's restart-ms or by the module).
    public var recoveries: Int = 0
    /// Error frames received (CAN_RAW_ERR_FILTER).
    public var errorFrames: Int = 0
    /// Writes the kernel refused for now (EAGAIN and ENOBUFS), each retried later.
    public var refusedWrites: Int = 0
    /// SPAAK_Status frames sent later than their cycle (held back by a full queue or bus-off).
    public var statusLate: Int = 0
    /// SPAAK_Status frames never sent because a newer one replaced them while held back.
    public var statusSkipped: Int = 0

    /// Creates the diagnostics; all counters 0, state unknown.
    public init() {}

    /// The DID 0xD130 record, 23 bytes big-endian:
    /// state, TEC, REC, bitrate (4), bus-offs (2), recoveries (2), error frames (4),
    /// refused writes (4), status late (2), status skipped (2).
    public var record: [UInt8] {
        var out: [UInt8] = [state.rawValue, transmitErrors, receiveErrors]
        out += Self.bigEndian(UInt64(bitrate), bytes: 4)
        out += Self.saturated(busOffs, bytes: 2)
        out += Self.saturated(recoveries, bytes: 2)
        out += Self.saturated(errorFrames, bytes: 4)
        out += Self.saturated(refusedWrites, bytes: 4)
        out += Self.saturated(statusLate, bytes: 2)
        out += Self.saturated(statusSkipped, bytes: 2)
        return out
    }

    /// The record's length.
    public static let recordLength = 23

    private static func saturated(_ value: Int, bytes: Int) -> [UInt8] {
        let maximum = (UInt64(1) << UInt64(8 * bytes)) - 1
        return bigEndian(Swift.min(UInt64(Swift.max(0, value)), maximum), bytes: bytes)
    }

    private static func bigEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).reversed().map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    }
}
