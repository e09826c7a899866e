import CloudProtocol
import SpaakCore

/// The use case that runs, where it stands and what it waits for.
struct Run: Sendable {
    /// The use case shown in `SPAAK_Status` byte 3 (SP-02 while PP-01 runs it).
    var useCase: UseCase
    /// Where it stands.
    var step: Step
    /// The request waiting for an answer, if the step waits for one.
    var request: PendingRequest?
    /// PP-02: the push's transaction id, echoed by the status reply.
    var pushTransactionID: [UInt8]?
    /// OP: the report being sent (queued again when it times out).
    var ownerPairingReport: OwnerPairingStatusReport?

    /// `SPAAK_Status` byte 4.
    var stepNumber: UInt8 {
        switch step {
        case .drmUUIDRequested: return 1
        case .drmUUIDStoring: return 2
        case .checkingDrmUUID: return 1
        case .checkingCertificatePresence: return 2
        case .subjectIDRequested: return 3
        case .subjectIDStoring: return 7
        case .keyPairGenerating: return 8
        case .csrMaking: return 9
        case .certificateRequested: return 10
        case .certificateChecking: return 14
        case .certificateInstalling: return 15
        case .certificateStatusSent: return 16
        case .completed: return 19
        case .verifierRequested: return 1
        case .verifierStoring: return useCase == .pp02 ? 1 : 2
        case .verifierStatusSent: return useCase == .pp02 ? 2 : 3
        case .ownerPairingStatusSent: return 1
        }
    }
}

/// The steps of the use cases; those of PP-01 are named after the seed's steps.
enum Step: Hashable, Sendable {
    /// SP-02 step 1: RemoteServiceProvisioningRequest (0x07) sent, waiting for 0x08.
    case drmUUIDRequested
    /// SP-02 step 2: storing the drmUUID.
    case drmUUIDStoring
    /// PP-01 step 1: verify drmUUID availability.
    case checkingDrmUUID
    /// PP-01 step 2: verify the availability of [K].
    case checkingCertificatePresence
    /// PP-01 step 3: VehicleSubjectIdRequest (0x01) sent, waiting for 0x02.
    case subjectIDRequested
    /// PP-01 step 7: response verified, storing the subject id.
    case subjectIDStoring(String)
    /// PP-01 step 8: generating the vehicle identity key pair.
    case keyPairGenerating(String)
    /// PP-01 step 9: making the CSR.
    case csrMaking
    /// PP-01 step 10: VehicleIdentityCSRRequest (0x03) sent, waiting for 0x04.
    case certificateRequested
    /// PP-01 step 14: response verified, KeyM checks of [K].
    case certificateChecking([UInt8])
    /// PP-01 step 15: installing [K] with its key.
    case certificateInstalling
    /// PP-01 step 16: VehicleIdentityCertStatus (0x05) sent with this status, waiting for 0x06.
    case certificateStatusSent(CloudStatus)
    /// PP-01 step 19: acknowledgement received.
    case completed
    /// PP-03 step 1: Spake2VerifierRequest (0x09) sent, waiting for 0x0A.
    case verifierRequested
    /// PP-02 step 1 / PP-03 step 2: storing a valid verifier record.
    case verifierStoring
    /// PP-02 step 2 / PP-03 step 3: Spake2VerifierStatus (0x0B) sent, waiting for 0x06.
    case verifierStatusSent(CloudStatus)
    /// OP phase 4: OwnerPairingStatus (0x0D) sent, waiting for 0x06.
    case ownerPairingStatusSent
}

/// A V2C request waiting for its answer.
struct PendingRequest: Sendable {
    /// The message, sent again unchanged on a retry (but for `attempt`).
    var message: V2CRequest
    /// The expected answer type (an ErrorResponse is always taken too).
    var answer: CloudMessageType
    /// Retries left before the use case fails.
    var retriesLeft: Int
    /// When to send again; `nil` while it waits for the TBM to come online.
    var retryAt: Instant?
}

/// The module-initiated use cases that start over after a failure.
enum RestartGroup: Hashable, Sendable {
    /// PP-01 with SP-02.
    case vehicleIdentity
    /// PP-03.
    case verifierRequest
    /// OwnerPairingStatus reports.
    case ownerPairingReport
}

extension UseCase {
    /// The group that starts over after a failure (`nil`: PP-02, the cloud's to repeat).
    var restartGroup: RestartGroup? {
        switch self {
        case .pp01, .sp02: return .vehicleIdentity
        case .pp03: return .verifierRequest
        case .ownerPairing: return .ownerPairingReport
        case .pp02, .rp01, .rp02: return nil
        }
    }
}

extension ProvisioningMachine {
    /// Whether a PP-02 push may start now: idle, or SP-02/PP-01 waiting for an answer.
    var acceptsVerifierPush: Bool {
        guard let run else { return true }
        return suspended == nil && run.request != nil && (run.useCase == .pp01 || run.useCase == .sp02)
    }

    /// 16 fresh random bytes.
    mutating func newTransactionID() -> [UInt8] {
        (0..<2).flatMap { _ in random.next().bigEndianBytes }
    }

    /// Makes `payload` the outstanding request of the running use case and sends it if the
    /// TBM is online; `transactionID` `nil` takes a fresh one.
    mutating func request(_ payload: CloudPayload, answer: CloudMessageType, transactionID: [UInt8]? = nil,
                          now: Instant) {
        guard let useCase = run?.useCase else { return }
        let message = V2CRequest(useCase: useCase, transactionID: transactionID ?? newTransactionID(), payload: payload)
        let retries = configuration.maximumRetries
        run?.request = PendingRequest(message: message, answer: answer, retriesLeft: retries, retryAt: nil)
        if isTBMOnline { transmit(now: now) }
    }

    /// Sends the outstanding request (again) and arms its retry.
    mutating func transmit(now: Instant) {
        guard var request = run?.request else { return }
        output.append(.send(request.message))
        counters.messagesSent += 1
        if request.message.attempt > 0 { counters.retransmissions += 1 }
        log(.debug, "sent \(request.message)")
        request.message.attempt += 1
        request.retryAt = now + configuration.retryInterval
        run?.request = request
    }

    /// The retry deadline passed: send again, or fail with a timeout after the last retry.
    mutating func retryOrFail(now: Instant) {
        guard let request = run?.request else { return }
        if request.retriesLeft > 0 {
            run?.request?.retriesLeft -= 1
            log(.warning, "no answer to 0x\([request.message.type.rawValue].hexString), sending again")
            transmit(now: now)
        } else {
            run?.request = nil
            log(.warning, "no answer to 0x\([request.message.type.rawValue].hexString) after \(configuration.maximumRetries) retries")
            finish(.timeout, now: now)
        }
    }

    /// The TBM came online: resend what waits, end the waits after failures, start owed work.
    /// (The module logs the transition: it owns the TBM supervision.)
    mutating func tbmWentOnline(now: Instant) {
        guard !isTBMOnline else { return }
        isTBMOnline = true
        restartAt.removeAll()
        resendWaitingRequest(now: now)
        schedule(now: now)
    }

    /// The TBM went offline: stop sending (and retrying) until it returns.
    mutating func tbmWentOffline() {
        guard isTBMOnline else { return }
        isTBMOnline = false
        run?.request?.retryAt = nil
    }

    /// Sends a request that waits for the TBM, with a full retry budget.
    mutating func resendWaitingRequest(now: Instant) {
        guard isTBMOnline, let request = run?.request, request.retryAt == nil else { return }
        let retries = configuration.maximumRetries
        run?.request?.retriesLeft = retries
        transmit(now: now)
    }

    /// Starts the owed module-initiated use case of highest priority, if idle and online.
    mutating func schedule(now: Instant) {
        guard run == nil, isTBMOnline else { return }
        let startsPP01 = (!facts.drmUUIDPresent || !facts.vehicleCertificatePresent) && restartAt[.vehicleIdentity] == nil
        let startsPP03 = facts.pendingVerifierRequest != nil && restartAt[.verifierRequest] == nil
        let startsReport = !ownerPairingReports.isEmpty && restartAt[.ownerPairingReport] == nil
        guard startsPP01 || startsPP03 || startsReport else { return }
        guard facts.missingPreconditions.isEmpty else {
            if announcedWait != facts.missingPreconditions {
                announcedWait = facts.missingPreconditions
                log(.warning, "cloud use cases wait: \(facts.missingPreconditions.joined(separator: ", "))")
            }
            return
        }
        if startsReport {
            startOwnerPairingReport(now: now)
        } else if startsPP01 {
            startPP01(now: now)
        } else {
            startPP03(now: now)
        }
    }

    /// The preconditions of the module-initiated use cases changed; when they all hold, an
    /// owed use case starts (if the TBM is online).
    mutating func preconditionsChanged(_ missing: [String], now: Instant) {
        guard missing != facts.missingPreconditions else { return }
        facts.missingPreconditions = missing
        if missing.isEmpty {
            announcedWait = []
            log(.info, "cloud use cases may start: their preconditions hold")
            schedule(now: now)
        }
    }

    /// Ends the running use case: `.ok` completed, else failed with that error code.
    mutating func finish(_ result: CloudStatus, now: Instant) {
        guard let ended = run else { return }
        run = nil
        if result == .ok {
            counters.useCasesCompleted += 1
            lastErrorCode = 0
            log(.info, "\(ended.useCase) completed")
        } else {
            counters.useCasesFailed += 1
            lastErrorCode = result.rawValue
            if let group = ended.useCase.restartGroup { restartAt[group] = now + configuration.restartDelay }
            if result == .timeout, let report = ended.ownerPairingReport { ownerPairingReports.insert(report, at: 0) }
            log(.warning, "\(ended.useCase) failed with error \(result.rawValue) (\(result))")
        }
        output.append(.useCaseEnded(ended.useCase, result))
        resumeOrSchedule(now: now)
    }

    /// Ends the running use case without a result (superseded by a routine or a push).
    mutating func abort(because reason: String, now: Instant) {
        guard let aborted = run else { return }
        run = nil
        log(.warning, "\(aborted.useCase) abandoned: \(reason)")
    }

    /// After a use case ended: resume the one a push suspended, or start owed work.
    mutating func resumeOrSchedule(now: Instant) {
        if let resumed = suspended {
            suspended = nil
            run = resumed
            log(.info, "\(resumed.useCase) resumed")
            publishStatus()
            resendWaitingRequest(now: now)
        } else {
            publishStatus()
            schedule(now: now)
        }
    }
}
