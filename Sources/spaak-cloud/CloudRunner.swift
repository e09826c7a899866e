import CanSM
import CloudSimulator
import EventLoop
import Foundation
import Glibc
import SocketCAN
import SpaakCore

/// The imperative shell of `spaak-cloud serve`: the CAN socket, the control socket, the
/// HTTP side (owner services), the event loop, the clocks, the log and the trace file
/// around one `CloudSimulator`. Everything that touches the simulator runs on the loop's
/// thread: CAN frames, control commands and the HTTP handlers' jobs (through the mailbox).
final class CloudRunner {
    let simulator: CloudSimulator
    /// The CAN interface; `nil` for `--no-bus` (no socket: nothing can be pushed).
    let interface: String?
    let canFD: Bool
    let receiveIDs: [UInt32]
    let controlPath: String
    let trace: TraceWriter?
    let verifierPool: VerifierPool?
    /// Told `READY=1` where the simulator enters its event loop (`serve --ready-fd N`).
    let readiness: ReadinessNotifier?
    /// The owner services over HTTP (`serve --http`), `nil` when off.
    let http: HTTPSetup?
    /// The TBM's cyclic `TBM_Status` identifier (`serve --tbm-status-id`): a newer frame
    /// replaces one still queued (back-pressure, bus-off), counted skipped.
    var tbmStatusID: UInt32 = 0x3A0

    init(simulator: CloudSimulator, interface: String?, canFD: Bool, receiveIDs: [UInt32], controlPath: String, trace: TraceWriter?,
         verifierPool: VerifierPool?, readiness: ReadinessNotifier? = nil, http: HTTPSetup? = nil) {
        self.simulator = simulator
        self.interface = interface
        self.canFD = canFD
        self.receiveIDs = receiveIDs
        self.controlPath = controlPath
        self.trace = trace
        self.verifierPool = verifierPool
        self.readiness = readiness
        self.http = http
    }

    /// What `--no-bus` answers to a command that would put a message on the bus.
    static let noBus = "no vehicle bus (spaak-cloud serve --no-bus): nothing can be sent to the vehicle"

    func run(banner: String) throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let port = try interface.map {
            try CANPort(interface: $0, fd: canFD ? .required : .off, filter: receiveIDs, cyclicIDs: [tbmStatusID],
                        now: loop.clock.now) { level, line in
                if level != .debug { print("spaak-cloud: \(line)") }
            }
        }
        port?.socketClosing = { loop.unwatch($0.fileDescriptor) }
        // After the loop blocked SIGINT/SIGTERM: the filler thread inherits the mask.
        verifierPool?.start()
        defer { verifierPool?.stop() }
        let control = try ControlServer(path: controlPath)
        defer { control.close() }
        /// A step's frames go to the transmitter together (one sendmmsg when the kernel takes
        /// them all); a socket error never ends the simulator (`CANPort` reopens the link).
        func perform(_ step: CloudSimulator.Step) {
            for event in step.events { log(event) }
            guard let port else {
                // --no-bus: the TBM's frames go nowhere (its link state is offline).
                if !step.frames.isEmpty { simulator.framesTransmitted(now: loop.clock.now) }
                return
            }
            port.submit(step.frames, now: loop.clock.now)
            // ISO-TP timers (N_Bs, STmin) run from the transmission, not from before the VOS work.
            if port.takeTransmitConfirmation() { simulator.framesTransmitted(now: loop.clock.now) }
        }

        /// A control command (from the socket or an HTTP job) on the loop, its frames on the bus.
        func execute(_ command: ControlCommand) -> (ok: Bool, text: String) {
            if port == nil, command.needsBus { return (false, Self.noBus) }
            let (answer, step) = simulator.control(command, now: loop.clock.now, date: Date(), readFile: Self.readFile)
            perform(step)
            return (answer.ok, answer.text)
        }

        if let socket = port?.link.socket { loop.watch(socket.fileDescriptor) }
        loop.watch(control.listenFD)
        if let pool = verifierPool, pool.notifyFD >= 0 { loop.watch(pool.notifyFD) }
        // After the loop blocked SIGINT/SIGTERM: NIO's threads inherit the mask.
        let httpSide = try http.map { try HTTPSide($0, execute: execute) }
        if let httpSide {
            loop.watch(httpSide.notifyFD)
            print(httpSide.banner)
        }
        print("\(banner) — ready")
        fflush(nil)
        do { try readiness?.notifyReady() } catch { print("spaak-cloud: \(error)") }
        perform(simulator.handleTimeout(now: loop.clock.now, date: Date()))
        loop.arm(simulator.nextDeadline)
        let exit = try loop.run { event in
            switch event {
            case .readable(let fd) where fd == port?.link.socket?.fileDescriptor:
                guard let port, let socket = port.link.socket else { break }
                do {
                    var frames = try socket.receiveBatch(max: 64)
                    port.receivedErrorFrames(now: loop.clock.now)
                    while !frames.isEmpty {
                        for frame in frames { perform(simulator.handle(frame, now: loop.clock.now, date: Date())) }
                        guard frames.count == 64, let again = port.link.socket else { break }
                        frames = try again.receiveBatch(max: 64)
                        port.receivedErrorFrames(now: loop.clock.now)
                    }
                } catch {
                    port.lose(error, now: loop.clock.now)
                }
            case .readable(let fd) where fd == httpSide?.notifyFD:
                httpSide?.drain()
            case .readable(let fd) where fd == self.verifierPool?.notifyFD:
                self.verifierPool?.drainNotifications()
                perform(simulator.verifiersReady(now: loop.clock.now, date: Date()))
            case .readable(let fd) where fd == control.listenFD:
                for client in control.acceptAll() { loop.watch(client) }
            case .readable(let fd):
                guard let line = control.read(fd) else { break }
                loop.unwatch(fd)
                let reply: String
                do {
                    let answer = execute(try ControlCommand.parse(line))
                    reply = CloudSimulator.Reply(ok: answer.ok, text: answer.text).description
                } catch {
                    reply = "error \(error)"
                }
                control.finish(fd, reply: reply)
            case .writable:
                port?.writable(now: loop.clock.now)
            case .timer(let now):
                perform(simulator.handleTimeout(now: now, date: Date()))
            case .signal:
                break
            }
            guard let port else {
                loop.arm(simulator.nextDeadline)
                return
            }
            // The transmitter's ENOBUFS retry, CanSM's polls, restarts and quiet period, the reopen.
            port.handleTimeout(now: loop.clock.now)
            if let socket = port.reopenIfDue(now: loop.clock.now) { loop.watch(socket.fileDescriptor) }
            if port.takeTransmitConfirmation() { simulator.framesTransmitted(now: loop.clock.now) }
            port.refreshDiagnostics()
            if let socket = port.link.socket { loop.watchWritable(socket.fileDescriptor, port.wantsWritable) }
            loop.arm(simulator.nextDeadline.earliest(port.nextDeadline))
        }
        if let httpSide {
            httpSide.stop()
            loop.unwatch(httpSide.notifyFD)
        }
        if let port {
            let counters = port.transmitter.counters
            if counters.dropped > 0 { print("spaak-cloud: \(counters.dropped) frames dropped: the bus did not take them") }
            if port.notSent > 0 || port.link.outages > 0 {
                print("spaak-cloud: \(port.notSent) frames not sent, \(port.link.outages) bus outages")
            }
            let bus = port.diagnostics
            if bus.refusedWrites > 0 || bus.errorFrames > 0 || bus.busOffs > 0 || bus.statusSkipped > 0 {
                print("spaak-cloud: \(port.summary)")
            }
            if let socket = port.link.socket { loop.unwatch(socket.fileDescriptor) }
            port.link.socket?.close()
        }
        if case .signal(let signo) = exit { print("spaak-cloud: stopped by signal \(signo)") }
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

extension ControlCommand {
    /// Whether the command sends something to the vehicle or changes the TBM's link
    /// (refused by `serve --no-bus`, which has no vehicle bus).
    var needsBus: Bool {
        switch self {
        case .pushVerifier, .terminateOwnerKey, .pairingMode, .tbm: return true
        default: return false
        }
    }
}
