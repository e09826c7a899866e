import Foundation
import Glibc
import Logging
import SecureStore
import SpaakCore
import Synchronization
import Testing
@testable import SpaakECU

/// Issue 7 defect 10: the plant's slow store work (certificate/VIN writes, key generation,
/// the plant lock) runs as a job off the event loop. The UDS answer is NRC 0x78 first and
/// the final answer when the job is done; meanwhile other requests get 0x21 and the cyclic
/// `SPAAK_Status` keeps its 100 ms grid.
@Suite("Store jobs: slow plant work off the event loop")
struct StoreJobTests {
    static let vin = Array("VF3SPAAK000000001".utf8)

    /// A module harness whose store jobs run only when the test says.
    static func harness(jobs: any StoreJobExecutor, configuration: ECUConfiguration = ECUConfiguration(serial: "SPK0000000001"))
        -> ModuleHarness {
        let h = ModuleHarness(configuration: configuration)
        let seeds = SeedCounter()
        h.module = SpaakModule(configuration: configuration, store: h.store, now: h.clock.now,
                               wallClock: { ModuleHarness.wallTime }, logger: Logger(label: "test"),
                               storeJobs: jobs, seedSource: { seeds.next() })
        h.sent.removeAll()
        h.record(h.module.handleTimeout(now: h.clock.now))
        return h
    }

    /// The single-frame UDS responses on 0x7A8 from `index` on.
    static func singleFrameResponses(_ h: ModuleHarness, from index: Int) -> [[UInt8]] {
        h.frames(on: 0x7A8, from: index).compactMap { frame in
            let length = Int(frame.data[0])
            guard length > 0, length <= 7 else { return nil }
            return Array(frame.data[1...length])
        }
    }

    /// The send times of `SPAAK_Status` from `index` on, in ms.
    static func statusTimes(_ h: ModuleHarness, from index: Int) -> [UInt64] {
        h.sent[index...].filter { $0.1.id == h.configuration.ids.spaakStatus }.map { $0.0.milliseconds }
    }

    @Test func vinWriteAnswersResponsePendingFirstWhileTheLoopRuns() throws {
        let jobs = ManualStoreJobExecutor()
        let h = Self.harness(jobs: jobs)
        h.unlock()
        let mark = h.sent.count
        let start = h.clock.now.milliseconds
        #expect(h.exchange([0x2E, 0xF1, 0x90] + Self.vin, limit: .milliseconds(500)) == [[0x7F, 0x2E, 0x78]])
        #expect(jobs.queued == 1)
        #expect(try h.store.read(.vin) == nil)                          // nothing stored on the loop
        // The cyclic frame keeps its 100 ms grid while the job is outstanding.
        let times = Self.statusTimes(h, from: mark)
        #expect(times.count >= 5)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 100 })
        #expect(times.first.map { $0 - start <= 100 } == true)
        // Other requests are busy; 3E 80 keeps the session without an answer.
        #expect(h.exchange([0x22, 0xF1, 0x90], limit: .milliseconds(100)) == [[0x7F, 0x22, 0x21]])
        #expect(h.exchange([0x3E, 0x80], limit: .milliseconds(100)) == [])
        // NRC 0x78 is repeated while the job runs (every 2 s, within P2* = 5 s).
        let before = h.sent.count
        h.advance(by: .milliseconds(2000))
        #expect(Self.singleFrameResponses(h, from: before) == [[0x7F, 0x2E, 0x78]])
        // The job finishes: the final answer goes out in the next turn.
        jobs.runAll()
        let after = h.sent.count
        h.record(h.module.handleTimeout(now: h.clock.now))
        #expect(Self.singleFrameResponses(h, from: after) == [[0x6E, 0xF1, 0x90]])
        #expect(try h.store.read(.vin) == Self.vin)
        #expect(h.uds([0x22, 0xF1, 0x90]) == [0x62, 0xF1, 0x90] + Self.vin)
    }

    @Test func keyGenerationAnswersResponsePendingFirst() {
        let jobs = ManualStoreJobExecutor()
        let h = Self.harness(jobs: jobs)
        h.unlock()
        #expect(h.exchange([0x31, 0x01, 0xD2, 0x00], limit: .milliseconds(300)) == [[0x7F, 0x31, 0x78]])
        #expect(jobs.queued == 1)
        jobs.runAll()
        let after = h.sent.count
        h.record(h.module.handleTimeout(now: h.clock.now))
        #expect(Self.singleFrameResponses(h, from: after) == [[0x71, 0x01, 0xD2, 0x00, 0x00]])
        #expect(h.uds([0x31, 0x03, 0xD2, 0x00]) == [0x71, 0x03, 0xD2, 0x00, 0x00, 0x00])
        #expect(h.uds([0x22, 0xD1, 0x00]).prefix(3) == [0x62, 0xD1, 0x00])
    }

    @Test func simulatedSecureElementLatencyComposesWithTheJob() {
        let jobs = ManualStoreJobExecutor()
        var configuration = ECUConfiguration(serial: "SPK0000000001")
        configuration.hsmLatency = .milliseconds(300)
        let h = Self.harness(jobs: jobs, configuration: configuration)
        h.unlock()
        #expect(h.exchange([0x31, 0x01, 0xD2, 0x00], limit: .milliseconds(250)) == [[0x7F, 0x31, 0x78]])
        #expect(jobs.queued == 0)                                        // the latency runs first
        h.advance(by: .milliseconds(100))
        #expect(jobs.queued == 1)                                        // then the job
        jobs.runAll()
        let after = h.sent.count
        h.record(h.module.handleTimeout(now: h.clock.now))
        #expect(Self.singleFrameResponses(h, from: after) == [[0x71, 0x01, 0xD2, 0x00, 0x00]])
    }

    @Test func threadedExecutorRunsTheJobOnItsWorkerAndWakesTheLoop() throws {
        let jobs = try ThreadedStoreJobExecutor()
        defer { jobs.close() }
        let h = Self.harness(jobs: jobs)
        h.unlock()
        var responses = h.exchange([0x2E, 0xF1, 0x90] + Self.vin, limit: .milliseconds(50))
        if responses == [[0x7F, 0x2E, 0x78]] {
            var wake = pollfd(fd: jobs.wakeDescriptor, events: Int16(POLLIN), revents: 0)
            #expect(poll(&wake, 1, 30_000) == 1)                       // the worker wakes the loop
            jobs.acknowledgeWake()
            let after = h.sent.count
            h.record(h.module.handleTimeout(now: h.clock.now))
            responses += Self.singleFrameResponses(h, from: after)
        }
        #expect(responses.last == [0x6E, 0xF1, 0x90])
        #expect(try h.store.read(.vin) == Self.vin)
    }

    /// The worker is a plain POSIX thread (no Foundation `Thread`) that names itself, so that
    /// `ps -L` / `top -H` show it apart from the event loop.
    @Test func threadedExecutorWorkerThreadCarriesItsName() throws {
        let jobs = try ThreadedStoreJobExecutor()
        defer { jobs.close() }
        var names: [String] = []
        for _ in 0..<500 where !names.contains(ThreadedStoreJobExecutor.workerName) {
            names = Self.threadNames()
            usleep(10_000)
        }
        #expect(names.contains(ThreadedStoreJobExecutor.workerName))
        #expect(ThreadedStoreJobExecutor.workerName.utf8.count <= 15)    // the kernel's limit (TASK_COMM_LEN - 1)
    }

    /// The names of this process's threads (/proc/self/task/*/comm).
    static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// Runs store jobs only when the test calls `runAll()` (on the test's thread).
final class ManualStoreJobExecutor: StoreJobExecutor {
    private let state = Mutex<(next: UInt64, queue: [(StoreJobID, StoreJob)], done: [StoreJobCompletion])>((1, [], []))

    /// Jobs submitted and not yet run.
    var queued: Int { state.withLock { $0.queue.count } }

    func submit(_ job: StoreJob) -> StoreJobID {
        state.withLock { state in
            let id = StoreJobID(value: state.next)
            state.next += 1
            state.queue.append((id, job))
            return id
        }
    }

    func takeCompleted() -> [StoreJobCompletion] {
        state.withLock { state in
            defer { state.done.removeAll() }
            return state.done
        }
    }

    /// Runs every queued job now, in order.
    func runAll() {
        let jobs = state.withLock { state in
            defer { state.queue.removeAll() }
            return state.queue
        }
        let done = jobs.map { StoreJobCompletion(id: $0.0, outcome: $0.1.run()) }
        state.withLock { $0.done += done }
    }
}
