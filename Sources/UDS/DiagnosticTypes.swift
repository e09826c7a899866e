/// A diagnostic session of ISO 14229-1 (service 0x10), by its sub-function value.
public enum DiagnosticSession: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The default session (0x01): active after start, reset and S3 timeout.
    case defaultSession = 0x01
    /// The extended diagnostic session (0x03): security access, writes, routines.
    case extendedDiagnosticSession = 0x03

    public var description: String {
        switch self {
        case .defaultSession: return "default"
        case .extendedDiagnosticSession: return "extended"
        }
    }
}

/// Whether security access (service 0x27) has unlocked the module.
public enum SecurityAccessState: Hashable, Sendable {
    /// Locked: protected DIDs and routines answer NRC 0x33.
    case locked
    /// Unlocked by a valid key (level 0x01/0x02) in the current extended session.
    case unlocked
}

/// How the request reached the module (ISO 14229-1 A_TA_Type).
public enum RequestAddressing: Hashable, Sendable {
    /// On the module's own request identifier (0x7A0): one tester, one module.
    case physical
    /// On the functional identifier (0x7DF): to every module on the bus.
    case functional
}

/// The services (SID, ISO 14229-1) the server implements. A request with any other first
/// byte answers NRC 0x11 serviceNotSupported.
public enum ServiceIdentifier: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// 0x10 DiagnosticSessionControl.
    case diagnosticSessionControl = 0x10
    /// 0x11 ECUReset.
    case ecuReset = 0x11
    /// 0x22 ReadDataByIdentifier.
    case readDataByIdentifier = 0x22
    /// 0x27 SecurityAccess.
    case securityAccess = 0x27
    /// 0x2E WriteDataByIdentifier.
    case writeDataByIdentifier = 0x2E
    /// 0x31 RoutineControl.
    case routineControl = 0x31
    /// 0x3E TesterPresent.
    case testerPresent = 0x3E

    /// The first byte of this service's positive response (SID + 0x40).
    public var positiveResponseSID: UInt8 { rawValue &+ DiagnosticMessageFormat.positiveResponseOffset }

    public var description: String {
        let name: String
        switch self {
        case .diagnosticSessionControl: name = "DiagnosticSessionControl"
        case .ecuReset: name = "ECUReset"
        case .readDataByIdentifier: name = "ReadDataByIdentifier"
        case .securityAccess: name = "SecurityAccess"
        case .writeDataByIdentifier: name = "WriteDataByIdentifier"
        case .routineControl: name = "RoutineControl"
        case .testerPresent: name = "TesterPresent"
        }
        return name + " (0x" + [rawValue].hexString + ")"
    }
}

/// The bytes of the UDS message format that are not service identifiers (ISO 14229-1).
public enum DiagnosticMessageFormat {
    /// The first byte of every negative response (`7F SID NRC`).
    public static let negativeResponseSID: UInt8 = 0x7F
    /// Added to the request SID to make the positive response SID.
    public static let positiveResponseOffset: UInt8 = 0x40
    /// The suppressPosRspMsgIndicationBit of a sub-function byte: no positive response.
    public static let suppressPositiveResponseBit: UInt8 = 0x80
}

/// The sub-functions (securityAccessType) of service 0x27 at level 1 (ICD 5.3).
public enum SecurityAccessType: UInt8, Hashable, Sendable, CaseIterable {
    /// 0x01 requestSeed.
    case requestSeed = 0x01
    /// 0x02 sendKey.
    case sendKey = 0x02
}

/// The sub-functions (resetType) of service 0x11 the server implements.
public enum ResetType: UInt8, Hashable, Sendable, CaseIterable {
    /// 0x01 hardReset.
    case hardReset = 0x01
}

/// The sub-function of service 0x3E TesterPresent.
public enum TesterPresentType: UInt8, Hashable, Sendable, CaseIterable {
    /// 0x00 zeroSubFunction.
    case zeroSubFunction = 0x00
}

/// A negative response code (NRC) of ISO 14229-1, Annex A.
///
/// A struct rather than an enum so that the application may answer any code.
public struct NegativeResponseCode: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    /// The code byte.
    public var rawValue: UInt8
    /// Wraps a code byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 0x10 generalReject.
    public static let generalReject = NegativeResponseCode(rawValue: 0x10)
    /// 0x11 serviceNotSupported.
    public static let serviceNotSupported = NegativeResponseCode(rawValue: 0x11)
    /// 0x12 subFunctionNotSupported.
    public static let subFunctionNotSupported = NegativeResponseCode(rawValue: 0x12)
    /// 0x13 incorrectMessageLengthOrInvalidFormat.
    public static let incorrectMessageLengthOrInvalidFormat = NegativeResponseCode(rawValue: 0x13)
    /// 0x14 responseTooLong.
    public static let responseTooLong = NegativeResponseCode(rawValue: 0x14)
    /// 0x21 busyRepeatRequest.
    public static let busyRepeatRequest = NegativeResponseCode(rawValue: 0x21)
    /// 0x22 conditionsNotCorrect.
    public static let conditionsNotCorrect = NegativeResponseCode(rawValue: 0x22)
    /// 0x24 requestSequenceError.
    public static let requestSequenceError = NegativeResponseCode(rawValue: 0x24)
    /// 0x31 requestOutOfRange.
    public static let requestOutOfRange = NegativeResponseCode(rawValue: 0x31)
    /// 0x33 securityAccessDenied.
    public static let securityAccessDenied = NegativeResponseCode(rawValue: 0x33)
    /// 0x35 invalidKey.
    public static let invalidKey = NegativeResponseCode(rawValue: 0x35)
    /// 0x36 exceededNumberOfAttempts.
    public static let exceededNumberOfAttempts = NegativeResponseCode(rawValue: 0x36)
    /// 0x37 requiredTimeDelayNotExpired.
    public static let requiredTimeDelayNotExpired = NegativeResponseCode(rawValue: 0x37)
    /// 0x72 generalProgrammingFailure (store write failure).
    public static let generalProgrammingFailure = NegativeResponseCode(rawValue: 0x72)
    /// 0x78 requestCorrectlyReceived-ResponsePending.
    public static let responsePending = NegativeResponseCode(rawValue: 0x78)
    /// 0x7E subFunctionNotSupportedInActiveSession.
    public static let subFunctionNotSupportedInActiveSession = NegativeResponseCode(rawValue: 0x7E)
    /// 0x7F serviceNotSupportedInActiveSession.
    public static let serviceNotSupportedInActiveSession = NegativeResponseCode(rawValue: 0x7F)

    /// The codes a functionally addressed request never answers (ISO 14229-1 7.5, ICD 5.1).
    public static let suppressedOnFunctionalRequest: Set<NegativeResponseCode> = [
        .serviceNotSupported, .subFunctionNotSupported, .requestOutOfRange,
        .subFunctionNotSupportedInActiveSession, .serviceNotSupportedInActiveSession,
    ]

    public var description: String { "NRC 0x" + [rawValue].hexString }
}

/// A negative response message: `7F SID NRC` (ISO 14229-1), for users of responses.
///
/// ```swift
/// if let negative = NegativeResponse(bytes: response), negative.code == .responsePending { ... }
/// ```
public struct NegativeResponse: Hashable, Sendable, CustomStringConvertible {
    /// The SID of the rejected request (any byte: an unknown service is repeated too).
    public var sid: UInt8
    /// Why the request was rejected.
    public var code: NegativeResponseCode

    /// A negative response to the request with `sid`.
    public init(sid: UInt8, code: NegativeResponseCode) {
        self.sid = sid
        self.code = code
    }

    /// Parses a response: `nil` unless it is exactly three bytes starting with 0x7F.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 3, bytes[0] == DiagnosticMessageFormat.negativeResponseSID else { return nil }
        self.init(sid: bytes[1], code: NegativeResponseCode(rawValue: bytes[2]))
    }

    /// The message: `7F SID NRC`.
    public var bytes: [UInt8] { [DiagnosticMessageFormat.negativeResponseSID, sid, code.rawValue] }

    /// The rejected service, if the server implements it.
    public var service: ServiceIdentifier? { ServiceIdentifier(rawValue: sid) }

    public var description: String { "7F " + [sid].hexString + " " + code.description }
}
