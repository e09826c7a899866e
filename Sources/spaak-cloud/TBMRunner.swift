import CloudSimulator
import EventLoop
import Foundation
import Glibc
import GSDP
import GSDPTransport
import Logging
import SocketCAN
import SpaakCore

/// The imperative shell of `spaak-cloud tbm`: the CAN socket (`CANPort`), the GSDP
/// WebSocket client (`GSDPClient`), the control socket, the event loop and the log and
/// trace around one `TBMRelay`. Everything that touches the relay runs on the loop's thread.
final class TBMRunner {
    /// What the command line chose.
    struct Configuration {
        var name: String
        var serials: [String]
        var urls: [String]
        var firstIndex: Int
        var interface: String
        var canFD: Bool
        var statusID: UInt32
        var v2cID: UInt32
        var c2vID: UInt32
        var controlPath: String
    }

    let configuration: Configuration
    let trace: TraceWriter?
    let readiness: ReadinessNotifier?

    init(configuration: Configuration, trace: TraceWriter?, readiness: ReadinessNotifier?) {
        self.configuration = configuration
        self.trace = trace
        self.readiness = readiness
    }

    /// What the control socket takes (the VOS's commands belong to `spaak-cloud vos`).
    static let usage = "the TBM takes: tbm online|offline|unsubscribe|silent · status"

    func run() throws {
        let c = configuration
        let loop = try EventLoop()
        defer { loop.close() }
        let port = try CANPort(interface: c.interface, fd: c.canFD ? .required : .off, filter: [c.v2cID], cyclicIDs: [c.statusID],
                               now: loop.clock.now) { level, line in
            if level != .debug { print("spaak-cloud tbm: \(line)") }
        }
        port.socketClosing = { loop.unwatch($0.fileDescriptor) }
        let control = try ControlServer(path: c.controlPath)
        defer { control.close() }
        // After the loop blocked SIGINT/SIGTERM: the client's threads inherit the mask.
        var logger = Logger(label: "spaak-cloud.tbm.gsdp")
        logger.logLevel = .warning
        let client = try GSDPClient(logger: logger)
        defer { client.shutdown() }

        let isotp = TBMSimulator.isotpConfiguration(txID: c.c2vID, rxID: c.v2cID, canFD: c.canFD)
        let tbm = TBMSimulator(now: loop.clock.now, linkState: .offline, statusID: c.statusID, isotp: isotp)
        var seed = SystemRandomNumberGenerator()
        let link = GSDPLinkMachine(urls: c.urls, firstIndex: c.firstIndex, hello: GSDPHello(tbm: c.name, serials: c.serials),
                                   backoff: GSDPBackoff(random: SplitMix64(seed: seed.next())), now: loop.clock.now)
        var relay = TBMRelay(tbm: tbm, link: link, now: loop.clock.now)

        /// Carries out the relay's actions; `now` is the turn's instant (one clock read per
        /// wake-up: in a VM whose clock source is the HPET every read is a system call).
        func perform(_ step: TBMRelay.Step, now: Instant) {
            for event in step.events { log(event) }
            var frames: [CANFrame] = []
            for action in step.actions {
                switch action {
                case .transmit(let frame): frames.append(frame)
                case .connect(let url): client.connect(url)
                case .sendBinary(let bytes): client.send(binary: bytes)
                case .sendText(let text): client.send(text: text)
                case .close(let reason): client.close(reason: reason)
                }
            }
            port.submit(frames, now: now)
            // TxConfirmation at the instant after the write (STmin runs from there), not the turn's.
            if port.takeTransmitConfirmation() { relay.framesTransmitted(now: loop.clock.now) }
        }

        func execute(_ line: String) -> String {
            let command: ControlCommand
            do { command = try ControlCommand.parse(line) } catch { return "error \(error)" }
            switch command {
            case .tbm(let state):
                let now = loop.clock.now
                perform(relay.setOverride(state, now: now), now: now)
                return "ok TBM \(state)" + (state == .online ? " (following the GSDP link)" : " (GSDP link closed until tbm online)")
            case .status:
                return "ok " + relay.statusLine
            default:
                return "error \(Self.usage)"
            }
        }

        if let socket = port.link.socket { loop.watch(socket.fileDescriptor) }
        loop.watch(control.listenFD)
        loop.watch(client.events.notifyFD)
        print("spaak-cloud tbm \(c.name) on \(c.interface)\(c.canFD ? " (CAN FD)" : ""): TBM_Status 0x\(CANFrame.hexText(c.statusID)) every 100 ms, "
              + "V2C 0x\(CANFrame.hexText(c.v2cID)) → VOS, C2V 0x\(CANFrame.hexText(c.c2vID)); VOS \(c.urls.joined(separator: ",")) "
              + "(first \(c.urls[c.firstIndex])); control \(c.controlPath) — ready")
        fflush(nil)
        do { try readiness?.notifyReady() } catch { print("spaak-cloud tbm: \(error)") }
        let started = loop.clock.now
        perform(relay.handleTimeout(now: started), now: started)
        loop.arm(relay.nextDeadline)
        let exit = try loop.run { event in
            // The turn's instant: the timer's, else one clock read after poll.
            var now: Instant
            if case .timer(let at) = event { now = at } else { now = loop.clock.now }
            switch event {
            case .readable(let fd) where fd == port.link.socket?.fileDescriptor:
                guard let socket = port.link.socket else { break }
                do {
                    var frames = try socket.receiveBatch(max: 64)
                    port.receivedErrorFrames(now: now)
                    while !frames.isEmpty {
                        for frame in frames { perform(relay.handle(frame, now: now), now: now) }
                        guard frames.count == 64, let again = port.link.socket else { break }
                        frames = try again.receiveBatch(max: 64)
                        now = loop.clock.now
                        port.receivedErrorFrames(now: now)
                    }
                } catch {
                    port.lose(error, now: now)
                }
            case .readable(let fd) where fd == client.events.notifyFD:
                for linkEvent in client.events.take() {
                    switch linkEvent {
                    case .connected: perform(relay.linkConnected(now: now), now: now)
                    case .text(let text): perform(relay.linkReceived(text: text, now: now), now: now)
                    case .binary(let bytes): perform(relay.linkReceived(binary: bytes, now: now), now: now)
                    case .closed(let reason): perform(relay.linkClosed(reason: reason, now: now), now: now)
                    }
                }
            case .readable(let fd) where fd == control.listenFD:
                for connection in control.acceptAll() { loop.watch(connection) }
            case .readable(let fd):
                guard let line = control.read(fd) else { break }
                loop.unwatch(fd)
                control.finish(fd, reply: execute(line))
            case .writable:
                port.writable(now: now)
            case .timer:
                perform(relay.handleTimeout(now: now), now: now)
            case .signal:
                break
            }
            // The transmitter's ENOBUFS retry, CanSM's polls, restarts and quiet period, the reopen.
            port.handleTimeout(now: now)
            if let socket = port.reopenIfDue(now: now) { loop.watch(socket.fileDescriptor) }
            if port.takeTransmitConfirmation() { relay.framesTransmitted(now: loop.clock.now) }
            port.refreshDiagnostics()
            if let socket = port.link.socket { loop.watchWritable(socket.fileDescriptor, port.wantsWritable) }
            loop.arm(relay.nextDeadline.earliest(port.nextDeadline))
        }
        loop.unwatch(client.events.notifyFD)
        if port.notSent > 0 || port.link.outages > 0 {
            print("spaak-cloud tbm: \(port.notSent) frames not sent, \(port.link.outages) bus outages")
        }
        if let socket = port.link.socket { loop.unwatch(socket.fileDescriptor) }
        port.link.socket?.close()
        print("spaak-cloud tbm: \(relay.statusLine)")
        if case .signal(let signo) = exit { print("spaak-cloud tbm: stopped by signal \(signo)") }
    }

    private func log(_ event: CloudEvent) {
        print(event.description)
        fflush(nil)
        trace?.write(event)
    }
}
