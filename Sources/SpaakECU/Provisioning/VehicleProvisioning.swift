import CloudProtocol
import Logging
import Provisioning
import SecureStore
import SpaakCore

/// The cloud use cases of the module (SP-02, PP-01, PP-02, PP-03; ICD 7.6): the glue around
/// the pure `ProvisioningMachine`. It feeds the machine its inputs and carries out its
/// actions: V2C requests go to the `CloudLink`; tasks (store and KeyM work) run as
/// `StoreJob`s, whose completion is the machine's next input; store changes the machine
/// counts on are committed at once and, when that fails, *owed*: retried every loop turn,
/// with every later action held behind them. The routines that start cloud work (0xD203,
/// 0xF010, 0xF011) are in `VehicleProvisioning+Routines.swift`.
final class VehicleProvisioning {
    let storeView: StoreView
    private let jobs: StoreJobs
    private let cloudLink: CloudLink
    let logger: Logger
    /// The use cases.
    private(set) var machine: ProvisioningMachine
    /// What `SPAAK_Status` shows: the status of the last `.statusChanged` carried out (a
    /// held one waits, like every action behind an owed write).
    private(set) var shownStatus: ProvisioningStatus
    /// The tasks the machine waits for, in the order it asked for them (one at a time, as
    /// the machine works today; a second one waits its turn, it is never lost).
    private var tasks: [StoreJobID] = []
    /// Store writes the use cases owe (they failed): retried every loop turn, in order.
    private var owedCommits: [OwedCommit] = []
    /// When the owed writes are tried next.
    private var owedRetryAt: Instant?
    /// Machine actions held until nothing is owed any more.
    private var heldActions: [ProvisioningAction] = []
    /// Latest result of each routine (`31 03`).
    var routineResults: [ProvisioningRoutine: RoutineResult] = [:]
    /// Routines whose result waits for the end of a use case.
    var routineWaits: [ProvisioningRoutine: UseCase] = [:]
    /// Routines answered 0x72 because their store write is owed.
    var owedRoutines: Set<ProvisioningRoutine> = []
    /// Where the machine's owner-pairing actions go (0x0E accepted, owner key deleted,
    /// verifier changed): the module wires it to `VehicleOwnerPairing`.
    var ownerPairingEvents: ((OwnerPairingEvent, Instant) -> Void)?

    /// How soon a failed store write that a use case owes is tried again (every loop turn:
    /// the cyclic `SPAAK_Status` turns the loop every 100 ms anyway).
    static let owedRetryInterval: Duration = .milliseconds(100)

    /// Builds the machine from what the store holds (`ProvisioningSnapshot.provisioningFacts`).
    init(storeView: StoreView, jobs: StoreJobs, cloudLink: CloudLink, logger: Logger) {
        self.storeView = storeView
        self.jobs = jobs
        self.cloudLink = cloudLink
        self.logger = logger
        machine = ProvisioningMachine(facts: storeView.snapshot.provisioningFacts)
        shownStatus = machine.status
    }

    /// What the machine takes now (the `CloudLink` verifies C2V messages against it).
    var expectation: C2VExpectation { machine.expectation }

    /// A retry, the end of a wait after a failure, or the next try of an owed write.
    var nextDeadline: Instant? { machine.nextDeadline.earliest(owedRetryAt) }

    /// Whether a store write the use cases owe is not stored yet (D120 condition bit 1).
    var owesStoreWrite: Bool { !owedCommits.isEmpty }

    /// Feeds one input to the machine and carries out everything it asks for.
    func handle(_ input: ProvisioningInput, now: Instant) {
        run(machine.handle(input, now: now), now: now)
    }

    /// One loop turn: owed writes, changed preconditions, a finished task, the machine's timers.
    func handleTimeout(now: Instant) {
        retryOwedCommits(now: now)
        let missing = storeView.snapshot.missingCloudPreconditions
        if missing != machine.facts.missingPreconditions { handle(.preconditionsChanged(missing: missing), now: now) }
        collectTask(now: now)
        if let deadline = machine.nextDeadline, deadline <= now { run(machine.handleTimeout(now: now), now: now) }
    }

    /// Carries out the machine's actions in order. While a store write the machine asked for
    /// is owed (it failed), every later action but a log line is held, in order: the module
    /// neither sends, nor does store work, nor reports a use case as ended before what it
    /// owes is durable.
    private func run(_ actions: [ProvisioningAction], now: Instant) {
        for action in actions {
            if !owedCommits.isEmpty {
                if case .log = action {} else {
                    heldActions.append(action)
                    continue
                }
            }
            switch action {
            case .send(let request): cloudLink.send(request)
            case .perform(let work):
                tasks.append(jobs.submit(storeView.work.job(for: work, installed: storeView.snapshot.installed)))
            case .persist(let operations): persist(operations, now: now)
            case .statusChanged(let status): shownStatus = status
            case .useCaseEnded(let useCase, let status): useCaseEnded(useCase, status)
            case .log(.debug, let text): logger.debug("\(text)")
            case .log(.info, let text): logger.info("\(text)")
            case .log(.warning, let text): logger.warning("\(text)")
            case .ownerPairingModeRequested(let transactionID):
                ownerPairingEvents?(.modeRequested(transactionID: transactionID), now)
            case .ownerKeyDeleted(let reason): ownerPairingEvents?(.ownerKeyDeleted(reason: reason), now)
            case .verifierChanged: ownerPairingEvents?(.verifierChanged, now)
            }
        }
        collectTask(now: now)
    }

    /// Hands a finished task's result to the machine, with this turn's `now`: with the
    /// threaded executor the turn after the work (its fsyncs) is done, so the timers of the
    /// next step start after it, never in the past.
    private func collectTask(now: Instant) {
        while let id = tasks.first, let product = jobs.take(id) {
            tasks.removeFirst()
            guard case .provisioning(let result) = product else {
                logger.error("a provisioning task got another component's job product")
                continue
            }
            handle(.taskCompleted(result), now: now)
        }
    }

    /// A store change the machine counts on (verifier deleted, PP-03 owed, failed pairings):
    /// when it fails it is owed, retried every loop turn and shown in D120, never dropped.
    private func persist(_ operations: [ProvisioningStoreOperation], now: Instant) {
        let what = operations.map { "\($0)" }.joined(separator: ", ")
        var owed = OwedCommit(operations: operations.flatMap(Self.storeOperations), what: what)
        do {
            try storeView.store.commit(owed.operations)
            logger.info("stored \(what)")
        } catch {
            logger.error("secure store: writing \(what) failed: \(error); owed: retried every \(Self.owedRetryInterval), cloud work waits for it")
            owed.lastError = "\(error)"
            owedCommits.append(owed)
            owedRetryAt = now + Self.owedRetryInterval
        }
        storeView.refresh()
    }

    /// Tries the owed store writes again, in order; once none is owed, the held actions run.
    private func retryOwedCommits(now: Instant) {
        guard !owedCommits.isEmpty, let due = owedRetryAt, due <= now else { return }
        while let owed = owedCommits.first {
            do {
                try storeView.store.commit(owed.operations)
            } catch {
                if owedCommits[0].lastError != "\(error)" {
                    owedCommits[0].lastError = "\(error)"
                    logger.error("secure store: owed \(owed.what) still not stored: \(error)")
                }
                owedRetryAt = now + Self.owedRetryInterval
                return
            }
            owedCommits.removeFirst()
            logger.info("stored \(owed.what) (was owed)")
        }
        owedRetryAt = nil
        storeView.refresh()
        for routine in owedRoutines where routineWaits[routine] == nil { routineResults[routine] = .done }
        owedRoutines = []
        let held = heldActions
        heldActions = []
        run(held, now: now)
    }

    /// Store writes of the machine that are not durable yet: owed, or held behind one.
    var owedWrites: Int {
        owedCommits.count + heldActions.filter { if case .persist = $0 { return true } else { return false } }.count
    }

    /// The routines waiting for `useCase` get its result (the machine logs the end).
    private func useCaseEnded(_ useCase: UseCase, _ status: CloudStatus) {
        let result: RoutineResult = status == .ok ? .done : .failed(status.rawValue)
        for (routine, waiting) in routineWaits where waiting == useCase {
            routineResults[routine] = result
            routineWaits[routine] = nil
        }
    }

    static func storeOperations(_ operation: ProvisioningStoreOperation) -> [SecureStoreOperation] {
        switch operation {
        case .deleteVehicleIdentity:
            return [.delete(.vehicleIdentityCertificate), .deleteKey(.vehicleIdentity), .deleteKey(.vehicleIdentityPending),
                    .delete(.subjectID)]
        case .deleteVerifier:
            return [.delete(.spake2Verifier)]
        case .setFailedPairingAttempts(let count):
            return [.write(.ownerPairingFailures, UInt64(count).bigEndianBytes, replacingCorrupt: true)]
        case .setPendingVerifierRequest(let reason?):
            return [.write(StoreReadings.pendingVerifierRecord, [reason.rawValue], replacingCorrupt: true)]
        case .setPendingVerifierRequest(nil):
            return [.delete(StoreReadings.pendingVerifierRecord)]
        case .deleteOwnerKey:
            return [.delete(.ownerKey)]
        }
    }
}

/// What the cloud use cases tell owner pairing.
enum OwnerPairingEvent {
    /// An accepted OwnerPairingModeRequest 0x0E.
    case modeRequested(transactionID: [UInt8])
    /// The owner key was deleted (0x0C, 0xD203).
    case ownerKeyDeleted(reason: String)
    /// The verifier was replaced or deleted.
    case verifierChanged
}

/// A store commit a use case owes: it failed and is retried until it succeeds.
struct OwedCommit {
    var operations: [SecureStoreOperation]
    var what: String
    var lastError = ""
}
