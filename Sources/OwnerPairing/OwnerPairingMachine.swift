import APDU
import CloudProtocol
import SPAKE2Plus
import SpaakCore

/// Owner pairing on the module's side (ICD 8: OP-01 … OP-05) as a sans-I/O state machine:
/// the pairing window, the phase 2 session (SPAKE2+ as verifier, encrypted certificates and
/// the owner's endpoint key), the phase 3 session (AUTH0/AUTH1 with the vehicle identity key),
/// and the reports of phase 4.
///
/// The glue feeds it the sessions of `NFC_Status`, the window requests of `HU_Request` and
/// C2V 0x0E, the response APDUs of 0x6B8, the results of the store work it asked for, and the
/// current `Instant`; it executes the returned actions in order and calls
/// `handleTimeout(now:)` when `nextDeadline` passes. It reads no clock and touches no store;
/// its randomness (y, ephemeral keys, transaction ids) comes from `random`.
///
/// Failed attempts: once SPAKE2+ REQUEST (step 2) went out, a session that does not complete
/// step 5 emits `.attemptFailed` first, before any other action of that turn; a session that
/// failed sends nothing more and the next one starts at the next tap.
public struct OwnerPairingMachine: Sendable {
    /// Timing.
    public let configuration: OwnerPairingConfiguration
    /// The owner key as far as the machine knows (updated as its commits complete).
    public internal(set) var ownerKey: StoredOwnerKey
    /// The store conditions of a window.
    public internal(set) var conditions: OwnerPairingConditions

    var windowUntil: Instant?
    var session: Session = .none
    var random: any RandomNumberGenerator & Sendable
    var output: [OwnerPairingAction] = []
    /// A pending key found at start (its window died with the restart) waits for deletion.
    var staleKeyToDelete: Bool
    /// Whether a device is in the field (between `.sessionStarted` and `.sessionEnded`).
    var devicePresent = false

    /// Creates the machine after a start: no window is open.
    public init(facts: OwnerPairingFacts, configuration: OwnerPairingConfiguration = OwnerPairingConfiguration(),
                random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.configuration = configuration
        self.ownerKey = facts.ownerKey
        self.conditions = facts.conditions
        self.random = random
        if case .key(let key) = facts.ownerKey, !key.isActive { staleKeyToDelete = true } else { staleKeyToDelete = false }
    }

    /// Byte 7 of `SPAAK_Status`: 3 active key, 2 pending key, 1 window open, 0 otherwise.
    public var state: OwnerPairingState {
        if case .key(let key) = ownerKey { return key.isActive ? .ownerKeyActive : .ownerKeyPending }
        return windowUntil != nil ? .windowOpen : .noOwnerKey
    }

    /// Whether the pairing window is open.
    public var isWindowOpen: Bool { windowUntil != nil }

    /// Whole seconds left in the window at `now` (rounded up), 0 when closed (DID 0xD124).
    public func windowSecondsLeft(at now: Instant) -> UInt16 {
        guard let until = windowUntil, until > now else { return 0 }
        let left = until - now
        let seconds = left.components.seconds + (left.components.attoseconds > 0 ? 1 : 0)
        return UInt16(clamping: seconds)
    }

    /// The earliest instant at which `handleTimeout(now:)` has work.
    public var nextDeadline: Instant? {
        if staleKeyToDelete, session.isIdle { return .zero }
        var deadline = windowUntil
        if let responseBy = session.responseDeadline { deadline = deadline.earliest(responseBy) }
        return deadline
    }

    /// Handles one input; returns the actions to execute, in order.
    public mutating func handle(_ input: OwnerPairingInput, now: Instant) -> [OwnerPairingAction] {
        switch input {
        case .windowRequested(let requester): windowRequested(requester, now: now)
        case .sessionStarted: sessionStarted(now: now)
        case .sessionEnded(let reason): sessionEnded(reason: reason, now: now)
        case .response(let bytes): response(bytes, now: now)
        case .taskCompleted(let result): taskCompleted(result, now: now)
        case .ownerKeyDeleted(let reason): ownerKeyDeleted(reason: reason, now: now)
        case .verifierChanged: verifierChanged(now: now)
        case .conditionsChanged(let conditions): self.conditions = conditions
        }
        return drain()
    }

    /// Handles the passing of time: the window's end, a response that did not come.
    public mutating func handleTimeout(now: Instant) -> [OwnerPairingAction] {
        if staleKeyToDelete, session.isIdle {
            staleKeyToDelete = false
            if case .key(let key) = ownerKey, !key.isActive {
                log(.info, "owner key pending from before the restart: its window is closed, deleting it")
                ownerKey = .absent
                output.append(.perform(.deletePendingOwnerKey))
            }
        }
        if let responseBy = session.responseDeadline, responseBy <= now {
            fail("no response to \(session.awaitedCommand) within \(configuration.responseTimeout)", now: now)
        }
        if let until = windowUntil, until <= now {
            closeWindow(because: "its \(configuration.windowDuration) passed", now: now)
        }
        return drain()
    }

    // MARK: - The window (ICD 8.2)

    mutating func windowRequested(_ requester: PairingWindowRequester, now: Instant) {
        let pushID: [UInt8]?
        switch requester {
        case .headUnit: pushID = nil
        case .cloud(let id): pushID = id
        }
        if let refusal = windowRefusal {
            log(.warning, "pairing window not opened (\(requester.name)): \(refusal)")
            if pushID != nil {
                report(status: .unexpectedMessage, pushTransactionID: pushID)
            }
            return
        }
        let restarted = windowUntil != nil
        windowUntil = now + configuration.windowDuration
        log(.info, "pairing window \(restarted ? "restarted" : "opened") by \(requester.name) for \(configuration.windowDuration)")
        if pushID != nil { report(status: .ok, pushTransactionID: pushID) }
    }

    /// Why a window cannot open now, `nil` when it can.
    var windowRefusal: String? {
        if !conditions.plantLocked { return "plant not locked" }
        if !conditions.vehicleCertificateInstalled { return "no vehicle identity certificate [K]" }
        switch ownerKey {
        case .key(let key) where key.isActive: return "an owner key is active"
        case .damaged: return "the owner key record is damaged"
        case .key, .absent: return nil
        }
    }

    mutating func closeWindow(because reason: String, now: Instant) {
        guard windowUntil != nil else { return }
        windowUntil = nil
        log(.info, "pairing window closed: \(reason)")
        if session.isActive { fail("the pairing window closed", now: now) }
        if case .key(let key) = ownerKey, !key.isActive {
            log(.info, "owner key \(key) was still pending: deleted")
            ownerKey = .absent
            output.append(.perform(.deletePendingOwnerKey))
        }
    }

    mutating func ownerKeyDeleted(reason: String, now: Instant) {
        if session.isActive {
            log(.warning, "pairing session ended: \(reason)")
            session = .over
        }
        ownerKey = .absent
        staleKeyToDelete = false
        if windowUntil != nil {
            windowUntil = nil
            log(.info, "pairing window closed: \(reason)")
        }
    }

    mutating func verifierChanged(now: Instant) {
        guard session.isPhase2 else { return }
        log(.warning, "pairing session ended: the verifier changed under it (not counted)")
        session = .over
    }

    // MARK: - Sessions

    mutating func sessionStarted(now: Instant) {
        devicePresent = true
        guard windowUntil != nil else {
            log(.info, "NFC session outside a pairing window: ignored")
            session = .over
            return
        }
        if case .key(let key) = ownerKey, !key.isActive {
            log(.info, "NFC session: phase 3 for owner key \(key)")
            send(.select, awaiting: .select(.phase3(key)), now: now)
        } else if case .working = session {
            log(.warning, "NFC session while store work of the last one runs: ignored")
        } else {
            log(.info, "NFC session: phase 2")
            session = .working(.loadingMaterial)
            output.append(.perform(.loadMaterial))
        }
    }

    mutating func sessionEnded(reason: String, now: Instant) {
        devicePresent = false
        switch session {
        case .awaiting:
            fail("the device left (\(reason))", now: now)
            session = .none
        case .working:
            break  // the store work finishes; its result decides
        case .none, .over:
            session = .none
        }
    }

    /// Ends the running session: a failed attempt when phase 2 sent step 2 (counted first).
    mutating func fail(_ reason: String, now: Instant) {
        let counts = session.countsAsAttempt
        if counts { output.insert(.attemptFailed(reason: reason), at: 0) }
        log(.warning, "pairing \(session.phaseName) failed: \(reason)\(counts ? " (failed attempt)" : "")")
        session = .over
    }

    /// Sends `command` and waits for its response.
    mutating func send(_ command: PairingCommand, awaiting expected: Expected, now: Instant) {
        session = .awaiting(expected, deadline: now + configuration.responseTimeout)
        log(.info, "pairing: \(command.name) sent")
        output.append(.sendAPDU(command.apdu.bytes))
    }

    mutating func report(status: CloudStatus, pushTransactionID: [UInt8]?) {
        var keyID: [UInt8]?
        if case .key(let key) = ownerKey { keyID = key.keyID }
        output.append(.report(OwnerPairingStatusReport(state: state, ownerKeyID: keyID, status: status,
                                                 pushTransactionID: pushTransactionID)))
    }

    // MARK: - Output

    mutating func log(_ level: OwnerPairingLogLevel, _ text: String) {
        output.append(.log(level, text))
    }

    mutating func randomBytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let word = random.next()
            bytes += (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
        }
        return Array(bytes.prefix(count))
    }

    private mutating func drain() -> [OwnerPairingAction] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }
}

extension PairingWindowRequester {
    var name: String {
        switch self {
        case .headUnit: return "HU_Request"
        case .cloud: return "OwnerPairingModeRequest 0x0E"
        }
    }
}
