import EventLoop
import Foundation
import PhoneSimulator
import SocketCAN
import SpaakCore

/// The wait for the pairing window before the first tap (`pair --api`), on the runner's socket.
extension PhoneRunner {
    /// Runs a `PairingWindowWait` until byte 7 = 1 or `timeout`; `nil` when a signal stopped it.
    /// The reader sends nothing meanwhile (nothing is in its field yet).
    func awaitWindow(timeout: Duration, statusID: UInt32) throws -> PairingWindowWait.Outcome? {
        let loop = try EventLoop()
        defer { loop.close() }
        let start = loop.clock.now
        var wait = PairingWindowWait(timeout: timeout, now: start, statusID: statusID)

        func say(_ lines: [String]) {
            for line in lines {
                let elapsed = loop.clock.now - start
                print(String(format: "[%7.3f] ", Double(elapsed.nanosecondsClamped) / 1e9) + line)
            }
            if !lines.isEmpty { fflush(nil) }
        }

        loop.watch(socket.fileDescriptor)
        loop.arm(wait.deadline)
        let exit = try loop.run { event in
            switch event {
            case .readable:
                var frames = try socket.receiveBatch(max: 64)
                while !frames.isEmpty, wait.outcome == nil {
                    for frame in frames where wait.outcome == nil { say(wait.handle(frame)) }
                    frames = frames.count == 64 ? try socket.receiveBatch(max: 64) : []
                }
            case .timer(let now):
                say(wait.handleTimeout(now: now))
            case .signal(let signo):
                say(["stopped by signal \(signo)"])
            case .writable:
                break
            }
            if wait.outcome != nil { loop.stop() }
            loop.arm(wait.deadline)
        }
        if case .signal = exit { return nil }
        return wait.outcome
    }
}
