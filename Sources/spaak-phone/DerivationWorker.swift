import CloudProtocol
import EventLoop
import Foundation
import PhoneSimulator

/// One worker thread that runs the phone's scrypt derivations (`PhoneRunAction.derive`) one
/// after the other, away from the event loop, so that `NFC_Status` keeps its 100 ms cycle
/// while scrypt runs (ICD 8.1: the module ends a session after 1000 ms without it). Results
/// wait in a queue; a `WakePipe` wakes the loop, which drains the pipe and takes them.
final class DerivationWorker: @unchecked Sendable {
    typealias Finished = (job: ScryptJob, outcome: Result<SpakeVerifierSecrets, PasswordSecretsError>)

    private let condition = NSCondition()
    private var jobs: [ScryptJob] = []
    private var done: [Finished] = []
    private var stopped = false
    private var started = false
    private let wake: WakePipe

    /// Readable whenever a result is ready: the event loop watches it.
    var notifyFD: Int32 { wake.descriptor }

    /// A worker with its notification pipe; no thread yet.
    init() throws {
        do { wake = try WakePipe() } catch { throw PhoneSetupError("derivation worker: \(error)") }
    }

    /// Queues a derivation; the thread starts with the first one (after the event loop set
    /// the signal mask, which the thread inherits).
    func submit(_ job: ScryptJob) {
        condition.lock()
        jobs.append(job)
        let start = !started
        started = true
        condition.signal()
        condition.unlock()
        if start {
            let thread = Thread { [self] in work() }
            thread.name = "scrypt"
            thread.start()
        }
    }

    /// The finished derivations, in order; empties the pipe.
    func takeFinished() -> [Finished] {
        wake.drain()
        condition.lock()
        defer { condition.unlock() }
        let finished = done
        done.removeAll()
        return finished
    }

    /// Stops the thread after its current derivation (the process may end before that).
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while !stopped && jobs.isEmpty { condition.wait() }
            if stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            let outcome = job.run()
            condition.lock()
            done.append((job, outcome))
            condition.unlock()
            wake.notify()
        }
    }
}
