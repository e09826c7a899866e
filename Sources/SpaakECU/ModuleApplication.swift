import CloudProtocol
import E2E
import Foundation
import KeyM
import Logging
import Provisioning
import SecureStore
import SpaakCore
import UDS

/// The module's application software behind the UDS server (the SWCs behind Dcm): the
/// values of the DIDs, the routines, and the provisioning state of `SPAAK_Status`.
///
/// Every store access goes through `store`; every check of a certificate through KeyM at
/// the wall-clock time `wallClock()`. Work that can take longer than P2 runs later: the
/// plant's certificate and VIN writes, key generation and the plant lock are `StoreJob`s
/// run off the event loop by `storeJobs` (`execute` answers 0x78 while they run); key
/// generation with a simulated secure-element latency first waits for its deadline
/// (`execute` answers `nil`). Their results come out of `handleTimeout(now:)`.
struct ModuleApplication {
    let configuration: ECUConfiguration
    let store: any SecureStore
    let wallClock: @Sendable () -> Date
    var logger: Logger
    /// Cached view of the store (see `ProvisioningSnapshot`).
    var snapshot = ProvisioningSnapshot()
    /// Deferred routine work, by deadline.
    var deferred: [DeferredWork] = []
    /// Runs the plant's slow store work off the event loop (see `ModuleApplication+StoreJobs`).
    var storeJobs: any StoreJobExecutor = InlineStoreJobExecutor()
    /// Store jobs submitted and not yet collected.
    var storeJobsInFlight: [StoreJobID: StoreJobInFlight] = [:]
    /// Answers of finished store jobs not yet handed to the UDS server.
    var finishedWork: [(RequestToken, ApplicationResult)] = []
    /// Counts the re-reads of the store (see `StoreJobInFlight.generation`).
    var snapshotGeneration = 0
    /// Latest result of each routine (`31 03 RID`): status (0 done, 1 running, 2 failed), error.
    var routineResults: [UInt16: [UInt8]] = [:]
    /// The cloud use cases (SP-02, PP-01, PP-02, PP-03).
    var provisioningMachine: ProvisioningMachine
    /// `SPAAK_Status` bytes 3 to 6 as the machine last published them.
    var provisioningStatus = ProvisioningStatus()
    /// Signed V2C messages waiting for the ISO-TP channel to 0x6A0.
    var outgoingV2C: [[UInt8]] = []
    /// C2V messages discarded by the checks of ICD 7.4.
    var c2vRejected = 0
    /// Results of store work for the provisioning machine, delivered on the next turn.
    var pendingTaskResults: [ProvisioningTaskResult] = []
    /// Routines whose result (`31 03`) waits for the end of a use case.
    var routineWaits: [UInt16: UseCase] = [:]
    /// Store writes the use cases owe (they failed): retried every loop turn, in order.
    var owedCommits: [OwedCommit] = []
    /// When the owed writes are tried next.
    var owedRetryAt: Instant?
    /// Machine actions held until nothing is owed any more.
    var heldActions: [ProvisioningAction] = []
    /// Routines answered 0x72 because their store write is owed.
    var owedRoutines: Set<UInt16> = []
    /// Damaged entries already logged.
    var loggedDamage: Set<String> = []

    /// One piece of work waiting for the simulated secure element.
    struct DeferredWork {
        var deadline: Instant
        var token: RequestToken
        var routine: UInt16
    }

    init(configuration: ECUConfiguration, store: any SecureStore, wallClock: @escaping @Sendable () -> Date, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.wallClock = wallClock
        self.logger = logger
        let snapshot = ProvisioningSnapshot(store: store, now: wallClock())
        provisioningMachine = ProvisioningMachine(facts: Self.provisioningFacts(snapshot: snapshot))
        provisioningStatus = provisioningMachine.status
        self.snapshot = snapshot
        logNewDamage()
    }

    /// Re-reads the store after a change (a newly damaged entry is logged once).
    mutating func refresh() {
        snapshot = ProvisioningSnapshot(store: store, now: wallClock())
        snapshotGeneration &+= 1
        logNewDamage()
    }

    var nextDeadline: Instant? {
        let due: Instant? = pendingTaskResults.isEmpty && finishedWork.isEmpty ? nil : .zero
        return deferred.map(\.deadline).min().earliest(provisioningMachine.nextDeadline).earliest(due)
            .earliest(owedRetryAt)
    }

    /// Results of deferred work that is due.
    mutating func handleTimeout(now: Instant) -> [(RequestToken, ApplicationResult)] {
        retryOwedCommits(now: now)
        updateCloudPreconditions(now: now)
        deliverTaskResults(now: now)
        if let deadline = provisioningMachine.nextDeadline, deadline <= now {
            run(provisioningMachine.handleTimeout(now: now), now: now)
        }
        let due = deferred.filter { $0.deadline <= now }
        deferred.removeAll { $0.deadline <= now }
        return finishStoreJobs(startingDeferred: due)
    }

    /// The wrong-key count of security access kept in the store (0 if absent or damaged).
    var persistedSecurityAttempts: Int {
        do {
            return Int(clamping: try store.readCounter(.securityAccessAttempts) ?? 0)
        } catch {
            logger.error("secure store: \(error); security access starts with the maximum delay")
            return Int.max
        }
    }

    mutating func persistSecurityAttempts(_ count: Int) {
        do {
            try store.writeCounter(.securityAccessAttempts, UInt64(max(0, count)))
        } catch {
            logger.error("secure store: cannot keep the security access attempt count: \(error)")
        }
    }

    /// Executes one validated request; `nil` when the result comes later.
    mutating func execute(_ request: ApplicationRequest, now: Instant, tbmOnline: Bool) -> ApplicationResult? {
        switch request.operation {
        case .readData(let identifiers):
            var records: [[UInt8]] = []
            for did in identifiers {
                switch read(did, tbmOnline: tbmOnline) {
                case .success(let value): records.append(value)
                case .failure(let nrc): return .negative(nrc)
                }
            }
            return .dataRecords(records)
        case .writeData(let did, let data):
            return write(did, data, token: request.token)
        case .routineControl(let type, let rid, let options):
            let owedBefore = owedWrites
            return durableAnswer(routine(type, rid, options: options, token: request.token, now: now), type, routine: rid,
                                 owedBefore: owedBefore)
        }
    }

    /// The value of a DID, or the NRC that answers its read (0x22: no value yet).
    func read(_ did: UInt16, tbmOnline: Bool) -> Result<[UInt8], NegativeResponseCode> {
        switch did {
        case 0xF18C: return .success(Array(configuration.serial.utf8))
        case 0xF195: return .success(Array(configuration.softwareVersion.utf8))
        case 0xF190:
            return storedVIN.map { .success($0) } ?? .failure(.conditionsNotCorrect)
        case 0xD120:
            var flags = snapshot.flags
            if tbmOnline { flags.insert(.tbmOnline) }
            let conditions = moduleConditions
            return .success([flags.rawValue] + snapshot.statuses.map(\.rawValue) + (conditions.isEmpty ? [] : [conditions.rawValue]))
        case 0xD123:
            guard let bytes = readRecord(.spake2Verifier), let record = try? SpakeVerifierRecord(bytes: bytes) else {
                return .failure(.conditionsNotCorrect)
            }
            return .success(record.metadata)
        default:
            guard let record = Self.readableRecords[did], let value = readRecord(record) else {
                return .failure(.conditionsNotCorrect)
            }
            return .success(value)
        }
    }

    static let readableRecords: [UInt16: SecureStoreRecord] = [
        0xD100: .ecuIdentityCSR, 0xD101: .ecuIdentityCertificate,
        0xD110: .rootJ, 0xD111: .rootJ1, 0xD112: .rootJPhysicalKey, 0xD113: .rootZ1, 0xD114: .rootZZ2,
        0xD121: .vehicleIdentityCertificate, 0xD122: .drmUUID,
    ]

    /// A record's value; `nil` when absent or damaged (damage is logged, never used).
    func readRecord(_ record: SecureStoreRecord) -> [UInt8]? {
        do {
            return try store.read(record)
        } catch {
            logger.error("secure store: \(error)")
            return nil
        }
    }

    /// The module conditions byte of D120 (appended only when not zero).
    var moduleConditions: ModuleConditions {
        var conditions = snapshot.conditions
        if !owedCommits.isEmpty { conditions.insert(.storeWriteOwed) }
        if !snapshot.missingCloudPreconditions.isEmpty { conditions.insert(.cloudUseCasesWait) }
        return conditions
    }

    /// `SPAAK_Status` signals from the cached state (the module adds the TBM bit).
    var statusSignals: SpaakStatusSignals {
        var signals = SpaakStatusSignals()
        signals.provisioningFlags = snapshot.flags
        signals.activeUseCase = provisioningStatus.activeUseCase
        signals.useCaseStep = provisioningStatus.step
        signals.lastErrorCode = provisioningStatus.lastErrorCode
        signals.failedPairingAttempts = provisioningStatus.failedPairingAttempts
        return signals
    }
}
