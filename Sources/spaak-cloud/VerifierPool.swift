import CloudSimulator
import Foundation

/// Verifiers made in advance on one background thread, so that the single-threaded event
/// loop never stalls in scrypt (N = 32768 takes 0.1-1.5 s depending on the build and the
/// machine's load, longer than the module's 1000 ms TBM_Status supervision tolerates).
/// The thread only runs the pure derivation; everything else stays on the loop's thread.
/// It runs under SCHED_IDLE, so it never takes CPU time from the loop.
final class VerifierPool: @unchecked Sendable {
    private let configuration: VOSConfiguration
    private let capacity: Int
    private let condition = NSCondition()
    private var ready: [PreparedVerifier] = []
    private var stopped = false
    private var pipeFDs: [Int32] = [-1, -1]

    /// Readable whenever a verifier was added: the event loop watches it and drains it.
    var notifyFD: Int32 { pipeFDs[0] }

    /// A pool keeping `capacity` verifiers ready for `configuration`.
    init(configuration: VOSConfiguration, capacity: Int = 2) {
        self.configuration = configuration
        self.capacity = max(1, capacity)
        if pipe(&pipeFDs) == 0 {
            for fd in pipeFDs {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
    }

    deinit {
        for fd in pipeFDs where fd >= 0 { close(fd) }
    }

    /// `true` when a verifier is ready.
    var hasReady: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !ready.isEmpty
    }

    /// Empties the notification pipe (call when `notifyFD` is readable).
    func drainNotifications() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while buffer.withUnsafeMutableBytes({ read(notifyFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Starts the filler thread (after the event loop has set the signal mask).
    func start() {
        let thread = Thread { [self] in fill() }
        thread.name = "verifier-pool"
        thread.start()
    }

    /// Stops the filler after its current derivation.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    /// A ready verifier, or `nil` when none is (the caller then derives one itself).
    func take() -> PreparedVerifier? {
        condition.lock()
        defer { condition.unlock() }
        guard !ready.isEmpty else { return nil }
        let verifier = ready.removeFirst()
        condition.signal()
        return verifier
    }

    /// SCHED_IDLE (Linux `<sched.h>`, not imported by Glibc): runs only when nothing else wants the CPU.
    private static let schedIdle: Int32 = 5

    private func fill() {
        var param = sched_param()
        param.sched_priority = 0
        _ = pthread_setschedparam(pthread_self(), Self.schedIdle, &param)
        while true {
            condition.lock()
            while !stopped && ready.count >= capacity { condition.wait() }
            let done = stopped
            condition.unlock()
            if done { return }
            guard let verifier = try? VehicleOEMServer.makeVerifier(configuration: configuration,
                                                                    randomBytes: VehicleOEMServer.systemRandomBytes) else { return }
            condition.lock()
            ready.append(verifier)
            condition.unlock()
            var byte: UInt8 = 1
            _ = write(pipeFDs[1], &byte, 1)
        }
    }
}
