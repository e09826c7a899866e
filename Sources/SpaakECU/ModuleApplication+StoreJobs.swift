import SecureStore
import SpaakCore
import UDS

/// The module's side of `StoreJob`s: the plant's slow UDS work (certificate and VIN writes,
/// key generation, the plant lock) goes to the `StoreJobExecutor`; the event loop stays free
/// (the cyclic frame keeps its grid, other requests get 0x21). When the outcome comes back
/// the module applies it on its own thread: the re-read store, the routine result, the
/// final UDS answer.
extension ModuleApplication {
    /// A job handed to the executor and not yet collected.
    struct StoreJobInFlight {
        /// The UDS request the outcome answers.
        let token: RequestToken
        /// What the job does, for logs.
        let name: String
        /// `snapshotGeneration` at submission: a job's re-read store is only adopted if the
        /// module did not re-read the store meanwhile (else it re-reads it once more).
        let generation: Int
    }

    /// What the job half of the plant work needs, copied out of the module.
    var plantStoreWork: PlantStoreWork {
        PlantStoreWork(store: store, wallClock: wallClock, logger: logger, serial: configuration.serial)
    }

    /// Runs `job` for the UDS request `token`. Its result when the executor finished it at
    /// once (the inline executor), else NRC 0x78 now and the final answer later from
    /// `handleTimeout`.
    mutating func runStoreJob(_ job: StoreJob, token: RequestToken) -> ApplicationResult {
        submitStoreJob(job, token: token)
        collectStoreJobs()
        if let index = finishedWork.firstIndex(where: { $0.0 == token }) { return finishedWork.remove(at: index).1 }
        logger.debug("\(job.name) runs off the event loop: NRC 0x78 until it is done")
        return .negative(.responsePending)
    }

    /// Hands `job` to the executor; its outcome answers `token`.
    mutating func submitStoreJob(_ job: StoreJob, token: RequestToken) {
        let id = storeJobs.submit(job)
        storeJobsInFlight[id] = StoreJobInFlight(token: token, name: job.name, generation: snapshotGeneration)
    }

    /// Applies the outcomes of finished jobs; their answers wait in `finishedWork`.
    mutating func collectStoreJobs() {
        for completion in storeJobs.takeCompleted() {
            guard let job = storeJobsInFlight.removeValue(forKey: completion.id) else {
                logger.warning("\(completion.id) finished but is not this module's: ignored")
                continue
            }
            let outcome = completion.outcome
            if let routine = outcome.routineResult { routineResults[routine.routine] = routine.status }
            if let fresh = outcome.snapshot, job.generation == snapshotGeneration {
                snapshot = fresh
                snapshotGeneration &+= 1
                logNewDamage()
            } else {
                refresh()
            }
            finishedWork.append((job.token, outcome.result))
        }
    }

    /// Starts the deferred work that is `due` as jobs, collects finished ones, and returns
    /// every answer that is ready.
    mutating func finishStoreJobs(startingDeferred due: [DeferredWork]) -> [(RequestToken, ApplicationResult)] {
        for work in due {
            guard work.routine == 0xD200 else {
                finishedWork.append((work.token, .negative(.requestOutOfRange)))
                continue
            }
            submitStoreJob(plantStoreWork.generateECUIdentity(), token: work.token)
        }
        collectStoreJobs()
        defer { finishedWork.removeAll() }
        return finishedWork
    }

    /// Whether a store job is running (for logs and tests).
    var hasStoreJobInFlight: Bool { !storeJobsInFlight.isEmpty }
}
