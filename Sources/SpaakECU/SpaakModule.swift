import E2E
import Foundation
import ISOTP
import Logging
import SecureStore
import SpaakCore
import UDS

/// One simulated SpaaK module: routes received CAN frames to its layers (E2E supervision,
/// ISO-TP channels, the UDS server, the application) and collects the frames to send.
///
/// It reads no clock and opens no socket: the event loop passes every frame and the
/// current `Instant` in, sends what comes back, and calls `handleTimeout(now:)` when
/// `nextDeadline` passes. The same object runs under a `VirtualClock` in unit tests.
public final class SpaakModule {
    /// The module's identity and CAN identifiers.
    public let configuration: ECUConfiguration
    /// Set after an ECUReset response went out: the shell builds a new module from the store.
    public private(set) var restartRequested = false

    var logger: Logger
    var tbm: TBMStatusSupervisor
    var statusTransmitter: SpaakStatusTransmitter
    var udsPhysical: ISOTPChannel
    var udsFunctional: ISOTPChannel
    var cloud: ISOTPChannel
    var uds: DiagnosticServer
    var application: ModuleApplication
    var outbox: [CANFrame] = []
    var resetAfterTransmit = false

    /// Creates a module that starts at `now`.
    ///
    /// - Parameters:
    ///   - seedSource: fresh random security-access seeds (16 bytes per call).
    ///   - logger: where transitions and rejected input are logged.
    ///   - store: the module's secure store (its state survives restarts there).
    ///   - wallClock: calendar time for certificate validity checks.
    ///   - storeJobs: runs the plant's slow store work (certificate and VIN writes, key
    ///     generation, the plant lock). The default runs it at once, in the caller's turn;
    ///     `spaak-ecu` passes a `ThreadedStoreJobExecutor` and calls `handleTimeout(now:)`
    ///     when its `wakeDescriptor` is readable.
    public init(configuration: ECUConfiguration, store: any SecureStore, now: Instant,
                wallClock: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
                storeJobs: any StoreJobExecutor = InlineStoreJobExecutor(),
                seedSource: @escaping @Sendable () -> [UInt8]) {
        self.configuration = configuration
        self.logger = logger
        let ids = configuration.ids
        tbm = TBMStatusSupervisor(configuration: .init(canID: ids.tbmStatus, timeout: .milliseconds(1000)))
        statusTransmitter = SpaakStatusTransmitter(
            configuration: .init(canID: ids.spaakStatus, period: configuration.statusPeriod),
            signals: SpaakStatusSignals(), start: now)
        let format: ISOTPConfiguration.FrameFormat = configuration.canFD ? .fd(bitRateSwitch: false) : .classic
        udsPhysical = ISOTPChannel(configuration: ISOTPConfiguration(
            txID: ids.udsResponse, rxID: ids.udsRequest, frameFormat: format,
            blockSize: configuration.blockSize, separationTime: configuration.separationTime))
        udsFunctional = ISOTPChannel(configuration: ISOTPConfiguration(
            txID: ids.udsResponse, rxID: ids.udsFunctional, frameFormat: format, singleFrameOnly: true))
        cloud = ISOTPChannel(configuration: ISOTPConfiguration(
            txID: ids.v2c, rxID: ids.c2v, frameFormat: format,
            blockSize: configuration.blockSize, separationTime: configuration.separationTime))
        application = ModuleApplication(configuration: configuration, store: store, wallClock: wallClock, logger: logger)
        application.storeJobs = storeJobs
        uds = DiagnosticServer(persistedSecurityAttempts: application.persistedSecurityAttempts, now: now,
                               seedSource: seedSource,
                               keyFunction: SecurityAccessKey.function(plantKey: configuration.plantKey))
        refreshStatus()
    }

    /// The earliest instant at which `handleTimeout(now:)` has work.
    public var nextDeadline: Instant? {
        statusTransmitter.nextDeadline
            .earliest(tbm.nextDeadline)
            .earliest(udsPhysical.nextDeadline)
            .earliest(udsFunctional.nextDeadline)
            .earliest(cloud.nextDeadline)
            .earliest(uds.nextDeadline)
            .earliest(application.nextDeadline)
    }

    /// One line of counters for logs: E2E supervision, ISO-TP channels, rejected C2V messages.
    public var counterSummary: String {
        let t = tbm.counters
        let u = udsPhysical.counters
        let c = cloud.counters
        return "TBM_Status valid \(t.valid), bad CRC \(t.discardedCRC), bad DLC \(t.discardedLength), lost \(t.lost); "
            + "UDS ISO-TP rx \(u.messagesReceived) tx \(u.messagesTransmitted) errors \(u.receiveErrors + u.transmitErrors); "
            + "cloud ISO-TP rx \(c.messagesReceived) tx \(c.messagesTransmitted); C2V rejected \(application.c2vRejected)"
    }

    /// Whether the TBM is online (ICD 3).
    public var isTBMOnline: Bool { tbm.isOnline }

    /// Handles one received frame; returns the frames to send, in order.
    public func handle(_ frame: CANFrame, now: Instant) -> [CANFrame] {
        let ids = configuration.ids
        guard !frame.isExtended else { return [] }
        switch frame.id {
        case ids.tbmStatus:
            let transitions = tbm.receive(frame, now: now)
            if !transitions.isEmpty { tbmTransitions(transitions, now: now) }
        case ids.udsRequest:
            isotp(udsPhysical.handle(frame, now: now), addressing: .physical, now: now)
        case ids.udsFunctional:
            isotp(udsFunctional.handle(frame, now: now), addressing: .functional, now: now)
        case ids.c2v:
            cloudLink(cloud.handle(frame, now: now), now: now)
        default:
            break
        }
        return takeOutbox()
    }

    /// The frames returned last were written to the bus at `now` (transmit confirmation):
    /// ISO-TP then measures STmin from the real transmission.
    public func framesTransmitted(now: Instant) {
        udsPhysical.transmissionConfirmed(now: now)
        cloud.transmissionConfirmed(now: now)
    }

    /// Handles the passing of time (cyclic frames, timeouts, pending work) and collects
    /// finished store jobs (call it also when the executor signals one).
    public func handleTimeout(now: Instant) -> [CANFrame] {
        let transitions = tbm.handleTimeout(now: now)
        if !transitions.isEmpty { tbmTransitions(transitions, now: now) }
        isotp(udsPhysical.handleTimeout(now: now), addressing: .physical, now: now)
        cloudLink(cloud.handleTimeout(now: now), now: now)
        isotp(udsFunctional.handleTimeout(now: now), addressing: .functional, now: now)
        diagnostic(uds.handleTimeout(now: now), now: now)
        for (token, result) in application.handleTimeout(now: now) {
            diagnostic(uds.complete(token, with: result, now: now), now: now)
        }
        flushV2C(now: now)
        refreshStatus()
        outbox += statusTransmitter.handleTimeout(now: now)
        return takeOutbox()
    }

    /// The frames received on the cloud channel: C2V messages to verify, V2C progress.
    private func cloudLink(_ outputs: [ISOTPOutput], now: Instant) {
        for output in outputs {
            switch output {
            case .transmit(let frame): outbox.append(frame)
            case .received(let message): application.receiveC2V(message, now: now)
            case .transmitCompleted: break
            case .failed(let error): logger.warning("ISO-TP cloud channel: \(error)")
            }
        }
        flushV2C(now: now)
    }

    /// Hands the next signed V2C message to the cloud channel once it is free.
    private func flushV2C(now: Instant) {
        while !cloud.isTransmitting, !application.outgoingV2C.isEmpty {
            let message = application.outgoingV2C.removeFirst()
            cloudLink(cloud.send(message, now: now), now: now)
        }
    }

    private func takeOutbox() -> [CANFrame] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    private func tbmTransitions(_ transitions: [TBMStatusSupervisor.Transition], now: Instant) {
        for transition in transitions {
            switch transition {
            case .wentOnline:
                logger.info("TBM online")
                application.provisioning(.tbmWentOnline, now: now)
            case .wentOffline(let reason):
                logger.info("TBM offline (\(reason))")
                application.provisioning(.tbmWentOffline, now: now)
            }
        }
        flushV2C(now: now)
        refreshStatus()
    }

    private func isotp(_ outputs: [ISOTPOutput], addressing: RequestAddressing, now: Instant) {
        for output in outputs {
            switch output {
            case .transmit(let frame):
                outbox.append(frame)
            case .received(let request):
                logger.debug("UDS request \(request.prefix(16).hexString)")
                diagnostic(uds.handleRequest(request, addressing: addressing, now: now), now: now)
            case .transmitCompleted:
                if resetAfterTransmit { restartRequested = true }
            case .failed(let error):
                logger.warning("ISO-TP \(addressing): \(error)")
                if resetAfterTransmit && error.isTransmitError { restartRequested = true }
            }
        }
    }

    private func diagnostic(_ actions: [DiagnosticAction], now: Instant) {
        for action in actions {
            switch action {
            case .send(let response):
                if response.first == 0x7F, response.count == 3 {
                    logger.info("UDS negative response \(response.hexString)")
                }
                isotp(udsPhysical.send(response, now: now), addressing: .physical, now: now)
            case .sessionChanged(let session):
                logger.info("UDS session \(session)")
            case .securityAccessChanged(let state):
                logger.info("UDS security access \(state)")
            case .persistSecurityAttempts(let count):
                application.persistSecurityAttempts(count)
            case .execute(let request):
                if let result = application.execute(request, now: now, tbmOnline: tbm.isOnline) {
                    diagnostic(uds.complete(request.token, with: result, now: now), now: now)
                }
                flushV2C(now: now)
            case .hardReset:
                logger.info("ECUReset: restarting from the store")
                resetAfterTransmit = true
                if !udsPhysical.isTransmitting { restartRequested = true }
            }
        }
        refreshStatus()
    }

    /// Recomputes the `SPAAK_Status` signals from the module's state.
    func refreshStatus() {
        var signals = application.statusSignals
        if tbm.isOnline { signals.provisioningFlags.insert(.tbmOnline) }
        statusTransmitter.signals = signals
    }
}
