import CloudSimulator
import EventLoop
import Foundation
import Glibc
import SocketCAN
import SpaakCore

/// The imperative shell of `spaak-cloud serve`: the CAN socket, the control socket, the
/// event loop, the clocks, the log and the trace file around one `CloudSimulator`.
final class CloudRunner {
    let simulator: CloudSimulator
    let interface: String
    let canFD: Bool
    let receiveIDs: [UInt32]
    let controlPath: String
    let trace: TraceWriter?
    let verifierPool: VerifierPool?

    init(simulator: CloudSimulator, interface: String, canFD: Bool, receiveIDs: [UInt32], controlPath: String, trace: TraceWriter?,
         verifierPool: VerifierPool?) {
        self.simulator = simulator
        self.interface = interface
        self.canFD = canFD
        self.receiveIDs = receiveIDs
        self.controlPath = controlPath
        self.trace = trace
        self.verifierPool = verifierPool
    }

    func run(banner: String) throws {
        let socket = try CANSocket(interface: interface, fd: canFD ? .required : .off, filter: receiveIDs)
        let loop = try EventLoop()
        defer { loop.close() }
        // After the loop blocked SIGINT/SIGTERM: the filler thread inherits the mask.
        verifierPool?.start()
        defer { verifierPool?.stop() }
        let control = try ControlServer(path: controlPath)
        defer { control.close() }
        var queue = TransmitQueue<CANFrame>(capacity: 4096)

        func perform(_ step: CloudSimulator.Step) throws {
            for event in step.events { log(event) }
            for frame in step.frames { _ = try queue.send(frame) { try socket.send($0) } }
            // ISO-TP timers (N_Bs, STmin) run from the transmission, not from before the VOS work.
            if !step.frames.isEmpty && queue.isEmpty { simulator.framesTransmitted(now: loop.clock.now) }
        }

        loop.watch(socket.fileDescriptor)
        loop.watch(control.listenFD)
        if let pool = verifierPool, pool.notifyFD >= 0 { loop.watch(pool.notifyFD) }
        print("\(banner) — ready")
        fflush(nil)
        try perform(simulator.handleTimeout(now: loop.clock.now, date: Date()))
        loop.arm(simulator.nextDeadline)
        let exit = try loop.run { event in
            switch event {
            case .readable(let fd) where fd == socket.fileDescriptor:
                var frames = try socket.receiveBatch(max: 64)
                while !frames.isEmpty {
                    for frame in frames { try perform(simulator.handle(frame, now: loop.clock.now, date: Date())) }
                    frames = frames.count == 64 ? try socket.receiveBatch(max: 64) : []
                }
            case .readable(let fd) where fd == self.verifierPool?.notifyFD:
                self.verifierPool?.drainNotifications()
                try perform(simulator.verifiersReady(now: loop.clock.now, date: Date()))
            case .readable(let fd) where fd == control.listenFD:
                for client in control.acceptAll() { loop.watch(client) }
            case .readable(let fd):
                guard let line = control.read(fd) else { break }
                loop.unwatch(fd)
                let reply: String
                do {
                    let command = try ControlCommand.parse(line)
                    let (answer, step) = simulator.control(command, now: loop.clock.now, date: Date(), readFile: Self.readFile)
                    try perform(step)
                    reply = answer.description
                } catch {
                    reply = "error \(error)"
                }
                control.finish(fd, reply: reply)
            case .writable:
                _ = try queue.flush { try socket.send($0) }
                if queue.isEmpty { simulator.framesTransmitted(now: loop.clock.now) }
            case .timer(let now):
                try perform(simulator.handleTimeout(now: now, date: Date()))
            case .signal:
                break
            }
            loop.watchWritable(socket.fileDescriptor, !queue.isEmpty)
            loop.arm(simulator.nextDeadline)
        }
        if queue.dropped > 0 { print("spaak-cloud: \(queue.dropped) frames dropped: the bus did not take them") }
        if case .signal(let signo) = exit { print("spaak-cloud: stopped by signal \(signo)") }
        socket.close()
    }

    private func log(_ event: CloudEvent) {
        print(event.description)
        fflush(nil)
        trace?.write(event)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// The `--trace FILE` writer: one JSON object per line, appended, flushed per event.
final class TraceWriter {
    private let handle: FileHandle
    private let encoder: JSONEncoder

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ControlSocketError(message: "cannot create trace file \(path)")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func write(_ event: CloudEvent) {
        guard let json = try? encoder.encode(event) else { return }
        try? handle.write(contentsOf: json + Data("\n".utf8))
    }
}
