import APDU

/// A step of owner pairing as the device sees it: one command APDU of ICD 8.3. The raw
/// values are the names of `spaak-phone --remove-after`.
public enum PairingStep: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// SELECT (both phases, step 1).
    case select
    /// SPAKE2+ REQUEST (phase 2, step 2).
    case spake2Request = "spake2-request"
    /// SPAKE2+ VERIFY (phase 2, step 3).
    case verify
    /// WRITE DATA (phase 2, step 4).
    case writeData = "write-data"
    /// GET DATA (phase 2, step 5).
    case getData = "get-data"
    /// AUTH0 (phase 3, step 2).
    case auth0
    /// AUTH1 (phase 3, step 3).
    case auth1

    /// The step of a parsed command.
    public init(_ command: PairingCommand) {
        switch command {
        case .select: self = .select
        case .spake2Request: self = .spake2Request
        case .spake2Verify: self = .verify
        case .writeData: self = .writeData
        case .getData: self = .getData
        case .auth0: self = .auth0
        case .auth1: self = .auth1
        }
    }

    /// The phase the step belongs to; `nil` for SELECT, which opens both.
    public var phase: PairingPhase? {
        switch self {
        case .select: return nil
        case .spake2Request, .verify, .writeData, .getData: return .two
        case .auth0, .auth1: return .three
        }
    }

    /// The command's name as ICD 8.3 writes it (`SPAKE2+ REQUEST`).
    public var commandName: String {
        switch self {
        case .select: return "SELECT"
        case .spake2Request: return "SPAKE2+ REQUEST"
        case .verify: return "SPAKE2+ VERIFY"
        case .writeData: return "WRITE DATA"
        case .getData: return "GET DATA"
        case .auth0: return "AUTH0"
        case .auth1: return "AUTH1"
        }
    }

    public var description: String { rawValue }
}

/// The NFC sessions of owner pairing (ICD 8): phase 2 (SPAKE2+, certificates, the endpoint
/// key) and phase 3 (AUTH0/AUTH1 with that key).
public enum PairingPhase: Int, CaseIterable, Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The first NFC session.
    case two = 2
    /// The second NFC session.
    case three = 3

    /// The step whose answer completes the phase on the device's side.
    public var finalStep: PairingStep { self == .two ? .getData : .auth1 }

    /// `SPAAK_Status` byte 7 once the module committed the phase: 2 owner key pending, 3 active.
    public var moduleState: UInt8 { self == .two ? 2 : 3 }

    public static func < (a: PairingPhase, b: PairingPhase) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "phase \(rawValue)" }
}
