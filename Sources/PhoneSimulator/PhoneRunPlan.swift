import SpaakCore

/// What one `spaak-phone pair` run does: which phases, how many taps, where to leave the
/// field early, how long to wait for the module.
public struct PhoneRunPlan: Hashable, Sendable {
    /// The phases to complete, in order (phase 3 only after phase 2 when both are asked).
    public var phases: [PairingPhase]
    /// Taps per phase at most: a failed session is followed by another tap until this many
    /// failed; a completed phase needs no more.
    public var attempts: Int
    /// Leave the field right after answering this step (its response on the bus), whatever
    /// the module does next.
    public var removeAfter: PairingStep?
    /// Leave the field when this step's command arrives, without answering it.
    public var removeBefore: PairingStep?
    /// How long the phone waits for the module's next command after a tap or an answer, and
    /// for `SPAAK_Status` to confirm a phase.
    public var timeout: Duration
    /// The pauses of a real tap.
    public var timing: TapTiming

    /// Creates a plan; `phases` is sorted and de-duplicated, `attempts` at least 1.
    public init(phases: [PairingPhase], attempts: Int = 1, removeAfter: PairingStep? = nil, removeBefore: PairingStep? = nil,
                timeout: Duration = .seconds(6), timing: TapTiming = TapTiming()) {
        self.phases = Array(Set(phases)).sorted()
        self.attempts = max(1, attempts)
        self.removeAfter = removeAfter
        self.removeBefore = removeBefore
        self.timeout = timeout
        self.timing = timing
    }
}

/// The pauses of a person tapping a phone on the reader.
public struct TapTiming: Hashable, Sendable {
    /// The reader reports an empty field this long before the first tap.
    public var approach: Duration
    /// The phone stays in the field this long after its session ended.
    public var linger: Duration
    /// The phone is away this long between two taps.
    public var gap: Duration
    /// The reader reports an empty field this long after the last removal, before the run ends.
    public var farewell: Duration
    /// The period of `NFC_Status` (ICD 8.1: 100 ms).
    public var period: Duration

    /// Creates the timing; the defaults are a calm user's.
    public init(approach: Duration = .milliseconds(500), linger: Duration = .milliseconds(300),
                gap: Duration = .milliseconds(1500), farewell: Duration = .milliseconds(300),
                period: Duration = .milliseconds(100)) {
        self.approach = approach
        self.linger = linger
        self.gap = gap
        self.farewell = farewell
        self.period = period
    }
}

/// The CAN identifiers the phone and the reader use (ICD 2).
public struct PhoneBusIDs: Hashable, Sendable {
    /// `NFC_Status`, sent (also its E2E data id).
    public var nfcStatus: UInt32
    /// Command APDUs from the module, received.
    public var command: UInt32
    /// Response APDUs to the module, sent.
    public var response: UInt32
    /// `SPAAK_Status`, received.
    public var spaakStatus: UInt32

    /// Creates the identifiers; the defaults are the ICD's.
    public init(nfcStatus: UInt32 = 0x3B0, command: UInt32 = 0x6B0, response: UInt32 = 0x6B8, spaakStatus: UInt32 = 0x3A8) {
        self.nfcStatus = nfcStatus
        self.command = command
        self.response = response
        self.spaakStatus = spaakStatus
    }

    /// The identifiers the phone receives.
    public var received: [UInt32] { [command, spaakStatus] }
}

/// How a run ended.
public enum PhoneRunResult: Hashable, Sendable, CustomStringConvertible {
    /// Every phase asked for is done, confirmed by the module.
    case paired([PairingPhase])
    /// A phase failed in every tap allowed: the reason of the last failure.
    case failed(String)

    public var description: String {
        switch self {
        case .paired(let phases): return "paired: \(phases.map(\.description).joined(separator: ", ")) done"
        case .failed(let reason): return "pairing failed: \(reason)"
        }
    }
}

/// What the run asks the shell to do, in order.
public enum PhoneRunAction: Hashable, Sendable {
    /// Put this frame on the bus.
    case transmit(CANFrame)
    /// Print this line.
    case log(String)
    /// Keep [K] (DER) of the vehicle in the phone's state, next to its key: phase 2 completed
    /// on the device's side.
    case saveVehicleCertificate([UInt8])
    /// Run this derivation of w0/w1 away from the event loop (it takes seconds) and hand its
    /// result to `PhoneRun.derived(_:_:now:)`; `NFC_Status` must go on meanwhile.
    case derive(ScryptJob)
    /// The run is over.
    case finished(PhoneRunResult)
}
