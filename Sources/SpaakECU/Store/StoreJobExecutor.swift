import OwnerPairing
import Provisioning
import Synchronization

/// The number of a job handed to a `StoreJobExecutor`, unique within that executor.
public struct StoreJobID: Hashable, Sendable, CustomStringConvertible {
    /// The executor numbers its jobs 1, 2, ...
    public let value: UInt64
    /// Wraps a number.
    public init(value: UInt64) { self.value = value }
    public var description: String { "store job \(value)" }
}

/// Long secure-store work of the module, as an asynchronous job in the manner of an
/// AUTOSAR NvM/Csm job: only store and KeyM work (checks, commit, re-reading the store),
/// no module state. It runs wherever the executor runs it and returns a `StoreJobOutcome`
/// that the module applies on its own thread.
public struct StoreJob: Sendable {
    /// What the job does, for logs.
    public let name: String
    let work: @Sendable () -> StoreJobOutcome

    init(name: String, work: @escaping @Sendable () -> StoreJobOutcome) {
        self.name = name
        self.work = work
    }

    /// Does the work (on the executor's thread).
    public func run() -> StoreJobOutcome { work() }
}

/// What a finished `StoreJob` hands back to the module: its product and the store as it
/// is after the job.
public struct StoreJobOutcome: Sendable {
    /// What the work produced, for the component that submitted it.
    let product: StoreJobProduct
    /// The store re-read after the job (`nil`: the job changed nothing).
    let snapshot: ProvisioningSnapshot?
}

/// The product of a job, by the component that submitted it.
enum StoreJobProduct: Sendable {
    /// Plant work behind a UDS request (`PlantStoreWork`).
    case plant(StoreWorkResult)
    /// A task of the provisioning machine (`ProvisioningStoreWork`): its next input.
    case provisioning(ProvisioningTaskResult)
    /// A task of owner pairing (`PairingStoreWork`): its next input.
    case ownerPairing(OwnerPairingTaskResult)
}

/// A finished job and its outcome.
public struct StoreJobCompletion: Sendable {
    /// The id `submit` returned.
    public let id: StoreJobID
    /// What the job returned.
    public let outcome: StoreJobOutcome

    /// Pairs a job id and its outcome.
    public init(id: StoreJobID, outcome: StoreJobOutcome) {
        self.id = id
        self.outcome = outcome
    }
}

/// Runs the module's `StoreJob`s off the event-loop thread (or, for tests, when told).
///
/// The module (single-threaded) calls `submit`, and `takeCompleted` right after submitting
/// and in every `handleTimeout`; the shell wakes the module when a job is done (for
/// `ThreadedStoreJobExecutor`: its `wakeDescriptor` becomes readable). Both methods may
/// be called from the module's thread while jobs run.
public protocol StoreJobExecutor: AnyObject, Sendable {
    /// Starts `job`; returns its id.
    func submit(_ job: StoreJob) -> StoreJobID
    /// The jobs finished since the last call, in the order they finished.
    func takeCompleted() -> [StoreJobCompletion]
}

/// Runs every job at once, in `submit`, on the caller's thread: the module then answers
/// in the same turn (no NRC 0x78). The default of `SpaakModule`, deterministic for tests.
public final class InlineStoreJobExecutor: StoreJobExecutor {
    private let state = Mutex<(next: UInt64, done: [StoreJobCompletion])>((1, []))

    /// Creates an executor without jobs.
    public init() {}

    public func submit(_ job: StoreJob) -> StoreJobID {
        let outcome = job.run()
        return state.withLock { state in
            let id = StoreJobID(value: state.next)
            state.next += 1
            state.done.append(StoreJobCompletion(id: id, outcome: outcome))
            return id
        }
    }

    public func takeCompleted() -> [StoreJobCompletion] {
        state.withLock { state in
            defer { state.done.removeAll() }
            return state.done
        }
    }
}
