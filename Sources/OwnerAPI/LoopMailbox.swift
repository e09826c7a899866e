import EventLoop
import OwnerServices
import Synchronization

/// Jobs from any thread for the single-threaded event loop, and their answers back.
///
/// An HTTP handler (on a NIO thread) `submit`s a closure and awaits its result; the event
/// loop watches `notifyFD` (a `WakePipe`) and calls `drain`, which
/// runs the closures on the loop's thread with the loop's `Context` (the only thread that
/// touches the VOS and its database). At most `capacity` jobs wait; a further `submit`
/// awaits a free place (no request is refused for load, none is lost). After `close()`
/// every waiting and later job fails with `internalError` "the server is stopping".
public final class LoopMailbox<Context>: Sendable {
    /// One queued job: `run` on the loop thread, or `fail` when the mailbox closes first.
    private struct Entry: Sendable {
        var run: @Sendable (Context) -> Void
        var fail: @Sendable (OwnerServiceError) -> Void
    }

    private struct State: ~Copyable {
        var queue: [Entry] = []
        var head = 0
        /// Places taken: queued jobs plus places granted to a submitter not yet enqueued.
        var taken = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var closed = false
        /// A byte is in the pipe (or about to be) for the jobs queued since the last drain.
        var signalled = false

        var count: Int { queue.count - head }
    }

    /// The most jobs queued at once.
    public let capacity: Int
    /// The most jobs one `drain` runs (the loop has other work between batches).
    public let batch: Int
    private let state = Mutex(State())
    private let wake: WakePipe

    /// The error of a job that cannot run because the mailbox closed.
    public static var stopping: OwnerServiceError { OwnerServiceError(.internalError, "the server is stopping") }

    /// Readable while jobs wait: the event loop watches it and calls `drain`.
    public var notifyFD: Int32 { wake.descriptor }

    /// A mailbox of `capacity` places whose `drain` runs at most `batch` jobs.
    /// - Throws: `WakePipeError` when the pipe cannot be made.
    public init(capacity: Int = 1024, batch: Int = 64) throws(WakePipeError) {
        self.capacity = max(1, capacity)
        self.batch = max(1, batch)
        wake = try WakePipe()
    }

    /// Runs `job` on the loop thread and returns its result (or rethrows its error).
    public func submit<T: Sendable>(_ job: @escaping @Sendable (Context) throws(OwnerServiceError) -> T) async throws(OwnerServiceError) -> T {
        guard await acquire() else { throw Self.stopping }
        let result: Result<T, OwnerServiceError> = await withCheckedContinuation { continuation in
            let entry = Entry(run: { context in
                continuation.resume(returning: Result { () throws(OwnerServiceError) -> T in try job(context) })
            }, fail: { error in
                continuation.resume(returning: .failure(error))
            })
            enqueue(entry)
        }
        return try result.get()
    }

    /// Takes a place, waiting for one while the mailbox is full; `false` once closed.
    private func acquire() async -> Bool {
        let granted: Bool? = state.withLock { state in
            if state.closed { return false }
            if state.taken < capacity {
                state.taken += 1
                return true
            }
            return nil
        }
        if let granted { return granted }
        return await withCheckedContinuation { continuation in
            let immediate: Bool? = state.withLock { state in
                if state.closed { return false }
                if state.taken < capacity {
                    state.taken += 1
                    return true
                }
                state.waiters.append(continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Queues an entry on a place taken by `acquire` and wakes the loop.
    private func enqueue(_ entry: Entry) {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else {
                state.taken -= 1
                return (false, false)
            }
            state.queue.append(entry)
            guard !state.signalled else { return (true, false) }
            state.signalled = true
            return (true, true)
        }
        if !accepted { entry.fail(Self.stopping) }
        if wake { signal() }
    }

    /// Jobs queued and not yet run.
    public var pending: Int { state.withLock { $0.count } }

    /// Runs up to `batch` queued jobs with `context` (call on the loop thread when
    /// `notifyFD` is readable); returns how many ran. When more wait, `notifyFD` stays readable.
    @discardableResult
    public func drain(_ context: Context) -> Int {
        wake.drain()
        let (jobs, granted, more) = state.withLock { state -> ([Entry], [CheckedContinuation<Bool, Never>], Bool) in
            let end = min(state.queue.count, state.head + batch)
            let jobs = Array(state.queue[state.head..<end])
            state.head = end
            if state.head == state.queue.count {
                state.queue.removeAll(keepingCapacity: true)
                state.head = 0
            } else if state.head >= 4096 {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
            state.taken -= jobs.count
            var granted: [CheckedContinuation<Bool, Never>] = []
            while state.taken < capacity, !state.waiters.isEmpty {
                state.taken += 1
                granted.append(state.waiters.removeFirst())
            }
            state.signalled = state.count > 0
            return (jobs, granted, state.count > 0)
        }
        for continuation in granted { continuation.resume(returning: true) }
        if more { signal() }
        for job in jobs { job.run(context) }
        return jobs.count
    }

    /// Fails every queued and waiting job (and every later one) with "the server is stopping".
    public func close() {
        let (jobs, waiters) = state.withLock { state -> ([Entry], [CheckedContinuation<Bool, Never>]) in
            state.closed = true
            let jobs = Array(state.queue[state.head...])
            state.queue.removeAll()
            state.head = 0
            state.taken -= jobs.count
            let waiters = state.waiters
            state.waiters.removeAll()
            return (jobs, waiters)
        }
        for continuation in waiters { continuation.resume(returning: false) }
        for job in jobs { job.fail(Self.stopping) }
    }

    /// Makes `notifyFD` readable (a full pipe is readable already).
    private func signal() { wake.notify() }
}
