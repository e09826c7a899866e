import CanSM
import EventLoop
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Logging
import SecureStore
import SocketCAN
import SpaakCore
import SpaakECU

/// The imperative shell of `spaak-ecu`: the CAN socket, the event loop, the clock and the
/// store directory around one `SpaakModule`.
final class ModuleRunner {
    let configuration: ECUConfiguration
    let interface: String
    let storePath: String
    let logger: Logger
    /// Where the store's device key comes from (`spaak-ecu --device-key-file`).
    var deviceKey: SecureStoreDeviceKey = .generatedFile
    /// The store's monotonic counter file; `nil`: the default beside the store folder.
    var counterPath: String?
    /// Told `READY=1` where the module enters its event loop (`spaak-ecu --ready-fd N`).
    var readiness: ReadinessNotifier?

    init(configuration: ECUConfiguration, interface: String, storePath: String, logger: Logger) {
        self.configuration = configuration
        self.interface = interface
        self.storePath = storePath
        self.logger = logger
    }

    /// Runs the plant's slow store work off the event loop (set by `run`).
    private var storeJobs: ThreadedStoreJobExecutor?

    /// Runs the module until SIGINT/SIGTERM. Only a bad configuration, a first open of the
    /// interface that fails, or the store/loop machinery failing end it with an error: a frame that cannot be sent is logged (rate-limited) and counted, a
    /// lost interface (down, deleted) is reopened every 500 ms while the module keeps its
    /// state, and a bus-off halts transmission until CanSM's recovery (`CANPort`).
    func run() throws {
        try configuration.ids.validate()
        let loop = try EventLoop()
        defer { loop.close() }
        let logger = self.logger
        let port = try CANPort(interface: interface, fd: configuration.canFD ? .required : .off,
                               filter: configuration.ids.received, cyclicIDs: [configuration.ids.spaakStatus],
                               now: loop.clock.now) { level, line in
            switch level {
            case .debug: logger.debug("\(line)")
            case .info: logger.info("\(line)")
            case .notice: logger.notice("\(line)")
            case .warning: logger.warning("\(line)")
            case .error: logger.error("\(line)")
            }
        }
        port.socketClosing = { loop.unwatch($0.fileDescriptor) }
        // The plant's slow store work runs on a worker; its pipe wakes the loop (issue 7 defect 10).
        let storeJobs = try ThreadedStoreJobExecutor()
        self.storeJobs = storeJobs
        defer { storeJobs.close() }
        loop.watch(storeJobs.wakeDescriptor)
        var module = try makeModule(now: loop.clock.now)
        module.busDiagnostics = port.diagnostics
        var ordering = ReceiveOrdering()
        var received = 0

        /// The module's outputs for one input go to the transmitter together: one sendmmsg
        /// when the kernel takes them all.
        func transmit(_ frames: [CANFrame], now: Instant) {
            port.submit(frames, now: now)
        }

        /// Reads what the socket holds (its error frames go to CanSM), then hands the frames
        /// and the passing of time to the module in the order it happened (a frame received
        /// before a deadline before that timeout). Returns the instant it read after the
        /// socket: the turn's time for the rest of the turn (one clock read per wake-up; in a
        /// VM whose clock source is the HPET every read is a system call). A timer turn
        /// (`timerAt`) does not read the socket: the loop dispatches a readable socket before
        /// its timer, so the socket was drained in this turn already.
        func pump(timerAt: Instant? = nil) -> Instant {
            var frames: [ReceivedCANFrame] = []
            var errorFrames = false
            if timerAt == nil, let socket = port.link.socket {
                do {
                    var batch = try socket.receiveStampedBatch(max: 64)
                    while !batch.isEmpty {
                        frames += batch
                        batch = batch.count == 64 && frames.count < 4096 ? try socket.receiveStampedBatch(max: 64) : []
                    }
                    errorFrames = true
                } catch {
                    port.lose(error, now: loop.clock.now)
                }
            }
            let read = timerAt ?? loop.clock.now
            if errorFrames { port.receivedErrorFrames(now: read) }
            received += frames.count
            let now = frames.count >= 4096 ? (frames.last?.receivedAt ?? read) : read
            ordering.deliver(frames, receivedAt: { $0.receivedAt }, now: now, nextDeadline: { module.nextDeadline },
                             input: { transmit(module.handle($0.frame, now: $1), now: $1) },
                             timeout: { transmit(module.handleTimeout(now: $0), now: $0) })
            return read
        }

        let ids = configuration.ids
        print("spaak-ecu \(configuration.serial) on \(interface)\(configuration.canFD ? " (CAN FD)" : ""): "
              + "status 0x\(CANFrame.hexText(ids.spaakStatus)) every \(Int(configuration.statusPeriod.milliseconds)) ms, "
              + "UDS 0x\(CANFrame.hexText(ids.udsRequest))/0x\(CANFrame.hexText(ids.udsResponse)) functional 0x\(CANFrame.hexText(ids.udsFunctional)), "
              + "cloud 0x\(CANFrame.hexText(ids.v2c))/0x\(CANFrame.hexText(ids.c2v)), "
              + "NFC 0x\(CANFrame.hexText(ids.nfcStatus)) HU 0x\(CANFrame.hexText(ids.huRequest)) "
              + "APDU 0x\(CANFrame.hexText(ids.apduCommand))/0x\(CANFrame.hexText(ids.apduResponse)), store \(storePath) — ready")
        fflush(nil)
        do { try readiness?.notifyReady() } catch { logger.warning("\(error)") }
        if let socket = port.link.socket { loop.watch(socket.fileDescriptor) }
        transmit(module.handleTimeout(now: loop.clock.now), now: loop.clock.now)
        loop.arm(module.nextDeadline.earliest(port.nextDeadline))
        let exit = try loop.run { event in
            let now: Instant
            switch event {
            case .readable(let fd) where fd == storeJobs.wakeDescriptor:
                storeJobs.acknowledgeWake()
                now = pump()
                transmit(module.handleTimeout(now: now), now: now)
            case .readable:
                now = pump()
            case .timer(let at):
                now = pump(timerAt: at)
            case .writable:
                now = loop.clock.now
                port.writable(now: now)
            case .signal:
                now = loop.clock.now
            }
            // The transmitter's ENOBUFS retry, CanSM's polls, restarts and quiet period, the reopen.
            port.handleTimeout(now: now)
            if let socket = port.reopenIfDue(now: now) { loop.watch(socket.fileDescriptor) }
            // CanTp's TxConfirmation: every frame handed out is in the kernel now. Its instant is
            // read after the write, not the turn's `now` (read before the module's work): a turn
            // preempted between the two would otherwise shorten the peer's STmin by the delay.
            if port.takeTransmitConfirmation() { module.framesTransmitted(now: loop.clock.now) }
            if module.restartRequested {
                // ECUReset: a new module from the store; the bus and its counters stay the shell's.
                let started = loop.clock.now
                module = try self.makeModule(now: started)
                module.busDiagnostics = port.diagnostics
                transmit(module.handleTimeout(now: started), now: started)
            }
            if port.refreshDiagnostics() { module.busDiagnostics = port.diagnostics }
            if let socket = port.link.socket { loop.watchWritable(socket.fileDescriptor, port.wantsWritable) }
            loop.arm(module.nextDeadline.earliest(port.nextDeadline))
        }
        let sent = port.transmitter.counters
        logger.notice("""
            counters: frames received \(received), sent \(sent.sent), dropped \(sent.dropped), not sent \(port.notSent), \
            unsendable \(sent.unsendable), lost in socket buffer \(port.link.receiveBufferDrops); \
            bus outages \(port.link.outages); \(port.summary); \(module.counterSummary)
            """)
        if case .signal(let signo) = exit { logger.info("stopped by signal \(signo)") }
        if let socket = port.link.socket { loop.unwatch(socket.fileDescriptor) }
        port.link.socket?.close()
    }

    /// A module freshly started from its store: at start and after every ECUReset.
    private func makeModule(now: Instant) throws -> SpaakModule {
        // A store that cannot be opened (damaged device key) gives a degraded store, logged:
        // the module starts, every entry reads as corrupt, nothing is written.
        let counter = FileMonotonicCounter(path: counterPath ?? FileMonotonicCounter.defaultPath(forStore: storePath))
        let store = FileSecureStore.openOrDegraded(directory: storePath, deviceKey: deviceKey,
                                                   monotonicCounter: counter, logger: logger)
        return SpaakModule(configuration: configuration, store: store, now: now, wallClock: { Date() }, logger: logger,
                           storeJobs: storeJobs ?? InlineStoreJobExecutor(), seedSource: { randomSeed() })
    }

}

/// 16 bytes from the system's cryptographic random source.
func randomSeed() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
