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

/// The service identifiers (SID) the server knows.
public enum ServiceIdentifier {
    /// DiagnosticSessionControl.
    public static let diagnosticSessionControl: UInt8 = 0x10
    /// ECUReset.
    public static let ecuReset: UInt8 = 0x11
    /// ReadDataByIdentifier.
    public static let readDataByIdentifier: UInt8 = 0x22
    /// SecurityAccess.
    public static let securityAccess: UInt8 = 0x27
    /// WriteDataByIdentifier.
    public static let writeDataByIdentifier: UInt8 = 0x2E
    /// RoutineControl.
    public static let routineControl: UInt8 = 0x31
    /// TesterPresent.
    public static let testerPresent: UInt8 = 0x3E
    /// The SID of every negative response.
    public static let negativeResponse: UInt8 = 0x7F
    /// Added to the request SID in a positive response.
    public static let positiveResponseOffset: UInt8 = 0x40
    /// The suppressPosRspMsgIndicationBit of a sub-function byte.
    public static let suppressPositiveResponseBit: UInt8 = 0x80
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
