import SpaakCore

/// The parameters of one ISO-TP channel (ISO 15765-2, normal addressing): the identifier
/// pair, the frame format, and the flow-control and timing values of ICD section 4.
///
/// One channel sends every frame on `txID` and listens on `rxID` only; the peer's flow
/// control for our transmissions also arrives on `rxID`.
public struct ISOTPConfiguration: Sendable, Equatable {
    /// The link layer the channel uses.
    public enum FrameFormat: Sendable, Equatable {
        /// Classic CAN: 8-byte frames, messages up to 4095 bytes.
        case classic
        /// CAN FD: 64-byte frames (TX_DL = 64), escaped single frames and the 32-bit
        /// first-frame length escape; `bitRateSwitch` sets BRS on every transmitted frame.
        case fd(bitRateSwitch: Bool)
    }

    /// Identifier of every frame this channel transmits (data frames and our flow control).
    public var txID: UInt32
    /// Identifier this channel listens on; frames with any other identifier are ignored.
    public var rxID: UInt32
    /// `true` for 29-bit identifiers on both `txID` and `rxID`.
    public var extendedIDs: Bool
    /// Classic CAN or CAN FD.
    public var frameFormat: FrameFormat
    /// Padding byte for transmitted frames (`nil`: no padding). Classic CAN pads every frame
    /// to 8 bytes; CAN FD pads to 8 bytes or to the next valid FD length (lengths above 8 are
    /// always filled, with 0xCC when `padding` is `nil`). A first frame always fills the
    /// whole frame.
    public var padding: UInt8?
    /// BS that this channel puts in its own flow-control frames (0: no further FC).
    public var blockSize: UInt8
    /// STmin byte that this channel puts in its own flow-control frames.
    public var separationTime: UInt8
    /// N_Bs: how long the sender waits for a flow-control frame.
    public var nBs: Duration
    /// N_Cr: how long the receiver waits for the next consecutive frame.
    public var nCr: Duration
    /// N_As: how long a consecutive frame sent with an STmin gap may wait for its transmit
    /// confirmation before the transmission fails (ISO 15765-2's default, 1000 ms).
    public var nAs: Duration
    /// N_WFTmax: FC.WAIT frames accepted in a row; one more aborts the transmission.
    public var maxWaitFrames: Int
    /// Longest message sent or accepted; a longer incoming first frame gets FC.OVFLW.
    /// Classic CAN never exceeds 4095 whatever this says.
    public var maxMessageLength: Int
    /// Accept and send single frames only (the functional request channel, 0x7DF).
    public var singleFrameOnly: Bool

    /// Creates a configuration; the defaults are those of ICD section 4.
    /// `maxMessageLength` defaults to 4095 on classic CAN and 65535 on CAN FD.
    public init(
        txID: UInt32,
        rxID: UInt32,
        extendedIDs: Bool = false,
        frameFormat: FrameFormat = .classic,
        padding: UInt8? = 0xCC,
        blockSize: UInt8 = 0,
        separationTime: UInt8 = 0,
        nBs: Duration = .milliseconds(1000),
        nCr: Duration = .milliseconds(1000),
        nAs: Duration = .milliseconds(1000),
        maxWaitFrames: Int = 10,
        maxMessageLength: Int? = nil,
        singleFrameOnly: Bool = false
    ) {
        self.txID = txID
        self.rxID = rxID
        self.extendedIDs = extendedIDs
        self.frameFormat = frameFormat
        self.padding = padding
        self.blockSize = blockSize
        self.separationTime = separationTime
        self.nBs = nBs
        self.nCr = nCr
        self.nAs = nAs
        self.maxWaitFrames = maxWaitFrames
        self.maxMessageLength = maxMessageLength ?? (frameFormat == .classic ? 4095 : 65535)
        self.singleFrameOnly = singleFrameOnly
    }

    /// `true` on a CAN FD channel.
    public var isFD: Bool { frameFormat != .classic }

    /// TX_DL: the length of a full transmitted frame (8 classic, 64 FD).
    public var txDataLength: Int { isFD ? 64 : 8 }

    /// The largest payload of a transmitted single frame (7 classic, 62 FD).
    public var maxSingleFrameLength: Int { isFD ? 62 : 7 }

    /// The message length limit actually applied, in both directions.
    public var effectiveMaxMessageLength: Int {
        let protocolLimit = singleFrameOnly ? maxSingleFrameLength : (isFD ? Int(UInt32.max) : 4095)
        return max(0, min(maxMessageLength, protocolLimit))
    }
}

/// STmin as carried in a flow-control frame (ISO 15765-2 table "STmin parameter values").
public enum SeparationTime {
    /// The minimum gap between consecutive frames that `byte` asks for: 0x00-0x7F are
    /// milliseconds, 0xF1-0xF9 are 100-900 µs, and every reserved value means 127 ms.
    public static func duration(_ byte: UInt8) -> Duration {
        switch byte {
        case 0x00...0x7F: return .milliseconds(Int64(byte))
        case 0xF1...0xF9: return .microseconds(Int64(byte - 0xF0) * 100)
        default: return .milliseconds(127)
        }
    }
}

/// A fixed ISO-TP timeout (N_Cr) in nanoseconds, computed once from its `Duration`: the
/// receiver restarts N_Cr at every consecutive frame, and `Instant + Duration` goes through
/// `Duration.components` (a 128-bit division) each time. Same result as `instant + duration`.
struct ISOTPTimeout {
    let duration: Duration
    let nanoseconds: Int64

    init(_ duration: Duration) {
        self.duration = duration
        nanoseconds = duration.nanosecondsClamped
    }

    /// `instant + duration`.
    @inline(__always)
    func after(_ instant: Instant) -> Instant {
        nanoseconds >= 0 ? Instant(nanoseconds: instant.nanoseconds &+ UInt64(nanoseconds)) : instant + duration
    }
}
