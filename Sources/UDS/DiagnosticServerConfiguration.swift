/// Timing, security and table parameters of a `DiagnosticServer`.
///
/// The defaults are the ICD's (section 5): P2 50 ms, P2* 5000 ms, S3 5000 ms, three key
/// attempts then a 10 s delay, 16-byte keys, 4095-byte responses.
public struct DiagnosticServerConfiguration: Sendable {
    /// P2server, reported in the 0x10 response (1 ms resolution).
    public var p2Server: Duration = .milliseconds(50)
    /// P2*server, reported in the 0x10 response (10 ms resolution).
    public var p2StarServer: Duration = .milliseconds(5000)
    /// Time after the request at which unfinished application work answers NRC 0x78
    /// (P2 minus a margin for transmission).
    public var responsePendingAfter: Duration = .milliseconds(40)
    /// Interval between repeated NRC 0x78 while the work goes on (well inside P2*).
    public var responsePendingInterval: Duration = .milliseconds(2000)
    /// After this many NRC 0x78 the work is abandoned with NRC 0x10; `nil`: never.
    public var maxResponsePending: Int? = nil
    /// S3server: without a request for this long, a non-default session ends.
    public var s3Server: Duration = .milliseconds(5000)
    /// Wrong keys in a row that trigger NRC 0x36 and the delay.
    public var securityMaxAttempts: Int = 3
    /// The delay during which requestSeed answers NRC 0x37.
    public var securityDelay: Duration = .seconds(10)
    /// The length of the all-zero seed answered when already unlocked (the random
    /// source gives the others).
    public var seedLength: Int = 16
    /// The exact key length of sendKey (AES-128-CMAC: 16).
    public var keyLength: Int = 16
    /// The largest response the transport carries (ISO-TP classic: 4095); longer
    /// positive responses become NRC 0x14.
    public var maxResponseLength: Int = 4095
    /// The sessions in which each service is supported (else NRC 0x7F); a service left
    /// out answers NRC 0x11 like an unknown SID.
    public var serviceSessions: [ServiceIdentifier: Set<DiagnosticSession>] = [
        .diagnosticSessionControl: Set(DiagnosticSession.allCases),
        .ecuReset: Set(DiagnosticSession.allCases),
        .readDataByIdentifier: Set(DiagnosticSession.allCases),
        .securityAccess: [.extendedDiagnosticSession],
        .writeDataByIdentifier: [.extendedDiagnosticSession],
        .routineControl: [.extendedDiagnosticSession],
        .testerPresent: Set(DiagnosticSession.allCases),
    ]
    /// The DIDs that exist.
    public var dataIdentifiers: [DataIdentifierEntry]
    /// The routines that exist.
    public var routines: [RoutineEntry]

    /// Creates a configuration with the ICD's timing and the given tables.
    public init(dataIdentifiers: [DataIdentifierEntry] = DataIdentifierEntry.icdTable,
                routines: [RoutineEntry] = RoutineEntry.icdTable) {
        self.dataIdentifiers = dataIdentifiers
        self.routines = routines
    }
}

/// What the shell must do after a call into `DiagnosticServer`, in order.
public enum DiagnosticAction: Hashable, Sendable {
    /// Send this response on the physical response identifier (0x7A8).
    case send([UInt8])
    /// The session changed (for logs and `SPAAK_Status`).
    case sessionChanged(DiagnosticSession)
    /// Security access locked or unlocked.
    case securityAccessChanged(SecurityAccessState)
    /// Write the consecutive wrong-key count to the store (before sending the response);
    /// pass it back as `persistedSecurityAttempts` when the server is created again.
    case persistSecurityAttempts(Int)
    /// Do this application work and call `complete` with the token.
    case execute(ApplicationRequest)
    /// Once the preceding `.send` is on the bus, restart the module from its store.
    case hardReset
}
