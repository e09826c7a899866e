import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@testable import EventLoop

/// The background thread keeps `capacity` items ready, the loop side never waits for it.
@Suite("PrefetchPool", .serialized)
struct PrefetchPoolTests {
    /// Counts the items made and numbers them.
    final class Counter: Sendable {
        let made = Atomic<Int>(0)
        let nice = Atomic<Int>(Int.min)
        func next() -> Int {
            errno = 0
            let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            if errno == 0 { nice.store(Int(value), ordering: .relaxed) }
            return made.add(1, ordering: .sequentiallyConsistent).newValue
        }
    }

    /// Polls `condition` every 5 ms for up to 10 s.
    private func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<2000 {
            if condition() { return true }
            usleep(5000)
        }
        return condition()
    }

    /// Whether `fd` is readable now.
    private func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    @Test("fills up to its capacity, hands items out in order, refills, and notifies")
    func fillsAndRefills() {
        let counter = Counter()
        let pool = PrefetchPool<Int>(capacity: 2) { counter.next() }
        #expect(pool.take() == nil, "nothing before start")
        pool.start()
        defer { pool.stop() }
        #expect(eventually { pool.readyCount == 2 })
        usleep(50_000)
        #expect(counter.made.load(ordering: .sequentiallyConsistent) == 2, "never more than the capacity")
        #expect(readable(pool.notifyFD))
        pool.drainNotifications()
        #expect(!readable(pool.notifyFD))
        #expect(pool.hasReady)
        #expect(pool.take() == 1)
        #expect(pool.take() == 2)
        #expect(eventually { pool.readyCount == 2 }, "a slot taken is a slot refilled")
        #expect(pool.take() == 3)
        #expect(readable(pool.notifyFD))
    }

    @Test("the loop side does not wait while the thread holds the lock")
    func neverWaits() {
        let pool = PrefetchPool<Int>(capacity: 1) { 7 }
        pool.start()
        defer { pool.stop() }
        #expect(eventually { pool.hasReady })
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let released = DispatchSemaphore(value: 0)
        let holder = Thread {
            pool.ready.withLock { _ in
                holding.signal()
                release.wait()
            }
            released.signal()
        }
        holder.start()
        holding.wait()
        let answered = DispatchSemaphore(value: 0)
        let results = Mutex<(Bool, Int?)>((true, 0))
        let asker = Thread {
            let ready = pool.hasReady
            let item = pool.take()
            results.withLock { $0 = (ready, item) }
            answered.signal()
        }
        asker.start()
        let outcome = answered.wait(timeout: .now() + 10)
        release.signal()
        released.wait()
        #expect(outcome == .success, "hasReady and take returned while the lock was held")
        let (ready, item) = results.withLock { $0 }
        #expect(!ready)
        #expect(item == nil)
        #expect(pool.take() == 7, "the item is still there once the lock is free")
    }

    @Test("the thread runs nice levels below the process")
    func lowerPriority() {
        errno = 0
        let base = Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
        let counter = Counter()
        let pool = PrefetchPool<Int>(capacity: 1, niceIncrement: 10) { counter.next() }
        pool.start()
        defer { pool.stop() }
        #expect(eventually { pool.hasReady })
        #expect(counter.nice.load(ordering: .relaxed) == min(19, base + 10))
        errno = 0
        #expect(Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) == base, "the caller's thread is unchanged")
    }

    @Test("stop ends the thread; so does make returning nil")
    func stops() {
        let counter = Counter()
        let pool = PrefetchPool<Int>(capacity: 1) { counter.next() }
        pool.start()
        #expect(eventually { pool.hasReady })
        pool.stop()
        #expect(pool.take() == 1)
        usleep(100_000)
        #expect(pool.readyCount == 0, "no refill after stop")

        let once = Counter()
        let ending = PrefetchPool<Int>(capacity: 3) { once.next() == 1 ? 1 : nil }
        ending.start()
        defer { ending.stop() }
        #expect(eventually { once.made.load(ordering: .sequentiallyConsistent) == 2 })
        usleep(100_000)
        #expect(ending.readyCount == 1)
        #expect(once.made.load(ordering: .sequentiallyConsistent) == 2, "the thread ended at the first nil")
    }
}
