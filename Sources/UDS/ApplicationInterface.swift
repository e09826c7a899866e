/// Identifies one piece of application work handed out by `DiagnosticServer`; the
/// application passes it back to `DiagnosticServer.complete(_:with:now:)`.
public struct RequestToken: Hashable, Sendable, CustomStringConvertible {
    /// A number unique within one server instance.
    public let value: UInt64
    /// Wraps a number (the server numbers its tokens 1, 2, ...).
    public init(value: UInt64) { self.value = value }
    public var description: String { "#\(value)" }
}

/// The routineControlType (sub-function) of service 0x31.
public enum RoutineControlType: UInt8, Hashable, Sendable {
    /// 0x01 startRoutine.
    case startRoutine = 0x01
    /// 0x02 stopRoutine.
    case stopRoutine = 0x02
    /// 0x03 requestRoutineResults.
    case requestRoutineResults = 0x03
}

/// The semantic work a validated request asks of the application.
public enum ApplicationOperation: Hashable, Sendable {
    /// Read these DIDs (0x22), in request order; each is known and readable right now.
    /// Answer `.dataRecords` (one record per identifier) or a negative code (0x22 when a
    /// DID has no value yet).
    case readData(identifiers: [UInt16])
    /// Write `data` to the DID (0x2E); length and access are already checked.
    /// Answer `.positive([])` or a negative code (0x22, 0x31, 0x72, ...).
    case writeData(identifier: UInt16, data: [UInt8])
    /// Start, stop or query a routine (0x31). Answer `.positive(routineStatusRecord)`: the
    /// bytes after `71 <type> <RID>` (for example `[0x00]`), or a negative code.
    case routineControl(RoutineControlType, identifier: UInt16, options: [UInt8])
}

/// One piece of application work, emitted as `DiagnosticAction.execute`.
public struct ApplicationRequest: Hashable, Sendable {
    /// Pass it back with the result.
    public let token: RequestToken
    /// What to do.
    public let operation: ApplicationOperation
    /// Creates a request (the server does this).
    public init(token: RequestToken, operation: ApplicationOperation) {
        self.token = token
        self.operation = operation
    }
}

/// The application's answer to an `ApplicationRequest`.
public enum ApplicationResult: Hashable, Sendable {
    /// Success: the bytes that follow the response SID and the echoed request parameters
    /// (`6E DID` for a write, `71 type RID` for a routine). For a read, the bytes after
    /// `62`, already formatted as (DID, data)*; `.dataRecords` is the easier form there.
    case positive([UInt8])
    /// Success of a read: one data record per requested DID, in request order; the
    /// server adds the DIDs. (For a write or routine, the records are concatenated.)
    case dataRecords([[UInt8]])
    /// Failure with this NRC.
    case negative(NegativeResponseCode)
}

/// Who may use a DID or routine: the sessions it exists in, and whether security access
/// must be unlocked.
public struct AccessRequirement: Hashable, Sendable {
    /// Sessions in which the DID/RID is supported; in any other session it is
    /// "not supported in active session": NRC 0x31 (ISO 14229-1), or skipped in a read of
    /// several DIDs.
    public var sessions: Set<DiagnosticSession>
    /// `true` if a locked module answers NRC 0x33.
    public var requiresUnlocked: Bool

    /// Creates a requirement.
    public init(sessions: Set<DiagnosticSession>, requiresUnlocked: Bool) {
        self.sessions = sessions
        self.requiresUnlocked = requiresUnlocked
    }

    /// Every session, no security.
    public static let anySession = AccessRequirement(sessions: Set(DiagnosticSession.allCases), requiresUnlocked: false)
    /// The extended session, no security.
    public static let extended = AccessRequirement(sessions: [.extendedDiagnosticSession], requiresUnlocked: false)
    /// The extended session, unlocked.
    public static let extendedUnlocked = AccessRequirement(sessions: [.extendedDiagnosticSession], requiresUnlocked: true)
}

/// One data identifier of the server's table.
public struct DataIdentifierEntry: Hashable, Sendable {
    /// The DID.
    public var identifier: UInt16
    /// Read access; `nil`: not readable.
    public var read: AccessRequirement?
    /// Write access; `nil`: not writable (0x2E answers 0x31).
    public var write: AccessRequirement?
    /// The exact length of a written data record (VIN: 17); `nil`: any length ≥ 1.
    public var writeLength: Int?
    /// `true`: a write answers NRC 0x78 at once (the application knows it is slow).
    public var writeRespondsPendingFirst: Bool

    /// Creates an entry.
    public init(_ identifier: UInt16, read: AccessRequirement? = .anySession, write: AccessRequirement? = nil,
                writeLength: Int? = nil, writeRespondsPendingFirst: Bool = false) {
        self.identifier = identifier
        self.read = read
        self.write = write
        self.writeLength = writeLength
        self.writeRespondsPendingFirst = writeRespondsPendingFirst
    }
}

/// One routine identifier of the server's table.
public struct RoutineEntry: Hashable, Sendable {
    /// The RID.
    public var identifier: UInt16
    /// Who may control it (any sub-function).
    public var access: AccessRequirement
    /// Whether 0x02 stopRoutine exists for it (else NRC 0x12).
    public var supportsStop: Bool
    /// Whether 0x03 requestRoutineResults exists for it (else NRC 0x12).
    public var supportsResults: Bool
    /// The exact length of the start option record (0: none, trailing bytes answer NRC
    /// 0x13); `nil`: any length, also none.
    public var startOptionLength: Int?
    /// `true`: startRoutine answers NRC 0x78 at once (the application knows it is slow).
    public var startRespondsPendingFirst: Bool

    /// Creates an entry.
    public init(_ identifier: UInt16, access: AccessRequirement = .extended, supportsStop: Bool = false,
                supportsResults: Bool = true, startOptionLength: Int? = 0, startRespondsPendingFirst: Bool = false) {
        self.identifier = identifier
        self.access = access
        self.supportsStop = supportsStop
        self.supportsResults = supportsResults
        self.startOptionLength = startOptionLength
        self.startRespondsPendingFirst = startRespondsPendingFirst
    }
}
