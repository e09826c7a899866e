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
    /// Whether application work is in progress (S3 runs only while idle).
    enum RequestState: Sendable {
        /// No work in progress; S3 runs from `lastActivity`, the last request received
        /// or final response sent.
        case idle(lastActivity: Instant)
        /// Application work handed out and not yet completed: new requests answer NRC
        /// 0x21, S3 is held.
        case busy(PendingWork)
    }

    /// The configuration given at creation.
    public let configuration: DiagnosticServerConfiguration
    /// The active diagnostic session.
    public private(set) var session: DiagnosticSession = .defaultSession
    /// Seed, wrong-key count, delay, unlocked.
    var security: SecurityAccessMachine
    /// Idle since the last activity, or busy with application work.
    var requestState: RequestState
    /// The token of the next application work.
    var nextTokenValue: UInt64 = 1

    /// Whether security access is unlocked.
    public var securityAccess: SecurityAccessState { security.access }
    /// `true` when security access is unlocked.
    public var isUnlocked: Bool { securityAccess == .unlocked }
    /// Consecutive wrong keys (persisted by the shell); reset by a valid key or when the
    /// delay ends.
    public var securityAttempts: Int { security.failedAttempts }
    /// The end of the running security delay (requestSeed answers NRC 0x37 until then).
    public var securityDelayEnd: Instant? { security.delayEnd }
    /// The token of the application work in progress, if any.
    public var pendingToken: RequestToken? {
        switch requestState {
        case .idle: return nil
        case .busy(let work): return work.token
        }
    }

    let seedSource: @Sendable () -> [UInt8]
    let keyFunction: @Sendable ([UInt8]) -> [UInt8]
    let dataIdentifierTable: [UInt16: DataIdentifierEntry]
    let routineTable: [UInt16: RoutineEntry]
    /// The RoutineControl sub-functions at least one routine of the table supports (the
    /// others answer NRC 0x12 before the RID is looked at): start always, stop and
    /// results only if some routine has them.
    let routineSubFunctions: Set<UInt8>

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
        requestState = .idle(lastActivity: now)
        security = SecurityAccessMachine(persistedAttempts: persistedSecurityAttempts,
                                         maxAttempts: configuration.securityMaxAttempts,
                                         delay: configuration.securityDelay, now: now)
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
    }

    /// The next instant at which `handleTimeout` has work: a 0x78 to send, the S3
    /// timeout, or the end of the security delay.
    public var nextDeadline: Instant? {
        let deadline: Instant?
        switch requestState {
        case .busy(let work):
            deadline = work.nextResponsePending
        case .idle(let lastActivity):
            deadline = session == .defaultSession ? nil : lastActivity + configuration.s3Server
        }
        return deadline.earliest(security.delayEnd)
    }

    /// Handles one complete request message. An empty message is ignored.
    public mutating func handleRequest(_ bytes: [UInt8], addressing: RequestAddressing, now: Instant) -> [DiagnosticAction] {
        guard let sid = bytes.first else { return [] }
        let actions = expireSecurityDelay(now: now)
        switch requestState {
        case .busy:
            // S3 restarts when the work ends.
            return actions + (bytes == Self.keepAlive ? [] : negativeResponse(sid, .busyRepeatRequest, addressing))
        case .idle:
            requestState = .idle(lastActivity: now)
            return actions + dispatch(sid, bytes, addressing: addressing, now: now)
        }
    }

    /// Handles the passing of time: sends due NRC 0x78, ends the session after S3
    /// (default session, locked), ends the security delay (attempt count back to 0).
    public mutating func handleTimeout(now: Instant) -> [DiagnosticAction] {
        var actions = responsePendingIfDue(now: now)
        if case .idle(let lastActivity) = requestState, session != .defaultSession,
           now >= lastActivity + configuration.s3Server {
            actions += changeSession(to: .defaultSession)
        }
        actions += expireSecurityDelay(now: now)
        return actions
    }

    /// `3E 80`: TesterPresent without response, the one request that busy work does not
    /// answer NRC 0x21.
    static let keepAlive: [UInt8] = [ServiceIdentifier.testerPresent.rawValue,
                                     TesterPresentType.zeroSubFunction.rawValue
                                        | DiagnosticMessageFormat.suppressPositiveResponseBit]

    private mutating func dispatch(_ sid: UInt8, _ bytes: [UInt8], addressing: RequestAddressing, now: Instant) -> [DiagnosticAction] {
        guard let service = ServiceIdentifier(rawValue: sid), let sessions = configuration.serviceSessions[service] else {
            return negativeResponse(sid, .serviceNotSupported, addressing)
        }
        guard sessions.contains(session) else {
            return negativeResponse(sid, .serviceNotSupportedInActiveSession, addressing)
        }
        var subFunction: UInt8 = 0
        var suppress = false
        if let subFunctions = subFunctions(of: service) {
            guard bytes.count >= 2 else { return negativeResponse(sid, .incorrectMessageLengthOrInvalidFormat, addressing) }
            subFunction = bytes[1] & ~DiagnosticMessageFormat.suppressPositiveResponseBit
            suppress = bytes[1] & DiagnosticMessageFormat.suppressPositiveResponseBit != 0
            guard subFunctions.contains(subFunction) else {
                return negativeResponse(sid, .subFunctionNotSupported, addressing)
            }
        }
        let request = Request(service: service, bytes: bytes, subFunction: subFunction, suppressPositiveResponse: suppress,
                              addressing: addressing, now: now)
        switch service {
        case .diagnosticSessionControl: return diagnosticSessionControl(request)
        case .ecuReset: return ecuReset(request)
        case .testerPresent: return testerPresent(request)
        case .securityAccess: return securityAccess(request)
        case .readDataByIdentifier: return readDataByIdentifier(request)
        case .writeDataByIdentifier: return writeDataByIdentifier(request)
        case .routineControl: return routineControl(request)
        }
    }

    /// The sub-functions of `service`; `nil` for a service without a sub-function byte.
    /// RoutineControl's set is narrowed to what the routine table supports.
    func subFunctions(of service: ServiceIdentifier) -> Set<UInt8>? {
        switch service {
        case .diagnosticSessionControl: return Self.sessionSubFunctions
        case .ecuReset: return Self.resetSubFunctions
        case .securityAccess: return Self.securityAccessSubFunctions
        case .testerPresent: return Self.testerPresentSubFunctions
        case .routineControl: return routineSubFunctions
        case .readDataByIdentifier, .writeDataByIdentifier: return nil
        }
    }

    static let sessionSubFunctions = Set(DiagnosticSession.allCases.map(\.rawValue))
    static let resetSubFunctions = Set(ResetType.allCases.map(\.rawValue))
    static let securityAccessSubFunctions = Set(SecurityAccessType.allCases.map(\.rawValue))
    static let testerPresentSubFunctions = Set(TesterPresentType.allCases.map(\.rawValue))

    /// Switches to `target`: every transition forgets the seed, leaving a non-default
    /// session locks. Emits the changes.
    mutating func changeSession(to target: DiagnosticSession) -> [DiagnosticAction] {
        var actions: [DiagnosticAction] = []
        if security.sessionTransition(lock: session != .defaultSession) {
            actions.append(.securityAccessChanged(.locked))
        }
        if session != target {
            session = target
            actions.append(.sessionChanged(target))
        }
        return actions
    }
}

/// A request that passed the generic checks, as the service handlers see it.
struct Request {
    let service: ServiceIdentifier
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
        return [.send(NegativeResponse(sid: sid, code: code).bytes)]
    }

    /// The negative response to `request`.
    func reject(_ request: Request, _ code: NegativeResponseCode) -> [DiagnosticAction] {
        negativeResponse(request.service.rawValue, code, request.addressing)
    }

    /// `SID+0x40` and `payload`, unless the request suppressed it.
    func positiveResponse(_ request: Request, _ payload: [UInt8]) -> [DiagnosticAction] {
        request.suppressPositiveResponse ? [] : [.send([request.service.positiveResponseSID] + payload)]
    }

    /// The identifier at `offset` (two bytes, big-endian); the caller checks bounds.
    static func identifier(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
}
