import Foundation
import Glibc
import OwnerServices
import Synchronization
import Testing
@testable import OwnerAPI

/// What the test's loop thread hands to the jobs: its thread id and a log of the jobs run.
private final class FakeLoop {
    let thread = pthread_self()
    var ran: [Int] = []
}

/// A thread playing the event loop: waits on the mailbox's descriptor and drains it, until stopped.
private final class LoopThread: Sendable {
    let mailbox: LoopMailbox<FakeLoop>
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(_ mailbox: LoopMailbox<FakeLoop>) {
        self.mailbox = mailbox
        let thread = Thread { [self] in
            let loop = FakeLoop()
            var watch = [pollfd(fd: mailbox.notifyFD, events: Int16(POLLIN), revents: 0)]
            while !stopped.load(ordering: .relaxed) {
                if poll(&watch, 1, 10) > 0 { mailbox.drain(loop) }
            }
            done.signal()
        }
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        done.wait()
    }
}

/// Whether `fd` is readable now.
private func readable(_ fd: Int32) -> Bool {
    var watch = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
    return poll(&watch, 1, 0) > 0
}

@Suite("LoopMailbox: jobs for the event loop")
struct LoopMailboxTests {
    @Test("jobs run on the loop's thread and their results come back to every submitter")
    func results() async throws {
        let mailbox = try LoopMailbox<FakeLoop>(capacity: 8, batch: 4)
        let loop = LoopThread(mailbox)
        defer { loop.stop() }
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for value in 0..<200 {
                group.addTask {
                    try await mailbox.submit { context throws(OwnerServiceError) in
                        context.ran.append(value)
                        return (value * 2, pthread_equal(context.thread, pthread_self()) != 0)
                    }
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 200)
        #expect(results.keys.sorted() == (0..<200).map { $0 * 2 })
        #expect(results.values.allSatisfy { $0 })
    }

    @Test("jobs submitted one after the other run in that order")
    func order() async throws {
        let mailbox = try LoopMailbox<FakeLoop>()
        let loop = LoopThread(mailbox)
        defer { loop.stop() }
        var seen: [Int] = []
        for value in 0..<20 {
            seen = try await mailbox.submit { context throws(OwnerServiceError) in
                context.ran.append(value)
                return context.ran
            }
        }
        #expect(seen == Array(0..<20))
    }

    @Test("a job's OwnerServiceError reaches its submitter")
    func errors() async throws {
        let mailbox = try LoopMailbox<FakeLoop>()
        let loop = LoopThread(mailbox)
        defer { loop.stop() }
        await #expect(throws: OwnerServiceError(.notOwner, "bob is not the owner")) {
            try await mailbox.submit { _ throws(OwnerServiceError) -> Int in throw OwnerServiceError(.notOwner, "bob is not the owner") }
        }
    }

    @Test("full: further submitters wait for a place; the descriptor is readable while jobs wait")
    func capacity() async throws {
        let mailbox = try LoopMailbox<FakeLoop>(capacity: 2, batch: 1)
        #expect(!readable(mailbox.notifyFD))
        let tasks = (0..<5).map { value in
            Task { try await mailbox.submit { context throws(OwnerServiceError) in context.ran.append(value); return value } }
        }
        // Wait until two are queued (the others wait for a place).
        for _ in 0..<500 where mailbox.pending < 2 { try await Task.sleep(for: .milliseconds(2)) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(mailbox.pending == 2)
        #expect(readable(mailbox.notifyFD))
        let context = FakeLoop()
        var ran = 0
        for _ in 0..<1000 where ran < 5 {
            ran += mailbox.drain(context)
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(ran == 5)
        #expect(mailbox.pending == 0)
        #expect(!readable(mailbox.notifyFD))
        var values: [Int] = []
        for task in tasks { values.append(try await task.value) }
        #expect(values == [0, 1, 2, 3, 4])
        #expect(context.ran.sorted() == [0, 1, 2, 3, 4])
    }

    @Test("a batch leaves the rest readable for the next turn")
    func batches() async throws {
        let mailbox = try LoopMailbox<FakeLoop>(capacity: 16, batch: 3)
        let tasks = (0..<7).map { value in Task { try await mailbox.submit { _ throws(OwnerServiceError) in value } } }
        for _ in 0..<500 where mailbox.pending < 7 { try await Task.sleep(for: .milliseconds(2)) }
        let context = FakeLoop()
        #expect(mailbox.drain(context) == 3)
        #expect(readable(mailbox.notifyFD))
        #expect(mailbox.drain(context) == 3)
        #expect(mailbox.drain(context) == 1)
        #expect(!readable(mailbox.notifyFD))
        #expect(mailbox.drain(context) == 0)
        for task in tasks { _ = try await task.value }
    }

    @Test("close fails the queued, the waiting and every later job with internal-error 'stopping'")
    func close() async throws {
        let mailbox = try LoopMailbox<FakeLoop>(capacity: 1)
        let tasks = (0..<3).map { value in Task { try await mailbox.submit { _ throws(OwnerServiceError) in value } } }
        for _ in 0..<500 where mailbox.pending < 1 { try await Task.sleep(for: .milliseconds(2)) }
        try await Task.sleep(for: .milliseconds(20))
        mailbox.close()
        for task in tasks {
            await #expect(throws: LoopMailbox<FakeLoop>.stopping) { try await task.value }
        }
        await #expect(throws: LoopMailbox<FakeLoop>.stopping) { try await mailbox.submit { _ throws(OwnerServiceError) in 1 } }
        #expect(mailbox.drain(FakeLoop()) == 0)
    }
}
