import EventLoop
import Foundation
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
    /// interface that fails, or the store/loop machinery failing end it with an error: a
    /// frame that cannot be sent is logged (rate-limited) and counted, and a lost interface
    /// (down, deleted) is reopened every 500 ms while the module keeps its state.
    func run() throws {
        try configuration.ids.validate()
        let link = try CANLink(interface: interface, fd: configuration.canFD ? .required : .off,
                               filter: configuration.ids.received)
        let loop = try EventLoop()
        defer { loop.close() }
        // The plant's slow store work runs on a worker; its pipe wakes the loop (issue 7 defect 10).
        let storeJobs = try ThreadedStoreJobExecutor()
        self.storeJobs = storeJobs
        defer { storeJobs.close() }
        loop.watch(storeJobs.wakeDescriptor)
        var module = try makeModule(now: loop.clock.now)
        var queue = TransmitQueue<CANFrame>(capacity: 4096)
        var ordering = ReceiveOrdering()
        var counters = BusCounters()
        var unsendableLog = LogRateLimit()

        func lose(_ error: any Error, now: Instant) {
            guard let socket = link.socket else { return }
            loop.unwatch(socket.fileDescriptor)
            counters.notSent += queue.count
            queue.removeAll()
            if link.lose(now: now) {
                let every = Int(link.retryInterval.milliseconds)
                logger.error("\(interface) lost: \(error); the module keeps its state and reopens it every \(every) ms")
            }
        }

        func transmit(_ frames: [CANFrame], now: Instant) {
            guard !frames.isEmpty else { return }
            for frame in frames {
                guard let socket = link.socket else {
                    counters.notSent += 1
                    continue
                }
                do {
                    try queue.send(frame) { try socket.send($0) }
                    counters.sent += 1
                } catch CANSocketError.unsendableFrame(_, let reason) {
                    counters.unsendable += 1
                    if let held = unsendableLog.allow(now: now) {
                        logger.error("frame not sent: \(frame): \(reason)\(held > 0 ? " (\(held) more not logged)" : "")")
                    }
                } catch {
                    counters.notSent += 1
                    lose(error, now: now)
                }
            }
            if queue.isEmpty { module.framesTransmitted(now: loop.clock.now) }
        }

        /// Reads what the socket holds, then hands it and the passing of time to the module in
        /// the order it happened (a frame received before a deadline before that timeout).
        func pump() {
            var received: [(CANFrame, Instant?)] = []
            if let socket = link.socket {
                do {
                    var batch = try socket.receiveStampedBatch(max: 64)
                    while !batch.isEmpty {
                        received += batch.map { ($0.frame, $0.receivedAt) }
                        batch = batch.count == 64 && received.count < 4096 ? try socket.receiveStampedBatch(max: 64) : []
                    }
                } catch {
                    lose(error, now: loop.clock.now)
                }
            }
            counters.received += received.count
            let now = received.count >= 4096 ? (received.last?.1 ?? loop.clock.now) : loop.clock.now
            ordering.deliver(received, now: now, nextDeadline: { module.nextDeadline },
                             input: { transmit(module.handle($0, now: $1), now: $1) },
                             timeout: { transmit(module.handleTimeout(now: $0), now: $0) })
        }

        func reopen() {
            switch link.reopenIfDue(now: loop.clock.now) {
            case .opened(let socket, let outage)?:
                loop.watch(socket.fileDescriptor)
                logger.notice("\(interface) is back after \(Int(outage.milliseconds)) ms: resuming")
            case .stillDown(let error)?:
                logger.debug("\(interface) still unavailable: \(error)")
            case nil:
                break
            }
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
        if let socket = link.socket { loop.watch(socket.fileDescriptor) }
        transmit(module.handleTimeout(now: loop.clock.now), now: loop.clock.now)
        loop.arm(module.nextDeadline)
        let exit = try loop.run { event in
            switch event {
            case .readable(let fd) where fd == storeJobs.wakeDescriptor:
                storeJobs.acknowledgeWake()
                pump()
                transmit(module.handleTimeout(now: loop.clock.now), now: loop.clock.now)
            case .readable, .timer:
                pump()
            case .writable:
                if let socket = link.socket {
                    do { _ = try queue.flush { try socket.send($0) } } catch { lose(error, now: loop.clock.now) }
                }
                if queue.isEmpty { module.framesTransmitted(now: loop.clock.now) }
            case .signal:
                break
            }
            reopen()
            if module.restartRequested {
                module = try self.makeModule(now: loop.clock.now)
                transmit(module.handleTimeout(now: loop.clock.now), now: loop.clock.now)
            }
            if let socket = link.socket { loop.watchWritable(socket.fileDescriptor, !queue.isEmpty) }
            loop.arm(module.nextDeadline.earliest(link.nextAttempt))
        }
        counters.dropped = queue.dropped
        counters.socketBufferDrops = link.receiveBufferDrops
        counters.outages = link.outages
        if queue.dropped > 0 { logger.warning("\(queue.dropped) frames dropped: the bus did not take them") }
        logger.notice("counters: \(counters); \(module.counterSummary)")
        if case .signal(let signo) = exit { logger.info("stopped by signal \(signo)") }
        link.socket?.close()
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

/// The shell's bus counters, logged at exit in the `counters:` line.
struct BusCounters: CustomStringConvertible {
    /// Frames read from the socket.
    var received = 0
    /// Frames written or queued for writing.
    var sent = 0
    /// Frames dropped from a full transmit queue.
    var dropped = 0
    /// Frames not sent because the interface was lost (including those queued then).
    var notSent = 0
    /// Frames the interface can never take (identifier or length), logged rate-limited.
    var unsendable = 0
    /// Frames the kernel dropped for a full receive buffer (SO_RXQ_OVFL).
    var socketBufferDrops: UInt64 = 0
    /// Times the interface was lost and reopened (or still being reopened at exit).
    var outages = 0

    var description: String {
        "frames received \(received), sent \(sent), dropped \(dropped), not sent \(notSent), unsendable \(unsendable), "
            + "lost in socket buffer \(socketBufferDrops); bus outages \(outages)"
    }
}
