import SpaakCore

/// The UDS server (ISO 14229-1) of the module, in the manner of an AUTOSAR Dcm: a sans-I/O
/// state machine on whole request messages (ISO-TP is below it, the application above).
///
/// Inputs: `handleRequest`, `handleTimeout` (when `nextDeadline` passes), and
/// `complete` / `reportPending` for application work. Output: `[DiagnosticAction]`, to be
/// carried out in order. The server validates every request (service, length,
/// sub-function, session, security, DID/RID tables) and hands the semantic work on DIDs
/// and routines to the application as `.execute`; it answers NRC 0x78 when that work
/// outlasts P2.
///
/// Checks run in the order of ISO 14229-1 figures 5 and 6: SID supported (0x11) → SID
/// supported in the active session (0x7F) → for sub-function services: minimum length 2
/// (0x13) → sub-function supported (0x12) → request sequence (0x24) → service-specific
/// checks (minimum length, DID/RID (0x31), security (0x33), exact length (0x13)) →
/// application conditions (0x22, 0x72 ...). A functionally addressed request never
/// gets NRC 0x11, 0x12, 0x31, 0x7E or 0x7F, and suppressPosRspMsgIndicationBit (0x80
/// in the sub-function) suppresses positive responses unless NRC 0x78 went out first.
/// While application work is pending every new request answers NRC 0x21
/// (busyRepeatRequest), except `3E 80`, which only keeps the session alive.
///
/// Use by the ECU glue (one event-loop turn):
/// ```swift
/// var uds = DiagnosticServer(persistedSecurityAttempts: store.securityAttempts, now: now,
///                            seedSource: { randomBytes(16) },
///                            keyFunction: { seed in cmac(plantKey, seed) })
/// var actions = uds.handleRequest(message, addressing: .physical, now: now)
/// while !actions.isEmpty {
///     var more: [DiagnosticAction] = []
///     for action in actions {
///         switch action {
///         case .send(let bytes): isotp.send(bytes)                  // on 0x7A8
///         case .persistSecurityAttempts(let n): store.securityAttempts = n
///         case .execute(let job):                                   // now, or later
///             more += uds.complete(job.token, with: app.perform(job.operation), now: now)
///         case .hardReset: restartAfterTransmission = true
///         case .sessionChanged, .securityAccessChanged: log(action)
///         }
///     }
///     actions = more
/// }
/// loop.arm(uds.nextDeadline.earliest(otherDeadlines))   // then uds.handleTimeout(now:)
/// ```
public struct DiagnosticServer: Sendable {
    /// The configuration given at creation.
    public let configuration: DiagnosticServerConfiguration
    /// The active diagnostic session.
    public internal(set) var session: DiagnosticSession = .defaultSession
    /// Whether security access is unlocked.
    public internal(set) var securityAccess: SecurityAccessState = .locked
    /// Consecutive wrong keys (persisted by the shell); reset by a valid key or when the
    /// delay ends.
    public internal(set) var securityAttempts: Int
    /// The end of the running security delay (requestSeed answers NRC 0x37 until then).
    public internal(set) var securityDelayEnd: Instant?

    /// `true` when security access is unlocked.
    public var isUnlocked: Bool { securityAccess == .unlocked }
    /// The token of the application work in progress, if any.
    public var pendingToken: RequestToken? { pending?.token }

    let seedSource: @Sendable () -> [UInt8]
    let keyFunction: @Sendable ([UInt8]) -> [UInt8]
    let dataIdentifierTable: [UInt16: DataIdentifierEntry]
    let routineTable: [UInt16: RoutineEntry]
    /// The RoutineControl sub-functions at least one routine of the table supports (the
    /// others answer NRC 0x12 before the RID is looked at): start always, stop and
    /// results only if some routine has them.
    let routineSubFunctions: Set<UInt8>
    /// The seed handed out and not yet used by a sendKey.
    var currentSeed: [UInt8]?
    /// The last request received or final response sent: S3 runs from here.
    var lastActivity: Instant
    var pending: PendingWork?
    var nextTokenValue: UInt64 = 1

    /// Creates a server in the default session, locked.
    ///
    /// - Parameters:
    ///   - persistedSecurityAttempts: the wrong-key count the store holds. If it is at
    ///     least `securityMaxAttempts`, the security delay runs from `now` (a restart
    ///     neither shortens nor skips it).
    ///   - now: the current instant (start of S3 bookkeeping and of a restored delay).
    ///   - seedSource: returns a fresh random seed (`seedLength` bytes) at every call.
    ///   - keyFunction: the key a seed expects (the shell passes AES-128-CMAC(K_plant, seed)).
    public init(configuration: DiagnosticServerConfiguration = DiagnosticServerConfiguration(),
                persistedSecurityAttempts: Int = 0, now: Instant,
                seedSource: @escaping @Sendable () -> [UInt8],
                keyFunction: @escaping @Sendable ([UInt8]) -> [UInt8]) {
        self.configuration = configuration
        self.seedSource = seedSource
        self.keyFunction = keyFunction
        self.lastActivity = now
        var dids: [UInt16: DataIdentifierEntry] = [:]
        for entry in configuration.dataIdentifiers { dids[entry.identifier] = entry }
        self.dataIdentifierTable = dids
        var rids: [UInt16: RoutineEntry] = [:]
        for entry in configuration.routines { rids[entry.identifier] = entry }
        self.routineTable = rids
        var routineTypes: Set<RoutineControlType> = [.startRoutine]
        if configuration.routines.contains(where: \.supportsStop) { routineTypes.insert(.stopRoutine) }
        if configuration.routines.contains(where: \.supportsResults) { routineTypes.insert(.requestRoutineResults) }
        self.routineSubFunctions = Set(routineTypes.map(\.rawValue))
        let maxAttempts = max(1, configuration.securityMaxAttempts)
        self.securityAttempts = min(max(0, persistedSecurityAttempts), maxAttempts)
        if securityAttempts >= maxAttempts { securityDelayEnd = now + configuration.securityDelay }
    }

    /// The next instant at which `handleTimeout` has work: a 0x78 to send, the S3
    /// timeout, or the end of the security delay.
    public var nextDeadline: Instant? {
        var deadline: Instant? = pending?.nextResponsePending
        if pending == nil, session != .defaultSession {
            deadline = deadline.earliest(lastActivity + configuration.s3Server)
        }
        return deadline.earliest(securityDelayEnd)
    }

    /// Handles one complete request message. An empty message is ignored.
    public mutating func handleRequest(_ bytes: [UInt8], addressing: RequestAddressing, now: Instant) -> [DiagnosticAction] {
        guard let sid = bytes.first else { return [] }
        lastActivity = now
        var actions = expireSecurityDelay(now: now)
        if pending != nil {
            let keepAlive = bytes == [ServiceIdentifier.testerPresent, ServiceIdentifier.suppressPositiveResponseBit]
            return actions + (keepAlive ? [] : negativeResponse(sid, .busyRepeatRequest, addressing))
        }
        actions += dispatch(sid, bytes, addressing: addressing, now: now)
        return actions
    }

    /// Handles the passing of time: sends due NRC 0x78, ends the session after S3
    /// (default session, locked), ends the security delay (attempt count back to 0).
    public mutating func handleTimeout(now: Instant) -> [DiagnosticAction] {
        var actions = responsePendingIfDue(now: now)
        if pending == nil, session != .defaultSession, now >= lastActivity + configuration.s3Server {
            actions += changeSession(to: .defaultSession)
        }
        actions += expireSecurityDelay(now: now)
        return actions
    }

    private mutating func dispatch(_ sid: UInt8, _ bytes: [UInt8], addressing: RequestAddressing, now: Instant) -> [DiagnosticAction] {
        guard let sessions = configuration.serviceSessions[sid], var subFunctions = Self.subFunctions[sid] else {
            return negativeResponse(sid, .serviceNotSupported, addressing)
        }
        guard sessions.contains(session) else {
            return negativeResponse(sid, .serviceNotSupportedInActiveSession, addressing)
        }
        if sid == ServiceIdentifier.routineControl { subFunctions = routineSubFunctions }
        var subFunction: UInt8 = 0
        var suppress = false
        if !subFunctions.isEmpty {
            guard bytes.count >= 2 else { return negativeResponse(sid, .incorrectMessageLengthOrInvalidFormat, addressing) }
            subFunction = bytes[1] & ~ServiceIdentifier.suppressPositiveResponseBit
            suppress = bytes[1] & ServiceIdentifier.suppressPositiveResponseBit != 0
            guard subFunctions.contains(subFunction) else {
                return negativeResponse(sid, .subFunctionNotSupported, addressing)
            }
        }
        let request = Request(sid: sid, bytes: bytes, subFunction: subFunction, suppressPositiveResponse: suppress,
                              addressing: addressing, now: now)
        switch sid {
        case ServiceIdentifier.diagnosticSessionControl: return diagnosticSessionControl(request)
        case ServiceIdentifier.ecuReset: return ecuReset(request)
        case ServiceIdentifier.testerPresent: return testerPresent(request)
        case ServiceIdentifier.securityAccess: return securityAccess(request)
        case ServiceIdentifier.readDataByIdentifier: return readDataByIdentifier(request)
        case ServiceIdentifier.writeDataByIdentifier: return writeDataByIdentifier(request)
        case ServiceIdentifier.routineControl: return routineControl(request)
        default: return negativeResponse(sid, .serviceNotSupported, addressing)
        }
    }

    /// The implemented services and their sub-functions (empty: no sub-function byte).
    /// RoutineControl's set is narrowed to what the routine table supports
    /// (`routineSubFunctions`).
    static let subFunctions: [UInt8: Set<UInt8>] = [
        ServiceIdentifier.diagnosticSessionControl: Set(DiagnosticSession.allCases.map(\.rawValue)),
        ServiceIdentifier.ecuReset: [0x01],
        ServiceIdentifier.readDataByIdentifier: [],
        ServiceIdentifier.securityAccess: [0x01, 0x02],
        ServiceIdentifier.writeDataByIdentifier: [],
        ServiceIdentifier.routineControl: Set([RoutineControlType.startRoutine, .stopRoutine, .requestRoutineResults].map(\.rawValue)),
        ServiceIdentifier.testerPresent: [0x00],
    ]
}

/// A request that passed the generic checks, as the service handlers see it.
struct Request {
    let sid: UInt8
    let bytes: [UInt8]
    /// The sub-function without the suppress bit (0 for services without one).
    let subFunction: UInt8
    let suppressPositiveResponse: Bool
    let addressing: RequestAddressing
    let now: Instant
}

extension DiagnosticServer {
    /// `7F SID NRC`, or nothing for the codes a functional request never answers.
    func negativeResponse(_ sid: UInt8, _ code: NegativeResponseCode, _ addressing: RequestAddressing) -> [DiagnosticAction] {
        if addressing == .functional, NegativeResponseCode.suppressedOnFunctionalRequest.contains(code) { return [] }
        return [.send([ServiceIdentifier.negativeResponse, sid, code.rawValue])]
    }

    /// The negative response to `request`.
    func reject(_ request: Request, _ code: NegativeResponseCode) -> [DiagnosticAction] {
        negativeResponse(request.sid, code, request.addressing)
    }

    /// `SID+0x40` and `payload`, unless the request suppressed it.
    func positiveResponse(_ request: Request, _ payload: [UInt8]) -> [DiagnosticAction] {
        request.suppressPositiveResponse ? [] : [.send([request.sid &+ ServiceIdentifier.positiveResponseOffset] + payload)]
    }

    /// The identifier at `offset` (two bytes, big-endian); the caller checks bounds.
    static func identifier(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
}
