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
/// scrypt never runs in the machine: a SPAKE2+ REQUEST whose w0/w1 are not derived yet yields
/// `PhoneRunAction.derive`, the shell runs it off its event loop and hands the result back
/// (`derived`); meanwhile `NFC_Status` keeps its cycle and the session stays open (the module
/// ends a session after 1000 ms without `NFC_Status`, ICD 8.1; it allows 5 s per answer, ICD 8.3).
///
/// A failed attempt is put on the session it belongs to: after a phase 2 session that failed
/// once the module had sent step 2 (the module counts it, ICD 8.3), the next tap (or the end
/// of the run) waits, up to the plan's timeout, until byte 6 shows the count (or resets, or
/// the verifier is gone); a late rise is never taken for a failure of the next tap.
///
/// The shell feeds received frames (`handle`), the passing of time (`handleTimeout` at
/// `nextDeadline`), transmit confirmations (`framesTransmitted`) and derivation results
/// (`derived`), and performs the returned actions in order; the run reads no clock.
public struct PhoneRun: Sendable {
    /// The plan.
    public let plan: PhoneRunPlan
    /// The identifiers.
    public let ids: PhoneBusIDs
    /// The device in (or out of) the field.
    public internal(set) var device: PhoneDevice
    /// The last `SPAAK_Status` seen, `nil` before the first.
    public private(set) var module: ModuleStatusView?
    /// The result once the run is over.
    public private(set) var result: PhoneRunResult?
    /// Whether the device is in the reader's field.
    public internal(set) var inField = false
    /// Taps so far.
    public private(set) var taps = 0

    var channel: ISOTPChannel
    var nfc: NFCStatusEncoder
    var schedule: CyclicSchedule
    var remaining: [PairingPhase]
    var attempt = 1
    var session: SessionWait?
    /// Byte 6 the current session's failures are counted from.
    var baseline: UInt8?
    /// The module sent a phase 2 command after SELECT in this session (a failure counts).
    var stepTwoSent = false
    /// A failed attempt of an earlier session that byte 6 does not show yet.
    var awaited: AwaitedCount?
    /// The next tap or the end, held until byte 6 settles `awaited` or the deadline.
    var held: (event: Scheduled, deadline: Instant)?
    /// Derivations handed to the shell and when.
    var derivations: [ScryptJob: Instant] = [:]
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
        deadline = deadline.earliest(held?.deadline)
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
        if let wait = session, let deadline = wait.deadline, deadline <= now {
            sessionFailed(wait.timeoutReason(timeout: plan.timeout, module: module), now: now)
        }
        if case let (event, at)? = next, at <= now {
            next = nil
            switch event {
            case .remove: remove(now: now)
            case .tap, .finish: proceed(event, now: now)
            }
        }
        if let (event, deadline) = held, deadline <= now {
            held = nil
            let shown = module.map { "\($0.failedAttempts)" } ?? "nothing"
            log("SPAAK_Status byte 6 still shows \(shown) after \(plan.timeout), \(awaited?.expected ?? 0) expected: "
                + "going on; a rise to \(awaited?.expected ?? 0) is still put on the earlier session")
            fire(event, now: now)
        }
        if result == nil, schedule.fire(now: now) {
            output.append(.transmit(nfc.nextFrame(inField ? .tapped : .idle)))
        }
        settle(now: now)
        return drain()
    }

    // MARK: - Taps

    /// A tap or the end is due: now, or once byte 6 shows the failed attempt it waits for.
    private mutating func proceed(_ event: Scheduled, now: Instant) {
        if let awaited, let module, !awaited.isSettled(by: module) {
            held = (event, now + plan.timeout)
            let what = event == .tap ? "tapping again" : "ending"
            log("waiting up to \(plan.timeout) for SPAAK_Status byte 6 to count the failed attempt "
                + "(\(awaited.expected) expected, \(module.failedAttempts) shown) before \(what)")
            return
        }
        awaited = nil
        fire(event, now: now)
    }

    private mutating func fire(_ event: Scheduled, now: Instant) {
        switch event {
        case .tap: tap(now: now)
        case .remove: remove(now: now)
        case .finish(let result): finish(result)
        }
    }

    private mutating func tap(now: Instant) {
        guard let phase = remaining.first else { return }
        taps += 1
        inField = true
        device.leaveField()
        baseline = module?.failedAttempts
        if let awaited, let shown = baseline {
            // Not counted within the timeout: a late count still belongs to the earlier session.
            baseline = max(shown, awaited.expected)
        }
        awaited = nil
        stepTwoSent = false
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
    mutating func settle(now: Instant) {
        if pendingRemoval, !channel.isTransmitting { remove(now: now) }
    }

    private mutating func finish(_ result: PhoneRunResult) {
        self.result = result
        log(result.description)
        output.append(.finished(result))
    }

    // MARK: - Sessions

    /// The session's outcome is known: leave (after the linger) and tap again or end.
    /// `counted`: the failure was seen as byte 6 rising (nothing more to wait for).
    mutating func sessionEnded(success phase: PairingPhase?, failure: String?, counted: Bool = false, now: Instant) {
        let ended = session
        session = nil
        if phase == nil, !counted, stepTwoSent, let before = baseline {
            if case .confirming = ended {
                // GET DATA answered: the module commits or fails it; the phone cannot tell which.
            } else {
                awaited = AwaitedCount(before: before)
            }
        }
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

    mutating func sessionFailed(_ reason: String, now: Instant) {
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
        case .command, .confirming, .deriving:
            if let before = baseline, view.failedAttempts > before {
                baseline = view.failedAttempts
                sessionEnded(success: nil, failure: "the module counted a failed attempt (now \(view.failedAttempts))",
                             counted: true, now: now)
            }
        case nil:
            if let awaited, awaited.isSettled(by: view) {
                self.awaited = nil
                log("module: the failed attempt of the last session is counted (SPAAK_Status byte 6 = \(view.failedAttempts)"
                    + (view.verifierPresent ? ")" : ", verifier deleted)"))
                if let (event, _) = held {
                    held = nil
                    fire(event, now: now)
                }
            }
        }
    }

    // MARK: - Output

    mutating func log(_ line: String) {
        output.append(.log(line))
    }

    mutating func drain() -> [PhoneRunAction] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }
}
