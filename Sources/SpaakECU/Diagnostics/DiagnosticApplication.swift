import CloudProtocol
import Logging
import SecureStore
import SpaakCore
import UDS

/// The plant's application software behind the UDS server (the SWCs behind Dcm): the
/// values of the DIDs (ICD 5.2), the plant writes and routines 0xD200–0xD202 (RP-01,
/// RP-02, the plant lock: `DiagnosticApplication+Plant.swift`), and the persisted
/// security-access attempt count.
///
/// Answers that need only the cached store come at once. The KeyM checks, key generation
/// and commits are `StoreJob`s (`PlantStoreWork`) run by the module's `StoreJobs`: NRC 0x78
/// first when a job is not done at once, the final answer from `handleTimeout(now:)`. Key
/// generation with a simulated secure-element latency first waits for its deadline.
final class DiagnosticApplication {
    let configuration: ECUConfiguration
    let storeView: StoreView
    let jobs: StoreJobs
    let logger: Logger
    /// Latest result of the plant routines that have one (`31 03`); 0xD202 answers its check.
    var routineResults: [PlantRoutine: RoutineResult] = [:]
    /// RP-02 key generation waiting for the simulated secure element.
    var keyGeneration: (deadline: Instant, token: RequestToken)?
    /// Plant jobs submitted and not answered yet, in submission order.
    var jobsInFlight: [(id: StoreJobID, token: RequestToken, routine: PlantRoutine?)] = []

    init(configuration: ECUConfiguration, storeView: StoreView, jobs: StoreJobs, logger: Logger) {
        self.configuration = configuration
        self.storeView = storeView
        self.jobs = jobs
        self.logger = logger
    }

    /// When the simulated secure element is done.
    var nextDeadline: Instant? { keyGeneration?.deadline }

    /// Starts key generation once the secure element is done, and returns the answers of
    /// the plant jobs that finished.
    func handleTimeout(now: Instant) -> [(RequestToken, ApplicationResult)] {
        if let waiting = keyGeneration, waiting.deadline <= now {
            keyGeneration = nil
            submit(storeView.work.generateECUIdentity(serial: configuration.serial), token: waiting.token,
                   routine: .generateECUIdentityKeyPair)
        }
        var answers: [(RequestToken, ApplicationResult)] = []
        for job in jobsInFlight {
            guard let product = jobs.take(job.id) else { continue }
            jobsInFlight.removeAll { $0.id == job.id }
            answers.append((job.token, answer(product, routine: job.routine)))
        }
        return answers
    }

    // MARK: - Reads (0x22)

    /// The value of a DID; `nil` when it has none (absent or damaged).
    func value(of did: DataIdentifier, status: ModuleStatus) -> [UInt8]? {
        switch did {
        case .ecuSerialNumber: return Array(configuration.serial.utf8)
        case .softwareVersion: return Array(configuration.softwareVersion.utf8)
        case .vin: return storeView.vin
        case .provisioningStatus: return status.provisioningStatusRecord
        case .spake2VerifierMetadata:
            guard let bytes = storeView.readRecord(.spake2Verifier),
                  let record = try? SpakeVerifierRecord(bytes: bytes) else { return nil }
            return record.metadata
        case .ecuIdentityCSR: return storeView.readRecord(.ecuIdentityCSR)
        case .ecuIdentityCertificate: return storeView.readRecord(.ecuIdentityCertificate)
        case .rootJ, .rootJ1, .rootJPhysicalKey, .rootZ1, .rootZZ2:
            return storeView.readRecord(Self.rootSlots[did]!.record)
        case .vehicleIdentityCertificate: return storeView.readRecord(.vehicleIdentityCertificate)
        case .drmUUID: return storeView.readRecord(.drmUUID)
        case .ownerPairingStatus, .ownerEndpointPublicKey, .canBusDiagnostics:
            return nil  // owner pairing's and the shell's (`SpaakModule+UDS`)
        }
    }

    // MARK: - Security access

    /// The wrong-key count of security access kept in the store (a damaged one counts as
    /// the maximum: the delay runs from start).
    var persistedSecurityAttempts: Int {
        do {
            return Int(clamping: try storeView.store.readCounter(.securityAccessAttempts) ?? 0)
        } catch {
            logger.error("secure store: \(error); security access starts with the maximum delay")
            return Int.max
        }
    }

    /// Keeps the wrong-key count (ICD 5.3: it survives resets and restarts).
    func persistSecurityAttempts(_ count: Int) {
        do {
            try storeView.store.writeCounter(.securityAccessAttempts, UInt64(max(0, count)))
        } catch {
            logger.error("secure store: cannot keep the security access attempt count: \(error)")
        }
    }

    // MARK: - Store jobs

    /// Runs `job` for the UDS request `token`: its answer when it finished at once (the
    /// inline executor), else NRC 0x78 now and the final answer later from `handleTimeout`.
    func run(_ job: StoreJob, token: RequestToken, routine: PlantRoutine? = nil) -> ApplicationResult {
        let id = submit(job, token: token, routine: routine)
        if let product = jobs.take(id) {
            jobsInFlight.removeAll { $0.id == id }
            return answer(product, routine: routine)
        }
        logger.debug("\(job.name) runs off the event loop: NRC 0x78 until it is done")
        return .negative(.responsePending)
    }

    @discardableResult
    private func submit(_ job: StoreJob, token: RequestToken, routine: PlantRoutine?) -> StoreJobID {
        let id = jobs.submit(job)
        jobsInFlight.append((id, token, routine))
        return id
    }

    /// The UDS answer to a finished plant job; a routine's result is recorded.
    private func answer(_ product: StoreJobProduct, routine: PlantRoutine?) -> ApplicationResult {
        guard case .plant(let result) = product else {
            logger.error("a plant request got another component's job product")
            return .negative(.generalProgrammingFailure)
        }
        switch (result, routine) {
        case (.success, nil): return .positive([])
        case (.success, let routine?):
            routineResults[routine] = .done
            return .positive([0x00])
        case (.failure(let error), let routine):
            let code = NegativeResponseCode(error)
            if let routine { routineResults[routine] = .failed(code.rawValue) }
            return .negative(code)
        }
    }
}
