import Dispatch
import Foundation
import Glibc
import Synchronization

/// Items made in advance on one background thread and handed to a single-threaded event
/// loop that must never wait for that thread.
///
/// The thread keeps up to `capacity` items ready: it sleeps on a semaphore while the pool is
/// full and makes one item (`make`) per free slot. The loop watches `notifyFD` (readable when
/// an item was added), asks `hasReady`, and `take`s. The loop side only ever *tries* the lock:
/// when the thread happens to hold it (for an append, a few instructions), `hasReady` says
/// `false` and `take` returns `nil`, and the notification that follows the append wakes the
/// loop again. So a background thread preempted inside its critical section, on a machine
/// whose CPUs are never idle, cannot stall the loop (it did, with a blocking lock and a
/// SCHED_IDLE thread, at 100 vehicles: docs/SCALING.md section 2).
///
/// The thread runs `niceIncrement` nice levels below the process (Linux per-thread nice):
/// it gets the CPU the loop leaves, yet still progresses when the machine is busy.
public final class PrefetchPool<Item: Sendable>: Sendable {
    private let capacity: Int
    private let niceIncrement: Int32
    private let make: @Sendable () -> Item?
    let ready = Mutex<[Item]>([])  // internal: the tests hold it to show the loop side never waits
    private let stopped = Atomic<Bool>(false)
    private let slots: DispatchSemaphore
    private let wake: WakePipe?

    /// Readable whenever an item was added: the event loop watches it and calls
    /// `drainNotifications`. -1 when the pipe could not be made (then poll `hasReady`).
    public var notifyFD: Int32 { wake?.descriptor ?? -1 }

    /// A pool keeping `capacity` (at least 1) items made by `make` ready; `make` returning
    /// `nil` ends the thread. Nothing runs before `start`.
    public init(capacity: Int = 2, niceIncrement: Int32 = 10, make: @escaping @Sendable () -> Item?) {
        self.capacity = max(1, capacity)
        self.niceIncrement = max(0, niceIncrement)
        self.make = make
        // Made at 0 and signalled: libdispatch traps when a semaphore is freed below its initial value.
        self.slots = DispatchSemaphore(value: 0)
        for _ in 0..<self.capacity { slots.signal() }
        wake = try? WakePipe()
    }

    /// `true` when an item is ready and the thread is not inside the lock right now.
    public var hasReady: Bool {
        ready.withLockIfAvailable { !$0.isEmpty } ?? false
    }

    /// Items ready now (a blocking read, for reports and tests; not for the loop).
    public var readyCount: Int { ready.withLock { $0.count } }

    /// A ready item, or `nil` when none is or the thread holds the lock (the caller then makes
    /// one itself or waits for the next notification). Never blocks.
    public func take() -> Item? {
        let item: Item?? = ready.withLockIfAvailable { items in items.isEmpty ? nil : items.removeFirst() }
        guard let taken = item ?? nil else { return nil }
        slots.signal()
        return taken
    }

    /// Empties the notification pipe (call when `notifyFD` is readable).
    public func drainNotifications() {
        wake?.drain()
    }

    /// Starts the thread (after the event loop has set its signal mask, which it inherits).
    public func start(name: String = "prefetch-pool") {
        let thread = Thread { [self] in fill() }
        thread.name = name
        thread.start()
    }

    /// Stops the thread after the item it is making, if any.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        slots.signal()
    }

    private func fill() {
        lowerPriority()
        while true {
            slots.wait()
            if stopped.load(ordering: .sequentiallyConsistent) { return }
            guard let item = make() else { return }
            ready.withLock { $0.append(item) }
            wake?.notify()
        }
    }

    /// Raises the calling thread's nice value by `niceIncrement` (always permitted). On Linux
    /// the nice value is per thread, and `who = 0` names the calling thread (setpriority(2)).
    private func lowerPriority() {
        guard niceIncrement > 0 else { return }
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0 else { return }
        _ = setpriority(which, 0, min(19, current + niceIncrement))
    }
}
