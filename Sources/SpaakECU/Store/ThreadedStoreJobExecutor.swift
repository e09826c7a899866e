import Dispatch
import EventLoop
import Glibc
import Synchronization

/// Runs `StoreJob`s one after the other on one worker thread, so that fsync, key
/// generation and KeyM checks never hold up the event loop (the cyclic `SPAAK_Status`
/// keeps its grid, the UDS server keeps answering 0x21 and repeating 0x78).
///
/// After each job the worker notifies a `WakePipe` whose read end is
/// `wakeDescriptor`: the event loop watches it, calls `acknowledgeWake()` when it is
/// readable, then lets the module collect the outcome (`SpaakModule.handleTimeout`).
///
/// ```swift
/// let jobs = try ThreadedStoreJobExecutor()
/// loop.watch(jobs.wakeDescriptor)
/// // in the handler: case .readable(jobs.wakeDescriptor): jobs.acknowledgeWake(); module.handleTimeout(now:)
/// ```
public final class ThreadedStoreJobExecutor: StoreJobExecutor {
    /// Readable when finished jobs wait for `takeCompleted` (the read end of a pipe).
    public var wakeDescriptor: Int32 { wake.descriptor }
    private let wake: WakePipe
    private let shared = Shared()

    /// What the worker thread and the loop thread share.
    private final class Shared: Sendable {
        struct State {
            var next: UInt64 = 1
            var queue: [(StoreJobID, StoreJob)] = []
            var done: [StoreJobCompletion] = []
            var stopping = false
        }
        let state = Mutex(State())
        /// One signal per queued job, and one to stop.
        let work = DispatchSemaphore(value: 0)
        /// Signalled when the worker has ended.
        let finished = DispatchSemaphore(value: 0)
    }

    /// Starts the worker thread; fails when no pipe can be made.
    public init() throws {
        do { wake = try WakePipe() } catch { throw ThreadedStoreJobExecutorError.pipe(errno: error.errno) }
        let body = WorkerStart { [shared, wake] in
            Self.workerLoop(shared, wake: wake)
            shared.finished.signal()
        }
        // A plain POSIX thread: Foundation's Thread is not in FoundationEssentials, the only
        // part of Foundation that spaak-ecu links (its resident memory).
        let context = Unmanaged.passRetained(body).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<WorkerStart>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<WorkerStart>.fromOpaque(context).release()
            shared.state.withLock { $0.stopping = true }    // deinit's close() has no worker to wait for
            throw ThreadedStoreJobExecutorError.thread(errno: started)
        }
        pthread_detach(thread)
    }

    /// The worker thread's name (`ps -L`, `top -H`; at most 15 bytes on Linux).
    static let workerName = "spaak-storejobs"

    /// Names the calling thread through /proc/thread-self/comm (Glibc's Swift module does not
    /// export `pthread_setname_np`); a failure leaves the inherited name.
    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = Array(name.utf8.prefix(15)).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        Glibc.close(fd)
    }

    /// The worker thread's body, handed to `pthread_create` as its context.
    private final class WorkerStart: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    deinit { close() }

    public func submit(_ job: StoreJob) -> StoreJobID {
        let id = shared.state.withLock { state in
            let id = StoreJobID(value: state.next)
            state.next += 1
            state.queue.append((id, job))
            return id
        }
        shared.work.signal()
        return id
    }

    public func takeCompleted() -> [StoreJobCompletion] {
        shared.state.withLock { state in
            defer { state.done.removeAll() }
            return state.done
        }
    }

    /// Empties the wake pipe (call it when `wakeDescriptor` is readable).
    public func acknowledgeWake() {
        wake.drain()
    }

    /// Lets the running and queued jobs finish and stops the worker (the pipe closes with the executor).
    /// Unwatch `wakeDescriptor` first.
    public func close() {
        let first = shared.state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        shared.work.signal()
        shared.finished.wait()
    }

    /// The worker's nice value: background work, like an NvM job in a low-priority task, so
    /// that on a busy (or single) CPU the event loop and its cyclic frame come first.
    static let workerNice: Int32 = 10

    private static func workerLoop(_ shared: Shared, wake: WakePipe) {
        nameCurrentThread(workerName)
        // Linux keeps the nice value per thread; `who` 0 is the calling thread (setpriority(2)).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, workerNice)
        while true {
            shared.work.wait()
            let next = shared.state.withLock { state -> (StoreJobID, StoreJob)? in
                state.queue.isEmpty ? nil : state.queue.removeFirst()
            }
            guard let next else {
                if shared.state.withLock({ $0.stopping }) { return }
                continue
            }
            let outcome = next.1.run()
            shared.state.withLock { $0.done.append(StoreJobCompletion(id: next.0, outcome: outcome)) }
            wake.notify()
        }
    }
}

/// Why a `ThreadedStoreJobExecutor` could not start.
public enum ThreadedStoreJobExecutorError: Error, CustomStringConvertible {
    /// `pipe(2)` failed.
    case pipe(errno: Int32)
    /// `pthread_create(3)` failed (its error number).
    case thread(errno: Int32)

    public var description: String {
        switch self {
        case .pipe(let code): return "store job executor: pipe: \(String(cString: strerror(code)))"
        case .thread(let code): return "store job executor: pthread_create: \(String(cString: strerror(code)))"
        }
    }
}
