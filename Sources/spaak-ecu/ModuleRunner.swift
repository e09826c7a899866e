import EventLoop
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

    init(configuration: ECUConfiguration, interface: String, storePath: String, logger: Logger) {
        self.configuration = configuration
        self.interface = interface
        self.storePath = storePath
        self.logger = logger
    }

    func run() throws {
        let socket = try CANSocket(interface: interface, fd: configuration.canFD ? .required : .off,
                                   filter: configuration.ids.received)
        let loop = try EventLoop()
        defer { loop.close() }
        var module = try makeModule(now: loop.clock.now)
        var queue = TransmitQueue<CANFrame>(capacity: 4096)
        var received = 0
        var sent = 0

        func transmit(_ frames: [CANFrame]) throws {
            guard !frames.isEmpty else { return }
            for frame in frames { _ = try queue.send(frame) { try socket.send($0) } }
            sent += frames.count
            if queue.isEmpty { module.framesTransmitted(now: loop.clock.now) }
        }

        let ids = configuration.ids
        print("spaak-ecu \(configuration.serial) on \(interface)\(configuration.canFD ? " (CAN FD)" : ""): "
              + "status 0x\(hex(ids.spaakStatus)) every \(Int(configuration.statusPeriod.milliseconds)) ms, "
              + "UDS 0x\(hex(ids.udsRequest))/0x\(hex(ids.udsResponse)) functional 0x\(hex(ids.udsFunctional)), "
              + "cloud 0x\(hex(ids.v2c))/0x\(hex(ids.c2v)), store \(storePath) — ready")
        fflush(nil)
        loop.watch(socket.fileDescriptor)
        try transmit(module.handleTimeout(now: loop.clock.now))
        loop.arm(module.nextDeadline)
        let exit = try loop.run { event in
            switch event {
            case .readable:
                var frames = try socket.receiveBatch(max: 64)
                while !frames.isEmpty {
                    received += frames.count
                    for frame in frames { try transmit(module.handle(frame, now: loop.clock.now)) }
                    frames = frames.count == 64 ? try socket.receiveBatch(max: 64) : []
                }
            case .writable:
                _ = try queue.flush { try socket.send($0) }
                if queue.isEmpty { module.framesTransmitted(now: loop.clock.now) }
            case .timer(let now):
                try transmit(module.handleTimeout(now: now))
            case .signal:
                break
            }
            if module.restartRequested {
                module = try self.makeModule(now: loop.clock.now)
                try transmit(module.handleTimeout(now: loop.clock.now))
            }
            loop.watchWritable(socket.fileDescriptor, !queue.isEmpty)
            loop.arm(module.nextDeadline)
        }
        if queue.dropped > 0 { logger.warning("\(queue.dropped) frames dropped: the bus did not take them") }
        logger.notice("counters: frames received \(received), sent \(sent), dropped \(queue.dropped); \(module.counterSummary)")
        if case .signal(let signo) = exit { logger.info("stopped by signal \(signo)") }
        socket.close()
    }

    /// A module freshly started from its store: at start and after every ECUReset.
    private func makeModule(now: Instant) throws -> SpaakModule {
        let store = try FileSecureStore(directory: storePath, logger: logger)
        return SpaakModule(configuration: configuration, store: store, now: now, logger: logger,
                           seedSource: { randomSeed() })
    }

    private func hex(_ id: UInt32) -> String { String(id, radix: 16, uppercase: true) }
}

/// 16 bytes from the system's cryptographic random source.
func randomSeed() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
