import CloudProtocol
import E2E
import ISOTP
import KeyM
import Logging
import OwnerPairing
import Provisioning
import SpaakCore

/// Owner pairing in the module (ICD 8): the glue around the pure `OwnerPairingMachine`.
///
/// It owns the NFC reader's side of the bus: `NFC_Status` (E2E, sessions), `HU_Request` (E2E,
/// window requests) and the APDU channel (ISO-TP, commands on 0x6B0, responses on 0x6B8). It
/// feeds the machine and carries out its actions: APDUs go out on the channel; store work runs
/// as `StoreJob`s; failed attempts, a missing verifier, a consumed verifier and 0x0D reports go
/// to the cloud use cases (`VehicleProvisioning`), which own the failure count, PP-03 and the
/// V2C channel. From them it hears 0x0E, the owner key's deletion and verifier changes.
final class VehicleOwnerPairing {
    private let storeView: StoreView
    private let jobs: StoreJobs
    private let provisioning: VehicleProvisioning
    private let outbox: FrameOutbox
    private let logger: Logger
    private var nfc: NFCStatusSupervisor
    private var headUnit: HURequestReceiver
    private var channel: ISOTPChannel
    /// The owner pairing machine.
    private(set) var machine: OwnerPairingMachine
    /// Tasks the machine waits for, in the order it asked.
    private var tasks: [StoreJobID] = []
    /// Inputs that arrived while actions were being carried out (from the cloud use cases).
    private var queued: [OwnerPairingInput] = []
    private var running = false

    init(ids: CANIdentifiers, channelConfiguration: ISOTPConfiguration, storeView: StoreView, jobs: StoreJobs,
         provisioning: VehicleProvisioning, outbox: FrameOutbox, logger: Logger) {
        self.storeView = storeView
        self.jobs = jobs
        self.provisioning = provisioning
        self.outbox = outbox
        self.logger = logger
        nfc = NFCStatusSupervisor(canID: ids.nfcStatus)
        headUnit = HURequestReceiver(canID: ids.huRequest)
        channel = ISOTPChannel(configuration: channelConfiguration)
        machine = OwnerPairingMachine(facts: OwnerPairingFacts(ownerKey: storeView.snapshot.readings.storedOwnerKey,
                                                               conditions: Self.conditions(storeView.snapshot)))
    }

    /// The earliest instant with work: the window, a response timeout, the reader's silence, ISO-TP.
    var nextDeadline: Instant? {
        machine.nextDeadline.earliest(nfc.nextDeadline).earliest(channel.nextDeadline)
    }

    /// Counters for logs.
    var counters: (nfc: NFCStatusSupervisor.Counters, headUnit: HURequestReceiver.Counters, channel: ISOTPCounters) {
        (nfc.counters, headUnit.counters, channel.counters)
    }

    /// An `NFC_Status` frame.
    func nfcStatus(_ frame: CANFrame, now: Instant) {
        sessionTransitions(nfc.receive(frame, now: now), now: now)
    }

    /// An `HU_Request` frame.
    func huRequest(_ frame: CANFrame, now: Instant) {
        guard let request = headUnit.receive(frame) else {
            logger.debug("HU_Request discarded (counters \(headUnit.counters))")
            return
        }
        switch request {
        case .startOwnerPairing:
            logger.info("HU_Request: start owner pairing")
            handle(.windowRequested(.headUnit), now: now)
        }
    }

    /// A frame of the APDU channel (responses from the device).
    func apduFrame(_ frame: CANFrame, now: Instant) {
        process(channel.handle(frame, now: now), now: now)
    }

    /// The frames returned last were sent: ISO-TP measures STmin from here.
    func transmissionConfirmed(now: Instant) { channel.transmissionConfirmed(now: now) }

    /// One loop turn: the reader's silence, ISO-TP timers, finished store work, the machine's timers.
    func handleTimeout(now: Instant) {
        sessionTransitions(nfc.handleTimeout(now: now), now: now)
        process(channel.handleTimeout(now: now), now: now)
        let conditions = Self.conditions(storeView.snapshot)
        if conditions != machine.conditions { handle(.conditionsChanged(conditions), now: now) }
        collectTasks(now: now)
        if let deadline = machine.nextDeadline, deadline <= now { run(machine.handleTimeout(now: now), now: now) }
    }

    /// What the cloud use cases tell owner pairing.
    func event(_ event: OwnerPairingEvent, now: Instant) {
        switch event {
        case .modeRequested(let transactionID): handle(.windowRequested(.cloud(transactionID: transactionID)), now: now)
        case .ownerKeyDeleted(let reason): handle(.ownerKeyDeleted(reason: reason), now: now)
        case .verifierChanged: handle(.verifierChanged, now: now)
        }
    }

    /// DID 0xD124 (ICD 5.2): state, seconds left in the window, key id, friendly name.
    func statusRecord(now: Instant) -> [UInt8] {
        let seconds = machine.windowSecondsLeft(at: now)
        var record = [machine.state.rawValue, UInt8(seconds >> 8), UInt8(seconds & 0xFF)]
        if case .key(let key) = machine.ownerKey {
            record += key.keyID + Array(key.friendlyName.utf8)
        } else {
            record += [UInt8](repeating: 0, count: 8)
        }
        return record
    }

    /// DID 0xD125: the owner endpoint public key, `nil` when there is none.
    var ownerPublicKey: [UInt8]? {
        if case .key(let key) = machine.ownerKey { return key.publicKey }
        return nil
    }

    // MARK: - Machine

    private func handle(_ input: OwnerPairingInput, now: Instant) {
        guard !running else {
            queued.append(input)
            return
        }
        run(machine.handle(input, now: now), now: now)
    }

    /// Carries out the machine's actions in order, then the inputs that arrived meanwhile.
    private func run(_ actions: [OwnerPairingAction], now: Instant) {
        running = true
        for action in actions {
            switch action {
            case .attemptFailed(let reason):
                logger.warning("owner pairing attempt failed: \(reason)")
                provisioning.handle(.pairingAttemptFailed, now: now)
            case .sendAPDU(let bytes):
                process(channel.send(bytes, now: now), now: now)
            case .perform(let task):
                tasks.append(jobs.submit(storeView.work.job(for: task, sources: materialSources(for: task))))
            case .verifierMissing: provisioning.handle(.pairingWithoutVerifier, now: now)
            case .verifierConsumed:
                provisioning.handle(.verifierConsumedByPairing, now: now)
            case .report(let report):
                provisioning.handle(.ownerPairingReport(report), now: now)
            case .log(.info, let text): logger.info("\(text)")
            case .log(.warning, let text): logger.warning("\(text)")
            }
        }
        running = false
        collectTasks(now: now)
        while !queued.isEmpty, !running {
            let input = queued.removeFirst()
            run(machine.handle(input, now: now), now: now)
        }
    }

    /// The VIN (a store read), [K] and [J1] for a phase 2 session; other tasks need none.
    private func materialSources(for task: OwnerPairingTask) -> PairingMaterialSources? {
        guard case .loadMaterial = task else { return nil }
        let installed = storeView.snapshot.installed
        return PairingMaterialSources(vin: storeView.vin, vehicleCertificate: installed.certificates[.vehicleIdentity],
                                      subCACertificate: installed.certificates[.j1],
                                      verifierUsable: provisioning.machine.facts.verifierPresent)
    }

    private func collectTasks(now: Instant) {
        guard !running else { return }
        while let id = tasks.first, let product = jobs.take(id) {
            tasks.removeFirst()
            guard case .ownerPairing(let result) = product else {
                logger.error("an owner pairing task got another component's job product")
                continue
            }
            run(machine.handle(.taskCompleted(result), now: now), now: now)
        }
    }

    private func sessionTransitions(_ transitions: [NFCStatusSupervisor.Transition], now: Instant) {
        for transition in transitions {
            switch transition {
            case .sessionStarted:
                logger.info("NFC: device in the field")
                handle(.sessionStarted, now: now)
            case .sessionEnded(let reason):
                logger.info("NFC: device gone (\(reason == .timeout ? "NFC_Status silent" : "removed"))")
                handle(.sessionEnded(reason: reason == .timeout ? "NFC_Status silent for 1000 ms" : "device removed"), now: now)
            }
        }
    }

    private func process(_ outputs: [ISOTPOutput], now: Instant) {
        for output in outputs {
            switch output {
            case .transmit(let frame): outbox.frames.append(frame)
            case .received(let message): handle(.response(message), now: now)
            case .transmitCompleted: break
            case .failed(let error): logger.warning("ISO-TP APDU channel: \(error)")
            }
        }
    }

    private static func conditions(_ snapshot: ProvisioningSnapshot) -> OwnerPairingConditions {
        OwnerPairingConditions(plantLocked: snapshot.plantLocked,
                               vehicleCertificateInstalled: snapshot.flags.contains(.vehicleIdentityCertificateInstalled))
    }
}
