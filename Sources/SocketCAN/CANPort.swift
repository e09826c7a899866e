import CanSM
import SpaakCore

/// One CAN interface as a runner's shell sees it (CanIf + CanSM on Linux): the socket that
/// outlives its interface (`CANLink`), the `CANTransmitter` in front of the kernel, the
/// `CanStateManager` fed with error frames and the controller's polled status, and the
/// DID 0xD130 record they fill. `spaak-ecu` and `spaak-cloud` use it the same way:
///
///     let port = try CANPort(interface: "can0", filter: ids, cyclicIDs: [0x3A8], now: clock.now) { level, line in … }
///     port.socketClosing = { loop.unwatch($0.fileDescriptor) }
///     // frames from the module:      port.submit(frames, now: clock.now)
///     // after each read:             port.receivedErrorFrames(now: clock.now)
///     // POLLOUT:                     port.writable(now: clock.now)
///     // the timer:                   port.handleTimeout(now: clock.now); port.reopenIfDue(now:) → watch the new socket
///     // each turn:                   if port.takeTransmitConfirmation() { module.framesTransmitted(now: clock.now) }
///     //                              loop.watchWritable(fd, port.wantsWritable); arm module.nextDeadline.earliest(port.nextDeadline)
///
/// A write error other than "not now" (the interface went down or away) closes the socket
/// (`socketClosing` first: unwatch it) and discards the queue (counted in `notSent`); the
/// link reopens it every 500 ms. Nothing here ends the process after the start.
public final class CANPort {
    /// How loud a line is.
    public enum LogLevel: Sendable { case debug, info, notice, warning, error }

    /// The link (its `socket` is `nil` while the interface is lost).
    public let link: CANLink
    /// The transmit queue and its counters.
    public private(set) var transmitter: CANTransmitter
    /// The controller's state machine (virtual on a `vcan`).
    public private(set) var stateManager: CanStateManager
    /// DID 0xD130 as of the last `refreshDiagnostics()`.
    public private(set) var diagnostics = CANBusDiagnostics()
    /// Frames not sent because the interface was lost (queued then, or submitted while down).
    public private(set) var notSent = 0
    /// Called with the socket just before it is closed (unwatch its descriptor).
    public var socketClosing: (CANSocket) -> Void = { _ in }

    private let log: (LogLevel, String) -> Void
    /// A real controller (error frames, polls, bus-off); `false` on a `vcan`.
    private let isController: Bool
    private var confirmationOwed = false
    private var lastUnsendableLog: Instant?
    private var unsendableHeld = 0
    private var reportedUnsendable = 0

    /// Reads what the interface is (`CANBusSetup.inspect`: a controller's status, or none
    /// on a `vcan`: state virtual, no bus-off handling), opens the socket (with error
    /// frames on a controller) and starts CanSM. The controller's setup (`--bitrate`) is
    /// the command's, before. An open that fails here is the operator's to fix.
    public init(interface: String, fd mode: CANSocket.FDMode = .off, filter: [UInt32]?, cyclicIDs: Set<UInt32>,
                capacity: Int = 4096, now: Instant, log: @escaping (LogLevel, String) -> Void) throws {
        self.log = log
        let bus = CANBusSetup.inspect(interface)
        isController = bus.isController
        link = try CANLink(interface: interface, fd: mode, filter: filter)
        transmitter = CANTransmitter(capacity: capacity, cyclicIDs: cyclicIDs)
        stateManager = CanStateManager(recovery: bus.recovery, now: now)
        log(.notice, bus.summary)
        if let socket = link.socket { enableErrorFrames(socket) }
        if let status = bus.status { perform(stateManager.handle(status, now: now), now: now) }
        refreshDiagnostics()
    }

    /// The interface's name.
    public var interface: String { link.interface }

    /// Whether to watch the socket for POLLOUT (only after EAGAIN, never while halted).
    public var wantsWritable: Bool { link.socket != nil && transmitter.wantsWritable }

    /// The earliest of the transmitter's retry, CanSM's deadline and the link's reopen attempt.
    public var nextDeadline: Instant? {
        transmitter.nextDeadline.earliest(stateManager.nextDeadline).earliest(link.nextAttempt)
    }

    /// Queues `frames` behind what is queued and writes what the kernel takes now (in one
    /// batch when it takes them all). While the interface is lost they are counted not sent.
    public func submit(_ frames: [CANFrame], now: Instant) {
        guard !frames.isEmpty else { return }
        confirmationOwed = true
        guard link.socket != nil else {
            notSent += frames.count
            return
        }
        write(now: now) { try $0.submit(frames, now: now, send: $1) }
    }

    /// POLLOUT on the socket.
    public func writable(now: Instant) {
        write(now: now) { try $0.writable(now: now, send: $1) }
    }

    /// The timer fired (or any turn): the transmitter's retry and CanSM's deadlines.
    public func handleTimeout(now: Instant) {
        write(now: now) { try $0.handleTimeout(now: now, send: $1) }
        if let due = stateManager.nextDeadline, now >= due {
            perform(stateManager.handleTimeout(now: now), now: now)
        }
    }

    /// Hands the error frames of the last reads to CanSM (call it after every read).
    public func receivedErrorFrames(now: Instant) {
        guard let socket = link.socket else { return }
        for frame in socket.takeErrorFrames() {
            perform(stateManager.handle(frame, now: now), now: now)
        }
    }

    /// `true` once after everything submitted since the last confirmation is in the
    /// kernel (or dropped and counted): the module's transmit confirmation is due
    /// (CanTp's TxConfirmation: STmin and N_Bs run from here).
    public func takeTransmitConfirmation() -> Bool {
        guard confirmationOwed, transmitter.isIdle else { return false }
        confirmationOwed = false
        return true
    }

    /// A read or write failed: closes the socket (the queue is discarded, counted) and
    /// schedules the reopen; logs the outage once.
    public func lose(_ error: any Error, now: Instant) {
        guard let socket = link.socket else { return }
        socketClosing(socket)
        notSent += transmitter.removeAll()
        if link.lose(now: now) {
            log(.error, "\(interface) lost: \(error); reopening it every \(Int(link.retryInterval.milliseconds)) ms")
        }
    }

    /// Tries to reopen a lost interface when due; returns the new socket (watch it).
    public func reopenIfDue(now: Instant) -> CANSocket? {
        switch link.reopenIfDue(now: now) {
        case .opened(let socket, let outage)?:
            enableErrorFrames(socket)
            log(.notice, "\(interface) is back after \(Int(outage.milliseconds)) ms: resuming")
            if isController { perform([.pollController], now: now) }
            return socket
        case .stillDown(let error)?:
            log(.debug, "\(interface) still unavailable: \(error)")
            return nil
        case nil:
            return nil
        }
    }

    /// Recomputes DID 0xD130 from CanSM and the transmitter; `true` when it changed.
    @discardableResult
    public func refreshDiagnostics() -> Bool {
        var record = CANBusDiagnostics()
        stateManager.diagnostics(into: &record)
        transmitter.diagnostics(into: &record)
        guard record != diagnostics else { return false }
        diagnostics = record
        return true
    }

    /// The controller's and the transmitter's part of the exit log's counters line.
    public var summary: String {
        let c = transmitter.counters
        return "\(interface) \(stateManager.state): refused writes \(c.refusedWrites) (ENOBUFS \(c.deviceQueueFull)), "
            + "status late \(c.statusLate) skipped \(c.statusSkipped), error frames \(diagnostics.errorFrames), "
            + "bus-offs \(diagnostics.busOffs) recoveries \(diagnostics.recoveries)"
    }

    // MARK: - Inside

    /// Runs a transmitter step with the socket's batch write; a thrown error loses the link.
    private func write(now: Instant, _ step: (inout CANTransmitter, CANTransmitter.Send) throws -> Void) {
        guard let socket = link.socket else { return }
        do {
            try step(&transmitter) { try socket.send(batch: $0) }
        } catch {
            lose(error, now: now)
        }
        logUnsendable(now: now)
    }

    /// CanSM's actions, in order.
    private func perform(_ actions: [CanSMAction], now: Instant) {
        for action in actions {
            switch action {
            case .haltTransmission:
                transmitter.halt()
            case .resumeTransmission:
                write(now: now) { try $0.resume(now: now, send: $1) }
            case .restartController:
                do {
                    try CANController.restart(interface)
                } catch {
                    perform(stateManager.restartFailed(String(describing: error), now: now), now: now)
                }
            case .pollController:
                do {
                    let status = try CANController.status(of: interface)
                    perform(stateManager.handle(status, now: now), now: now)
                } catch {
                    log(.debug, "\(interface): status not read: \(error)")
                }
            case .log(let level, let line):
                switch level {
                case .info: log(.info, "\(interface): \(line)")
                case .notice: log(.notice, "\(interface): \(line)")
                case .warning: log(.warning, "\(interface): \(line)")
                }
            }
        }
    }

    private func enableErrorFrames(_ socket: CANSocket) {
        guard isController else { return }
        do {
            try socket.receiveErrorFrames(true)
        } catch {
            log(.warning, "\(interface): error frames not received (\(error)); the controller's state comes from polls only")
        }
    }

    /// One line per 10 s for frames the interface can never take, with the count held back.
    private func logUnsendable(now: Instant) {
        let count = transmitter.counters.unsendable
        guard count > reportedUnsendable, let last = transmitter.lastUnsendable else { return }
        let new = count - reportedUnsendable
        reportedUnsendable = count
        if let previous = lastUnsendableLog, now - previous < .seconds(10) {
            unsendableHeld += new
            return
        }
        let held = unsendableHeld + new - 1
        lastUnsendableLog = now
        unsendableHeld = 0
        log(.error, "frame not sent: \(last.frame): \(last.reason)\(held > 0 ? " (\(held) more not logged)" : "")")
    }
}
