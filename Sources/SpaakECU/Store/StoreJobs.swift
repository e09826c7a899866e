import Logging

/// The module's side of its `StoreJobExecutor`: the diagnostic application (plant work)
/// and the provisioning glue (the cloud use cases' tasks) submit `StoreJob`s here and take
/// each product back by its id. A finished job's re-read of the store is adopted by the
/// `StoreView` as the completion comes in, in the order the jobs finished.
///
/// A completion is an input like a frame: it is collected when the owner asks (right after
/// submitting, so the inline executor answers in the same turn, and in every
/// `handleTimeout`, which `spaak-ecu` calls when the threaded executor's wake pipe is
/// readable), and applied with the `now` of that turn.
final class StoreJobs {
    private let executor: any StoreJobExecutor
    private let storeView: StoreView
    private let logger: Logger
    /// Jobs submitted and not yet collected, with `StoreView.generation` at submission.
    private var inFlight: [StoreJobID: Int] = [:]
    /// Products collected and not yet taken by their owner.
    private var finished: [StoreJobID: StoreJobProduct] = [:]

    init(executor: any StoreJobExecutor, storeView: StoreView, logger: Logger) {
        self.executor = executor
        self.storeView = storeView
        self.logger = logger
    }

    /// Hands `job` to the executor.
    func submit(_ job: StoreJob) -> StoreJobID {
        let generation = storeView.generation
        let id = executor.submit(job)
        inFlight[id] = generation
        return id
    }

    /// The product of job `id` if it has finished (`nil`: still running).
    func take(_ id: StoreJobID) -> StoreJobProduct? {
        collect()
        return finished.removeValue(forKey: id)
    }

    private func collect() {
        for completion in executor.takeCompleted() {
            guard let generation = inFlight.removeValue(forKey: completion.id) else {
                logger.warning("\(completion.id) finished but is not this module's: ignored")
                continue
            }
            storeView.adopt(completion.outcome.snapshot, readAt: generation)
            finished[completion.id] = completion.outcome.product
        }
    }
}
