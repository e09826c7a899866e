import EventLoop
import Foundation
import PhoneSimulator
import SocketCAN
import SpaakCore

/// The imperative shell of `spaak-phone pair`: the CAN socket, the event loop, the clocks,
/// the printout, the phone's state file and the scrypt worker (`DerivationWorker`) around
/// one `PhoneRun`.
final class PhoneRunner {
    let socket: CANSocket
    let keyFile: PhoneStateFile

    /// A runner on an open socket (receiving the run's identifiers; the caller closes it).
    init(socket: CANSocket, keyFile: PhoneStateFile) {
        self.socket = socket
        self.keyFile = keyFile
    }

    /// Runs `makeRun` (given the start instant) until it finishes or a signal stops it;
    /// `nil` when stopped by a signal.
    func run(_ makeRun: (Instant) -> PhoneRun) throws -> PhoneRunResult? {
        let loop = try EventLoop()
        defer { loop.close() }
        let worker = try DerivationWorker()
        defer { worker.stop() }
        let start = loop.clock.now
        var run = makeRun(start)
        var queue = TransmitQueue<CANFrame>(capacity: 1024)
        var result: PhoneRunResult?

        func say(_ line: String) {
            let elapsed = loop.clock.now - start
            print(String(format: "[%7.3f] ", Double(elapsed.nanosecondsClamped) / 1e9) + line)
            fflush(nil)
        }

        func perform(_ actions: [PhoneRunAction]) throws {
            var sent = false
            for action in actions {
                switch action {
                case .transmit(let frame):
                    try queue.send(frame) { try socket.send($0) }
                    sent = true
                case .log(let line):
                    say(line)
                case .saveVehicleCertificate(let der):
                    do {
                        try keyFile.saveVehicleCertificate(der)
                        say("kept [K] of this vehicle in \(keyFile.path)")
                    } catch {
                        say("could not keep [K] in \(keyFile.path): \(error) (phase 3 in this run still knows it)")
                    }
                case .derive(let job):
                    worker.submit(job)
                case .finished(let outcome):
                    result = outcome
                    loop.stop()
                }
            }
            if sent && queue.isEmpty { run.framesTransmitted(now: loop.clock.now) }
        }

        loop.watch(socket.fileDescriptor)
        loop.watch(worker.notifyFD)
        try perform(run.handleTimeout(now: loop.clock.now))
        loop.arm(run.nextDeadline)
        let exit = try loop.run { event in
            switch event {
            case .readable(let fd) where fd == worker.notifyFD:
                for (job, outcome) in worker.takeFinished() {
                    try perform(run.derived(job, outcome, now: loop.clock.now))
                }
            case .readable:
                var frames = try socket.receiveBatch(max: 64)
                while !frames.isEmpty {
                    for frame in frames { try perform(run.handle(frame, now: loop.clock.now, date: Date())) }
                    frames = frames.count == 64 ? try socket.receiveBatch(max: 64) : []
                }
            case .writable:
                _ = try queue.flush { try socket.send($0) }
                if queue.isEmpty { run.framesTransmitted(now: loop.clock.now) }
            case .timer(let now):
                try perform(run.handleTimeout(now: now))
            case .signal(let signo):
                say("stopped by signal \(signo)")
            }
            loop.watchWritable(socket.fileDescriptor, !queue.isEmpty)
            loop.arm(run.nextDeadline)
        }
        if queue.dropped > 0 { say("\(queue.dropped) frames dropped: the bus did not take them") }
        if case .signal = exit { return nil }
        return result
    }
}
