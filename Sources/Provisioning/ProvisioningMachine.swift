import CloudProtocol
import SpaakCore

/// The cloud use cases of the module (PP-01 with SP-02, PP-02, PP-03; ICD 7.6) as a sans-I/O
/// state machine.
///
/// The glue feeds it inputs (TBM transitions, verified C2V messages, results of the store
/// work it asked for, routines) and the current `Instant`, executes the returned actions in
/// order, calls `handleTimeout(now:)` when `nextDeadline` passes, and verifies every C2V
/// message against `expectation` (`C2VVerifier`). Whether a message is expected is decided
/// once, by `C2VExpectation.role(of:transactionID:)`: the verifier rejects what it calls
/// unexpected, the machine routes by the same answer. It reads no clock and touches no store.
///
/// One use case runs at a time. Owed module-initiated use cases start while the TBM is
/// online, in this order: SP-02 (no drmUUID), PP-01 (no [K]), PP-03 (a pending reason). A
/// PP-02 push is served at once when the module is idle or SP-02/PP-01 waits for an answer:
/// that use case is suspended and resumes afterwards by resending its request. An owner
/// key termination (0x0C) is taken at any time. No module-initiated use case starts while
/// `ProvisioningFacts.missingPreconditions` is not empty (the module cannot sign yet). A restart builds a new machine from the
/// store's `ProvisioningFacts`: a use case in progress then starts over from its first step.
public struct ProvisioningMachine: Sendable {
    /// Timing and limits.
    public let configuration: ProvisioningConfiguration
    /// What the store holds, as far as the machine knows (updated as its work completes).
    public internal(set) var facts: ProvisioningFacts
    /// Whether the TBM is online.
    public internal(set) var isTBMOnline = false
    /// Diagnostic counters.
    public internal(set) var counters = ProvisioningCounters()

    var lastErrorCode: UInt8 = 0
    var run: Run?
    var suspended: Run?
    var restartAt: [RestartGroup: Instant] = [:]
    var random: any RandomNumberGenerator & Sendable
    var output: [ProvisioningAction] = []
    var publishedStatus: ProvisioningStatus
    /// The missing preconditions last logged as a wait (logged once per change).
    var announcedWait: [String] = []
    /// OwnerPairingStatus reports waiting to be sent, oldest first.
    var ownerPairingReports: [OwnerPairingStatusReport] = []

    /// Creates the machine after a start or restart: idle, the TBM offline.
    ///
    /// - Parameters:
    ///   - facts: what the store holds.
    ///   - random: the source of transaction ids (16 bytes per use-case step).
    public init(facts: ProvisioningFacts, configuration: ProvisioningConfiguration = ProvisioningConfiguration(),
                random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.facts = facts
        self.configuration = configuration
        self.random = random
        publishedStatus = ProvisioningStatus(failedPairingAttempts: facts.failedPairingAttempts)
    }

    /// `SPAAK_Status` bytes 3 to 6 as of now.
    public var status: ProvisioningStatus {
        ProvisioningStatus(activeUseCase: run?.useCase, step: run?.stepNumber ?? 0, lastErrorCode: lastErrorCode,
                           failedPairingAttempts: facts.failedPairingAttempts)
    }

    /// The C2V messages the machine takes now. Everything else is to be rejected as an
    /// unexpected message (ICD 7.5 code 8). An ErrorResponse (0x7F) to the outstanding
    /// request is always taken; an owner key termination (0x0C) always as a push.
    public var expectation: C2VExpectation {
        var expectation = C2VExpectation.idle(pushTypes: [.ownerKeyTermination, .ownerPairingModeRequest])
        if let request = run?.request {
            expectation.responseTypes = [request.answer, .errorResponse]
            expectation.outstandingTransactionID = request.message.transactionID
        }
        if acceptsVerifierPush { expectation.pushTypes.insert(.spake2VerifierProvisioning) }
        return expectation
    }

    /// The earliest instant at which `handleTimeout(now:)` has work: a retry, or the end of
    /// the wait after a failure.
    public var nextDeadline: Instant? {
        var deadline = run?.request?.retryAt
        for instant in restartAt.values { deadline = deadline.earliest(instant) }
        return deadline
    }

    /// Handles one input; returns the actions to execute, in order.
    public mutating func handle(_ input: ProvisioningInput, now: Instant) -> [ProvisioningAction] {
        switch input {
        case .tbmWentOnline: tbmWentOnline(now: now)
        case .tbmWentOffline: tbmWentOffline()
        case .messageAccepted(let message): accept(ReceivedC2V(message), now: now)
        case .messageRejected(let code): reject(code)
        case .taskCompleted(let result): taskCompleted(result, now: now)
        case .routine(let routine): start(routine, now: now)
        case .preconditionsChanged(let missing): preconditionsChanged(missing, now: now)
        case .pairingAttemptFailed: ownerPairingFailed(now: now)
        case .pairingWithoutVerifier: ownerPairingStarted(now: now)
        case .verifierConsumedByPairing: verifierConsumedByPairing()
        case .ownerPairingReport(let report): queueOwnerPairingReport(report, now: now)
        }
        return drain()
    }

    /// Handles the passing of time: retries, failures after the last retry, restarts.
    public mutating func handleTimeout(now: Instant) -> [ProvisioningAction] {
        for (group, instant) in restartAt where instant <= now {
            restartAt[group] = nil
            log(.info, "restart wait after a failure is over")
        }
        if let retryAt = run?.request?.retryAt, retryAt <= now { retryOrFail(now: now) }
        schedule(now: now)
        return drain()
    }

    // MARK: - Dispatch

    /// A verified C2V message: the answer to the outstanding request, or a push, as
    /// `expectation` (the one the verifier applied) classifies it; anything else is ignored.
    mutating func accept(_ message: ReceivedC2V, now: Instant) {
        let role = expectation.role(of: message.type, transactionID: message.transactionID)
        if role == .response, let request = run?.request {
            counters.messagesAccepted += 1
            run?.request = nil
            if message.type == .errorResponse {
                log(.warning, "ErrorResponse to 0x\([request.message.type.rawValue].hexString), cloud result code \(message.resultCode.map(String.init) ?? "missing")")
                finish(.rejectedByCloud, now: now)
            } else {
                answer(message, now: now)
            }
            return
        }
        switch (role, message.type) {
        case (.push?, .spake2VerifierProvisioning):
            counters.messagesAccepted += 1
            startPP02(message, now: now)
        case (.push?, .ownerKeyTermination):
            counters.messagesAccepted += 1
            ownerKeyTermination(now: now)
        case (.push?, .ownerPairingModeRequest):
            counters.messagesAccepted += 1
            log(.info, "OwnerPairingModeRequest 0x0E accepted")
            output.append(.ownerPairingModeRequested(transactionID: message.transactionID))
        default:
            counters.messagesIgnored += 1
            lastErrorCode = CloudStatus.unexpectedMessage.rawValue
            log(.warning, "ignored unexpected C2V 0x\([message.type.rawValue].hexString) txn \(message.transactionID.prefix(4).hexString)…")
        }
    }

    /// The answer to the outstanding request of the current step.
    mutating func answer(_ message: ReceivedC2V, now: Instant) {
        switch run?.step {
        case .drmUUIDRequested?: drmUUIDReceived(message, now: now)
        case .subjectIDRequested?: subjectIDReceived(message, now: now)
        case .certificateRequested?: certificateReceived(message, now: now)
        case .certificateStatusSent(let status)?:
            enter(.completed)
            finish(status, now: now)
        case .verifierStatusSent(let status)?: finish(status, now: now)
        case .ownerPairingStatusSent?: finish(.ok, now: now)
        case .verifierRequested?: verifierReceived(message, now: now)
        default: log(.warning, "answer 0x\([message.type.rawValue].hexString) fits no step")
        }
    }

    /// A C2V message that failed verification.
    mutating func reject(_ code: CloudStatus) {
        counters.messagesRejected += 1
        if code != .ok { lastErrorCode = code.rawValue }
        log(.warning, "rejected C2V message, code \(code.rawValue)")
    }

    /// The result of the task of the current step.
    mutating func taskCompleted(_ result: ProvisioningTaskResult, now: Instant) {
        switch (run?.step, result) {
        case (.drmUUIDStoring?, .drmUUIDStored(let success)):
            drmUUIDStored(success, now: now)
        case (.subjectIDStoring(let subjectID)?, .subjectIDStored(let success)):
            subjectIDStored(subjectID, success, now: now)
        case (.keyPairGenerating(let subjectID)?, .vehicleKeyPairGenerated(let success)):
            keyPairGenerated(subjectID, success, now: now)
        case (.csrMaking?, .vehicleCSRMade(let csr)):
            csrMade(csr, now: now)
        case (.certificateChecking(let certificate)?, .vehicleCertificateChecked(let status)):
            certificateChecked(certificate, status, now: now)
        case (.certificateInstalling?, .vehicleCertificateInstalled(let success)):
            certificateInstalled(success, now: now)
        case (.verifierStoring?, .verifierStored(let success)):
            verifierStored(success, now: now)
        default:
            log(.warning, "ignored task result \(result): no step waits for it")
        }
    }

    // MARK: - Output

    /// Appends a log line.
    mutating func log(_ level: ProvisioningLogLevel, _ text: String) {
        output.append(.log(level, text))
    }

    /// Appends a status change if the status differs from the last one announced.
    mutating func publishStatus() {
        let current = status
        guard current != publishedStatus else { return }
        publishedStatus = current
        output.append(.statusChanged(current))
    }

    /// Moves the running use case to `step` and announces it.
    mutating func enter(_ step: Step) {
        run?.step = step
        publishStatus()
    }

    private mutating func drain() -> [ProvisioningAction] {
        publishStatus()
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }
}
