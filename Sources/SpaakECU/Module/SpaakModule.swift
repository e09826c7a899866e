import CanSM
import E2E
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ISOTP
import Logging
import SecureStore
import SpaakCore
import UDS

/// One simulated SpaaK module: a router that hands every received CAN frame, every passing
/// of time and every finished store job to the component that owns it, and collects the
/// frames to send.
///
/// - 0x3A0 `TBM_Status` → `TBMStatusSupervisor`; its transitions → `VehicleProvisioning`.
/// - 0x7A0 / 0x7DF → ISO-TP → `DiagnosticServer`; its application requests →
///   `DiagnosticApplication` (DIDs, plant routines) or `VehicleProvisioning` (routines that
///   start cloud work) (`SpaakModule+UDS.swift`).
/// - 0x6A8 → `CloudLink` (ISO-TP, C2V verification) → `VehicleProvisioning`, whose V2C
///   requests `CloudLink` signs and sends on 0x6A0.
/// - 0x3B0 `NFC_Status`, 0x3C0 `HU_Request`, 0x6B8 response APDUs → `VehicleOwnerPairing`,
///   whose command APDUs go out on 0x6B0 and whose reports, failed attempts and verifier
///   changes go to `VehicleProvisioning` (which hands it 0x0E and the owner key's deletion).
/// - every turn: `SPAAK_Status` on 0x3A8 from `ModuleStatus`.
///
/// It reads no clock and opens no socket: the shell passes every frame and the current
/// `Instant` in, sends what comes back, and calls `handleTimeout(now:)` when `nextDeadline`
/// passes or a store job finished. The store calls are I/O (see docs/ARCHITECTURE.md).
public final class SpaakModule {
    /// The module's identity and CAN identifiers.
    public let configuration: ECUConfiguration
    /// Set after an ECUReset response went out: the shell builds a new module from the store.
    public internal(set) var restartRequested = false
    /// The CAN controller's state and the bus counters, DID 0xD130: the shell's (CanSM and
    /// the transmitter) to keep up to date, also on the module it re-creates after an ECUReset.
    public var busDiagnostics = CANBusDiagnostics()

    let logger: Logger
    let storeView: StoreView
    let outbox = FrameOutbox()
    var tbm: TBMStatusSupervisor
    var statusTransmitter: SpaakStatusTransmitter
    var udsPhysical: ISOTPChannel
    var udsFunctional: ISOTPChannel
    var uds: DiagnosticServer
    let cloudLink: CloudLink
    let diagnostics: DiagnosticApplication
    let provisioning: VehicleProvisioning
    let ownerPairing: VehicleOwnerPairing
    var resetAfterTransmit = false

    /// Creates a module that starts at `now`.
    ///
    /// - Parameters:
    ///   - store: the module's secure store (its state survives restarts there).
    ///   - wallClock: calendar time for certificate validity checks (`spaak-ecu` passes
    ///     `Date()`; tests pass a fixed date).
    ///   - logger: where transitions and rejected input are logged.
    ///   - storeJobs: runs the slow store work (the plant's certificate and VIN writes, key
    ///     generation and lock; the cloud use cases' tasks). The default runs it at once, in
    ///     the caller's turn; `spaak-ecu` passes a `ThreadedStoreJobExecutor` and calls
    ///     `handleTimeout(now:)` when its `wakeDescriptor` is readable.
    ///   - seedSource: fresh random security-access seeds (16 bytes per call).
    public init(configuration: ECUConfiguration, store: any SecureStore, now: Instant,
                wallClock: @escaping @Sendable () -> Date, logger: Logger,
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
        let cloudChannel = ISOTPChannel(configuration: ISOTPConfiguration(
            txID: ids.v2c, rxID: ids.c2v, frameFormat: format,
            blockSize: configuration.blockSize, separationTime: configuration.separationTime))

        storeView = StoreView(store: store, wallClock: wallClock, configuredVIN: configuration.vin, logger: logger)
        let jobs = StoreJobs(executor: storeJobs, storeView: storeView, logger: logger)
        cloudLink = CloudLink(channel: cloudChannel, storeView: storeView, serial: configuration.serial, outbox: outbox,
                              logger: logger)
        diagnostics = DiagnosticApplication(configuration: configuration, storeView: storeView, jobs: jobs, logger: logger)
        provisioning = VehicleProvisioning(storeView: storeView, jobs: jobs, cloudLink: cloudLink, logger: logger)
        ownerPairing = VehicleOwnerPairing(
            ids: ids, channelConfiguration: ISOTPConfiguration(
                txID: ids.apduCommand, rxID: ids.apduResponse, frameFormat: format,
                blockSize: configuration.blockSize, separationTime: configuration.separationTime),
            storeView: storeView, jobs: jobs, provisioning: provisioning, outbox: outbox, logger: logger)
        provisioning.ownerPairingEvents = { [unowned ownerPairing] event, now in ownerPairing.event(event, now: now) }
        uds = DiagnosticServer(persistedSecurityAttempts: diagnostics.persistedSecurityAttempts, now: now,
                               seedSource: seedSource,
                               keyFunction: SecurityAccessKey.function(plantKey: configuration.plantKey))
        refreshStatus()
    }

    /// The earliest deadline of every component but `udsPhysical`, kept between calls (the
    /// outer `nil`: to be computed again). The shell asks `nextDeadline` after every frame; the
    /// frames of a long UDS request change `udsPhysical` alone, and asking all components each
    /// time was half of the module's work per frame. Every entry point that may change another
    /// component clears it.
    private var otherDeadlines: Instant?? = nil

    /// The earliest instant at which `handleTimeout(now:)` has work.
    public var nextDeadline: Instant? {
        if let others = otherDeadlines { return others.earliest(udsPhysical.nextDeadline) }
        let others = statusTransmitter.nextDeadline
            .earliest(tbm.nextDeadline)
            .earliest(udsFunctional.nextDeadline)
            .earliest(cloudLink.nextDeadline)
            .earliest(uds.nextDeadline)
            .earliest(diagnostics.nextDeadline)
            .earliest(provisioning.nextDeadline)
            .earliest(ownerPairing.nextDeadline)
        otherDeadlines = .some(others)
        return others.earliest(udsPhysical.nextDeadline)
    }

    /// One line of counters for logs: E2E supervision, ISO-TP channels, rejected C2V messages.
    public var counterSummary: String {
        let t = tbm.counters
        let u = udsPhysical.counters
        let c = cloudLink.counters
        let p = ownerPairing.counters
        return "TBM_Status valid \(t.valid), bad CRC \(t.discardedCRC), bad DLC \(t.discardedLength), lost \(t.lost); "
            + "UDS ISO-TP rx \(u.messagesReceived) tx \(u.messagesTransmitted) errors \(u.receiveErrors + u.transmitErrors); "
            + "cloud ISO-TP rx \(c.messagesReceived) tx \(c.messagesTransmitted); C2V rejected \(cloudLink.c2vRejected); "
            + "NFC_Status valid \(p.nfc.valid) bad CRC \(p.nfc.discardedCRC) bad DLC \(p.nfc.discardedLength); "
            + "HU_Request accepted \(p.headUnit.accepted) discarded \(p.headUnit.discardedCRC + p.headUnit.discardedLength + p.headUnit.repeated); "
            + "APDU ISO-TP rx \(p.channel.messagesReceived) tx \(p.channel.messagesTransmitted)"
    }

    /// Whether the TBM is online (ICD 3).
    public var isTBMOnline: Bool { tbm.isOnline }

    /// Handles one received frame; returns the frames to send, in order.
    public func handle(_ frame: CANFrame, now: Instant) -> [CANFrame] {
        let ids = configuration.ids
        guard !frame.isExtended else { return [] }
        if frame.id == ids.udsRequest {
            // Most frames of a long request complete nothing: only the channel changed (the
            // other deadlines stay known) and there is nothing to send.
            let outputs = udsPhysical.handle(frame, now: now)
            guard !outputs.isEmpty else { return [] }
            otherDeadlines = nil
            isotp(outputs, addressing: .physical, now: now)
            return outbox.take()
        }
        otherDeadlines = nil
        switch frame.id {
        case ids.tbmStatus:
            tbmTransitions(tbm.receive(frame, now: now), now: now)
        case ids.udsFunctional:
            isotp(udsFunctional.handle(frame, now: now), addressing: .functional, now: now)
        case ids.c2v:
            c2vMessages(cloudLink.receive(frame, now: now), now: now)
        case ids.nfcStatus:
            ownerPairing.nfcStatus(frame, now: now)
            cloudLink.flush(now: now)
            refreshStatus()
        case ids.huRequest:
            ownerPairing.huRequest(frame, now: now)
            cloudLink.flush(now: now)
            refreshStatus()
        case ids.apduResponse:
            ownerPairing.apduFrame(frame, now: now)
            cloudLink.flush(now: now)
            refreshStatus()
        default:
            break
        }
        return outbox.take()
    }

    /// The frames returned last were written to the bus at `now` (transmit confirmation):
    /// ISO-TP then measures STmin from the real transmission.
    public func framesTransmitted(now: Instant) {
        otherDeadlines = nil
        udsPhysical.transmissionConfirmed(now: now)
        cloudLink.transmissionConfirmed(now: now)
        ownerPairing.transmissionConfirmed(now: now)
    }

    /// Handles the passing of time (cyclic frames, timeouts, owed writes) and the store jobs
    /// that finished (call it also when the executor signals one).
    public func handleTimeout(now: Instant) -> [CANFrame] {
        otherDeadlines = nil
        tbmTransitions(tbm.handleTimeout(now: now), now: now)
        isotp(udsPhysical.handleTimeout(now: now), addressing: .physical, now: now)
        c2vMessages(cloudLink.handleTimeout(now: now), now: now)
        isotp(udsFunctional.handleTimeout(now: now), addressing: .functional, now: now)
        diagnostic(uds.handleTimeout(now: now), now: now)
        provisioning.handleTimeout(now: now)
        ownerPairing.handleTimeout(now: now)
        for (token, result) in diagnostics.handleTimeout(now: now) {
            diagnostic(uds.complete(token, with: result, now: now), now: now)
        }
        cloudLink.flush(now: now)
        refreshStatus()
        outbox.frames += statusTransmitter.handleTimeout(now: now)
        return outbox.take()
    }

    /// C2V messages: verified against what the use cases expect, then handed to them.
    private func c2vMessages(_ messages: [[UInt8]], now: Instant) {
        for message in messages {
            provisioning.handle(cloudLink.verify(message, expectation: provisioning.expectation), now: now)
        }
        cloudLink.flush(now: now)
    }

    /// The TBM went online or offline (ICD 3): logged here, handed to the use cases.
    private func tbmTransitions(_ transitions: [TBMStatusSupervisor.Transition], now: Instant) {
        guard !transitions.isEmpty else { return }
        for transition in transitions {
            switch transition {
            case .wentOnline:
                logger.info("TBM online")
                provisioning.handle(.tbmWentOnline, now: now)
            case .wentOffline(let reason):
                logger.info("TBM offline (\(reason))")
                provisioning.handle(.tbmWentOffline, now: now)
            }
        }
        cloudLink.flush(now: now)
        refreshStatus()
    }

    /// The facts `SPAAK_Status` and D120 are built from, as of now.
    var status: ModuleStatus {
        ModuleStatus(store: storeView.snapshot, tbmOnline: tbm.isOnline, provisioning: provisioning.shownStatus,
                     storeWriteOwed: provisioning.owesStoreWrite, ownerPairing: ownerPairing.machine.state)
    }

    /// Recomputes the `SPAAK_Status` signals from the module's state.
    func refreshStatus() {
        statusTransmitter.signals = status.signals
    }
}
