#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import APDU
import E2E
import ISOTP
import SpaakCore

/// The NFC reader with the owner's phone, as a sans-I/O machine: `NFC_Status` every 100 ms
/// (tap: DevicePresent + ReaderReady; removed: ReaderReady only), the APDU channel (ISO-TP,
/// commands on 0x6B0, responses on 0x6B8) into a `PhoneDevice`, and the taps of a
/// `PhoneRunPlan` with the pauses of a real user.
///
/// A session succeeds when the device answered the last step of a phase and `SPAAK_Status`
/// byte 7 shows the module committed it (2 after phase 2, 3 after phase 3). It fails when
/// the device refuses a command, when the phone leaves early (`removeAfter`), when the
/// module counts a failed attempt (byte 6 rises) or sends nothing within the plan's timeout.
///
/// The shell feeds received frames (`handle`), the passing of time (`handleTimeout` at
/// `nextDeadline`) and transmit confirmations (`framesTransmitted`), and performs the
/// returned actions in order; the run reads no clock.
public struct PhoneRun: Sendable {
    /// The plan.
    public let plan: PhoneRunPlan
    /// The identifiers.
    public let ids: PhoneBusIDs
    /// The device in (or out of) the field.
    public private(set) var device: PhoneDevice
    /// The last `SPAAK_Status` seen, `nil` before the first.
    public private(set) var module: ModuleStatusView?
    /// The result once the run is over.
    public private(set) var result: PhoneRunResult?
    /// Whether the device is in the reader's field.
    public private(set) var inField = false
    /// Taps so far.
    public private(set) var taps = 0

    var channel: ISOTPChannel
    var nfc: NFCStatusEncoder
    var schedule: CyclicSchedule
    var remaining: [PairingPhase]
    var attempt = 1
    var session: SessionWait?
    var failuresAtTap: UInt8?
    var pendingRemoval = false
    var next: (event: Scheduled, at: Instant)?
    var afterRemoval: Scheduled?
    var completed: [PairingPhase] = []
    var output: [PhoneRunAction] = []

    /// Starts a run at `now`: the reader reports an empty field until the first tap.
    public init(plan: PhoneRunPlan, device: PhoneDevice, ids: PhoneBusIDs = PhoneBusIDs(), now: Instant) {
        self.plan = plan
        self.ids = ids
        self.device = device
        channel = ISOTPChannel(configuration: ISOTPConfiguration(txID: ids.response, rxID: ids.command))
        nfc = NFCStatusEncoder(canID: ids.nfcStatus)
        schedule = CyclicSchedule(period: plan.timing.period, first: now)
        remaining = plan.phases
        if remaining.isEmpty {
            next = (.finish(.failed("no phase to run")), now)
        } else {
            next = (.tap, now + plan.timing.approach)
        }
    }

    /// The earliest instant at which `handleTimeout` has work.
    public var nextDeadline: Instant? {
        guard result == nil else { return nil }
        var deadline: Instant? = schedule.nextDeadline
        deadline = deadline.earliest(channel.nextDeadline)
        deadline = deadline.earliest(next?.at)
        deadline = deadline.earliest(session?.deadline)
        return deadline
    }

    /// The frames handed out were written to the bus at `now` (ISO-TP timing).
    public mutating func framesTransmitted(now: Instant) {
        channel.transmissionConfirmed(now: now)
    }

    /// Handles one received frame; `date` is the phone's wall clock (certificate validity).
    public mutating func handle(_ frame: CANFrame, now: Instant, date: Date) -> [PhoneRunAction] {
        guard result == nil else { return [] }
        if frame.id == ids.spaakStatus, !frame.isExtended {
            if let view = ModuleStatusView(frameData: frame.data, dataID: UInt16(truncatingIfNeeded: ids.spaakStatus)) {
                moduleStatus(view, now: now)
            }
        } else {
            perform(channel.handle(frame, now: now), now: now, date: date)
        }
        settle(now: now)
        return drain()
    }

    /// Handles the passing of time: `NFC_Status`, ISO-TP timers, the taps, the module's silence.
    public mutating func handleTimeout(now: Instant) -> [PhoneRunAction] {
        guard result == nil else { return [] }
        perform(channel.handleTimeout(now: now), now: now, date: nil)
        if let wait = session, wait.deadline <= now {
            sessionFailed(wait.timeoutReason(timeout: plan.timeout, module: module), now: now)
        }
        if case let (event, at)? = next, at <= now {
            next = nil
            switch event {
            case .tap: tap(now: now)
            case .remove: remove(now: now)
            case .finish(let result): finish(result)
            }
        }
        if result == nil, schedule.fire(now: now) {
            output.append(.transmit(nfc.nextFrame(inField ? .tapped : .idle)))
        }
        settle(now: now)
        return drain()
    }

    // MARK: - Taps

    private mutating func tap(now: Instant) {
        guard let phase = remaining.first else { return }
        taps += 1
        inField = true
        device.leaveField()
        failuresAtTap = module?.failedAttempts
        session = .command("SELECT", deadline: now + plan.timeout)
        let attempts = plan.attempts > 1 ? ", attempt \(attempt) of \(plan.attempts)" : ""
        log("tap \(taps): the phone enters the field (\(phase)\(attempts))")
    }

    private mutating func remove(now: Instant) {
        guard inField else { return }
        inField = false
        pendingRemoval = false
        device.leaveField()
        log("the phone leaves the field")
        if let after = afterRemoval {
            afterRemoval = nil
            scheduleNext(after, now: now)
        }
    }

    private mutating func scheduleNext(_ event: Scheduled, now: Instant) {
        switch event {
        case .tap: next = (.tap, now + plan.timing.gap)
        case .finish: next = (event, now + plan.timing.farewell)
        case .remove: next = (.remove, now + plan.timing.linger)
        }
    }

    /// Leaves the field once a response APDU the device was told to leave after is on the bus.
    private mutating func settle(now: Instant) {
        if pendingRemoval, !channel.isTransmitting { remove(now: now) }
    }

    private mutating func finish(_ result: PhoneRunResult) {
        self.result = result
        log(result.description)
        output.append(.finished(result))
    }

    // MARK: - Sessions

    /// The session's outcome is known: leave (after the linger) and tap again or end.
    private mutating func sessionEnded(success phase: PairingPhase?, failure: String?, now: Instant) {
        session = nil
        let then: Scheduled
        if let phase {
            completed.append(phase)
            remaining.removeAll { $0 <= phase }
            attempt = 1
            log("\(phase) done: the module reports \(module?.stateText ?? "?")")
            then = remaining.isEmpty ? .finish(.paired(completed)) : .tap
        } else {
            let reason = failure ?? "failed"
            let phaseName = remaining.first.map { "\($0)" } ?? "pairing"
            log("\(phaseName) failed: \(reason)")
            if attempt < plan.attempts {
                attempt += 1
                then = .tap
            } else {
                then = .finish(.failed(reason))
            }
        }
        if inField && !pendingRemoval {
            afterRemoval = then
            next = (.remove, now + plan.timing.linger)
        } else if inField {
            afterRemoval = then
        } else {
            scheduleNext(then, now: now)
        }
    }

    private mutating func sessionFailed(_ reason: String, now: Instant) {
        sessionEnded(success: nil, failure: reason, now: now)
    }

    private mutating func moduleStatus(_ view: ModuleStatusView, now: Instant) {
        let previous = module
        module = view
        if previous?.ownerPairingState != view.ownerPairingState {
            log("module: SPAAK_Status byte 7 = \(view.stateText)")
        }
        if previous?.failedAttempts != view.failedAttempts {
            log("module: \(view.failedAttempts) failed owner-pairing attempts (SPAAK_Status byte 6)")
        }
        switch session {
        case .confirming(let phase, _) where view.ownerPairingState == phase.moduleState:
            sessionEnded(success: phase, failure: nil, now: now)
        case .command, .confirming:
            if let before = failuresAtTap, view.failedAttempts > before {
                failuresAtTap = view.failedAttempts
                sessionFailed("the module counted a failed attempt (now \(view.failedAttempts))", now: now)
            }
        case nil:
            break
        }
    }

    // MARK: - The APDU channel

    private mutating func perform(_ outputs: [ISOTPOutput], now: Instant, date: Date?) {
        for item in outputs {
            switch item {
            case .transmit(let frame):
                output.append(.transmit(frame))
            case .received(let bytes):
                // Only `handle` receives; without a date every certificate is out of validity (fail closed).
                command(bytes, now: now, date: date ?? .distantPast)
            case .transmitCompleted:
                break
            case .failed(let error):
                log("APDU channel: \(error)")
            }
        }
    }

    private mutating func command(_ bytes: [UInt8], now: Instant, date: Date) {
        guard inField else {
            log("← a command APDU (\(bytes.count) bytes) while the field is empty: no device answers it")
            return
        }
        if let step = plan.removeBefore, PhoneRun.step(of: bytes) == step {
            log("← \(step.commandName) (\(bytes.count) bytes): leaving the field without answering (remove before \(step))")
            pendingRemoval = true
            if session != nil { sessionFailed("the phone left the field before answering \(step)", now: now) }
            return
        }
        let answer = device.respond(to: bytes, date: date)
        let name = answer.step?.commandName ?? "an unreadable command"
        log("← \(name) (\(bytes.count) bytes)")
        log("→ \(answer.response.status) \(answer.note)")
        for item in channel.send(answer.response.bytes, now: now) {
            if case .transmit(let frame) = item { output.append(.transmit(frame)) }
            if case .failed(let error) = item { log("APDU channel: response not sent: \(error)") }
        }
        if let certificate = answer.newVehicleCertificate { output.append(.saveVehicleCertificate(certificate)) }
        var leftAfter: PairingStep?
        if let step = answer.step, step == plan.removeAfter {
            log("leaving the field after \(name) (remove after \(step))")
            pendingRemoval = true
            leftAfter = step
        }
        guard session != nil else { return }
        if answer.status != .success {
            sessionFailed("the device answered \(name) with \(answer.status)", now: now)
        } else if let phase = answer.completedPhase {
            session = .confirming(phase, deadline: now + plan.timeout)
        } else if let leftAfter {
            sessionFailed("the phone left the field after \(leftAfter)", now: now)
        } else {
            session = .command(SessionWait.nextCommand(after: answer.step), deadline: now + plan.timeout)
        }
    }

    /// The step of a command's bytes, `nil` when they are no command of ICD 8.3.
    static func step(of bytes: [UInt8]) -> PairingStep? {
        guard let apdu = try? CommandAPDU(bytes: bytes), let command = try? PairingCommand(apdu: apdu) else { return nil }
        return PairingStep(command)
    }

    // MARK: - Output

    private mutating func log(_ line: String) {
        output.append(.log(line))
    }

    private mutating func drain() -> [PhoneRunAction] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }
}
