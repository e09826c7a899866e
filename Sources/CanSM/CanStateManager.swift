import SpaakCore

/// The module's CAN state manager (AUTOSAR CanSM's bus-off handling, on Linux terms): it
/// follows the controller's state from error frames and polled status, halts transmission
/// at bus-off, recovers (the kernel's restart-ms, or a restart by the module with a
/// doubling delay), keeps transmission halted for a quiet period, then resumes it.
///
/// Pure: inputs are error frames, polled status, restart failures and timeouts, each with
/// the current `Instant`; outputs are `CanSMAction`s. For a virtual interface (recovery
/// `.none`) it only counts: it never halts and never polls.
public struct CanStateManager: Sendable {
    private enum State: Sendable {
        /// Not a controller: nothing to supervise.
        case virtual
        /// On the bus and transmitting; `level` is active, warning, passive, stopped or unknown.
        case online(level: CANControllerState)
        /// Off the bus since `since`: transmission halted until recovery and the quiet period.
        case busOff(since: Instant, recovery: Recovery)
        /// Back on the bus at `level`; transmission stays halted until `until`.
        case quiet(until: Instant, level: CANControllerState, offSince: Instant)
    }

    private enum Recovery: Sendable {
        /// Waiting for the kernel's restart (the CAN_ERR_RESTARTED frame or a polled state).
        case kernel
        /// The module restarts it; `attempt` counts restarts already tried in this bus-off.
        case module(attempt: Int, phase: RestartPhase)
    }

    private enum RestartPhase: Sendable {
        /// The next restart is due at `restartAt`.
        case waiting(restartAt: Instant)
        /// A restart was asked for; its result comes as a status, an error frame or a failure.
        case restarted
    }

    /// Transmission stays halted this long after the controller is back on the bus.
    public let quietPeriod: Duration
    /// The controller's status is read this often (counters in DID 0xD130 stay current).
    public let pollInterval: Duration
    /// How bus-off is recovered; follows the kernel's restart-ms as polled.
    public private(set) var recovery: BusOffRecovery

    /// The longest delay between two restarts by the module.
    public static let maximumRestartDelay: Duration = .seconds(5)
    /// The shortest delay before a repeated restart (a zero first delay never loops).
    public static let minimumRetryDelay: Duration = .milliseconds(10)
    /// Error frames ask for a poll at most this often.
    public static let triggeredPollGap: Duration = .milliseconds(100)
    /// A bus-off sooner than this after transmission resumed continues the restart backoff.
    public static let stablePeriod: Duration = .seconds(1)
    /// During the kernel's recovery, the state is polled this long after restart-ms.
    public static let kernelRestartMargin: Duration = .milliseconds(50)

    private let moduleDelay: Duration
    private var machine: State
    private var nextPoll: Instant?
    private var lastPoll: Instant?
    private var lastResume: Instant?
    private var busOffStreak = 0

    private var transmitErrors: UInt8 = 0
    private var receiveErrors: UInt8 = 0
    private var bitrate: UInt32 = 0
    private var errorFrames = 0
    private var ownBusOffs = 0
    private var ownRecoveries = 0
    private var droppedErrorFrames = 0
    private var kernelBaseline: (busOffs: Int, restarts: Int)?
    private var kernelBusOffs = 0
    private var kernelRestarts = 0

    /// Starts supervising. A controller (recovery `.kernel` or `.module`) starts in state
    /// unknown with a poll due at `now`; `.none` starts virtual.
    public init(recovery: BusOffRecovery, quietPeriod: Duration = .milliseconds(100),
                pollInterval: Duration = .seconds(1), now: Instant) {
        self.recovery = recovery
        self.quietPeriod = quietPeriod
        self.pollInterval = pollInterval
        if case .module(let after) = recovery {
            moduleDelay = after
        } else {
            moduleDelay = BusOffRecovery.defaultModuleDelay
        }
        switch recovery {
        case .none:
            machine = .virtual
            nextPoll = nil
        case .kernel, .module:
            machine = .online(level: .unknown)
            nextPoll = now
        }
    }

    // MARK: - State

    /// The controller's state as last learnt.
    public var state: CANControllerState {
        switch machine {
        case .virtual: return .virtual
        case .online(let level): return level
        case .busOff: return .busOff
        case .quiet(_, let level, _): return level
        }
    }

    /// Whether the shell may write frames (false from bus-off to the end of the quiet period).
    public var transmissionAllowed: Bool {
        switch machine {
        case .virtual, .online: return true
        case .busOff, .quiet: return false
        }
    }

    /// When `handleTimeout` is due next: a poll, a restart or the end of the quiet period.
    public var nextDeadline: Instant? {
        switch machine {
        case .virtual:
            return nil
        case .online, .busOff(_, .kernel), .busOff(_, .module(_, .restarted)):
            return nextPoll
        case .busOff(_, .module(_, .waiting(let restartAt))):
            return nextPoll.earliest(restartAt)
        case .quiet(let until, _, _):
            return nextPoll.earliest(until)
        }
    }

    /// Fills the controller's part of DID 0xD130: state, TEC, REC, bitrate, bus-offs,
    /// recoveries and error frames (bus-offs and recoveries: the larger of what this machine
    /// saw and what the kernel counted since the first poll).
    public func diagnostics(into diagnostics: inout CANBusDiagnostics) {
        diagnostics.state = state
        diagnostics.transmitErrors = transmitErrors
        diagnostics.receiveErrors = receiveErrors
        diagnostics.bitrate = bitrate
        diagnostics.busOffs = Swift.max(ownBusOffs, kernelBusOffs)
        diagnostics.recoveries = Swift.max(ownRecoveries, kernelRestarts)
        diagnostics.errorFrames = errorFrames + droppedErrorFrames
    }

    /// The shell's cumulative count of error frames read but never handed over (its queue
    /// was full: `CANSocket.errorFramesDropped`); they count as error frames in the DID.
    public mutating func errorFramesDropped(total: Int) {
        droppedErrorFrames = Swift.max(droppedErrorFrames, total)
    }

    // MARK: - Inputs

    /// An error frame read from the bus: counted; its counters and the state it implies
    /// are taken over. Never logs a line per frame, only per state change.
    public mutating func handle(_ frame: CANErrorFrame, now: Instant) -> [CanSMAction] {
        errorFrames += 1
        if let value = frame.transmitErrors { transmitErrors = value }
        if let value = frame.receiveErrors { receiveErrors = value }
        guard let implied = frame.impliedState else { return [] }
        switch machine {
        case .virtual:
            return []
        case .online(let level):
            if implied == .busOff { return enterBusOff(now: now) + pollSoon(now: now) }
            guard implied != level else { return [] }
            machine = .online(level: implied)
            return [levelChange(from: level, to: implied)] + pollSoon(now: now)
        case .busOff(let since, let recovery):
            if implied == .busOff { return busOffAgain(since: since, recovery: recovery, now: now) }
            return recovered(level: implied, offSince: since, now: now) + pollSoon(now: now)
        case .quiet(let until, let level, let offSince):
            if implied == .busOff { return enterBusOff(now: now) + pollSoon(now: now) }
            guard implied != level else { return [] }
            machine = .quiet(until: until, level: implied, offSince: offSince)
            return [levelChange(from: level, to: implied)] + pollSoon(now: now)
        }
    }

    /// A status read from the controller (after `pollController` or at any time).
    public mutating func handle(_ status: CANControllerStatus, now: Instant) -> [CanSMAction] {
        if case .virtual = machine { return [] }
        transmitErrors = status.transmitErrors
        receiveErrors = status.receiveErrors
        bitrate = status.bitrate ?? 0
        if let base = kernelBaseline {
            kernelBusOffs = Swift.max(0, status.busOffs - base.busOffs)
            kernelRestarts = Swift.max(0, status.restarts - base.restarts)
        } else {
            kernelBaseline = (status.busOffs, status.restarts)
        }
        var actions = adaptRecovery(to: status.restartMilliseconds, now: now)
        switch machine {
        case .virtual:
            break
        case .online(let level):
            switch status.state {
            case .busOff:
                actions += enterBusOff(now: now)
            case .unknown, .virtual:
                break
            case .errorActive, .errorWarning, .errorPassive, .stopped:
                if status.state != level {
                    machine = .online(level: status.state)
                    actions.append(levelChange(from: level, to: status.state))
                }
            }
        case .busOff(let since, let recovery):
            switch status.state {
            case .busOff:
                if case .module(let attempt, .restarted) = recovery {
                    actions += retry(since: since, attempt: attempt, now: now, why: "still bus-off after the restart")
                }
            case .unknown, .virtual, .stopped:
                break
            case .errorActive, .errorWarning, .errorPassive:
                actions += recovered(level: status.state, offSince: since, now: now)
            }
        case .quiet(let until, let level, let offSince):
            switch status.state {
            case .busOff:
                actions += enterBusOff(now: now)
            case .unknown, .virtual:
                break
            case .errorActive, .errorWarning, .errorPassive, .stopped:
                if status.state != level {
                    machine = .quiet(until: until, level: status.state, offSince: offSince)
                    actions.append(levelChange(from: level, to: status.state))
                }
            }
        }
        nextPoll = regularPoll(after: now)
        return actions
    }

    /// The shell's restart (`restartController`) failed: try again after a longer delay.
    public mutating func restartFailed(_ reason: String, now: Instant) -> [CanSMAction] {
        guard case .busOff(let since, .module(let attempt, _)) = machine else { return [] }
        return retry(since: since, attempt: attempt, now: now, why: "the restart failed (\(reason))")
    }

    /// Time passed: restarts, the end of the quiet period and polls that are due.
    public mutating func handleTimeout(now: Instant) -> [CanSMAction] {
        var actions: [CanSMAction] = []
        switch machine {
        case .virtual:
            return []
        case .online, .busOff(_, .kernel), .busOff(_, .module(_, .restarted)):
            break
        case .busOff(let since, .module(let attempt, .waiting(let restartAt))):
            if now >= restartAt {
                machine = .busOff(since: since, recovery: .module(attempt: attempt, phase: .restarted))
                actions += [.restartController, .pollController]
                lastPoll = now
                nextPoll = now + pollInterval
            }
        case .quiet(let until, let level, let offSince):
            if now >= until {
                machine = .online(level: level)
                lastResume = now
                actions += [.resumeTransmission,
                            .log(.notice, "transmission resumed (\(Self.ms(now - offSince)) ms after bus-off)")]
            }
        }
        if let due = nextPoll, now >= due {
            actions.append(.pollController)
            lastPoll = now
            nextPoll = regularPoll(after: now)
        }
        return actions
    }

    // MARK: - Transitions

    private mutating func enterBusOff(now: Instant) -> [CanSMAction] {
        let wasHalted = !transmissionAllowed
        switch machine {
        case .online:
            let recent = lastResume.map { now - $0 < Self.stablePeriod } ?? false
            busOffStreak = recent ? busOffStreak + 1 : 0
        case .quiet:
            busOffStreak += 1
        case .virtual, .busOff:
            break
        }
        ownBusOffs += 1
        var text = "bus-off: transmission halted; "
        switch recovery {
        case .kernel(let restart):
            machine = .busOff(since: now, recovery: .kernel)
            nextPoll = nextPoll.earliest(now + .milliseconds(Int64(restart)) + Self.kernelRestartMargin)
            text += "the kernel restarts the controller after \(restart) ms"
        case .module, .none:
            let delay = restartDelay(busOffStreak)
            machine = .busOff(since: now, recovery: .module(attempt: 0, phase: .waiting(restartAt: now + delay)))
            text += "restart in \(Self.ms(delay)) ms"
        }
        if busOffStreak > 0 { text += " (bus-off \(busOffStreak + 1) in a row)" }
        return (wasHalted ? [] : [.haltTransmission]) + [.log(.warning, text)]
    }

    /// A bus-off frame while already bus-off: after a restart by the module, the controller
    /// went bus-off again (count it, retry later); otherwise a repeat, ignored.
    private mutating func busOffAgain(since: Instant, recovery: Recovery, now: Instant) -> [CanSMAction] {
        guard case .module(let attempt, .restarted) = recovery else { return [] }
        ownBusOffs += 1
        return retry(since: since, attempt: attempt, now: now, why: "bus-off again after the restart")
    }

    private mutating func retry(since: Instant, attempt: Int, now: Instant, why: String) -> [CanSMAction] {
        let next = attempt + 1
        let delay = restartDelay(busOffStreak + next)
        machine = .busOff(since: since, recovery: .module(attempt: next, phase: .waiting(restartAt: now + delay)))
        return [.log(.warning, "bus-off: \(why); restart \(next + 1) in \(Self.ms(delay)) ms")]
    }

    private mutating func recovered(level: CANControllerState, offSince: Instant, now: Instant) -> [CanSMAction] {
        ownRecoveries += 1
        let off = Self.ms(now - offSince)
        if quietPeriod <= .zero {
            machine = .online(level: level)
            lastResume = now
            return [.resumeTransmission, .log(.notice, "back on the bus (\(level)) after \(off) ms bus-off: transmission resumed")]
        }
        machine = .quiet(until: now + quietPeriod, level: level, offSince: offSince)
        return [.log(.notice, "back on the bus (\(level)) after \(off) ms bus-off; "
                     + "transmission resumes after \(Self.ms(quietPeriod)) ms quiet")]
    }

    /// Follows the kernel's restart-ms: > 0 the kernel recovers, 0 the module does.
    private mutating func adaptRecovery(to restartMilliseconds: UInt32?, now: Instant) -> [CanSMAction] {
        guard let restart = restartMilliseconds else { return [] }
        let wanted: BusOffRecovery = restart > 0 ? .kernel(restartMilliseconds: restart) : .module(after: moduleDelay)
        guard wanted != recovery else { return [] }
        recovery = wanted
        if case .busOff(let since, let current) = machine {
            switch (wanted, current) {
            case (.kernel, .module):
                machine = .busOff(since: since, recovery: .kernel)
            case (.module, .kernel):
                machine = .busOff(since: since, recovery: .module(attempt: 0, phase: .waiting(restartAt: now)))
            default:
                break
            }
        }
        return [.log(.info, "bus-off recovery: \(wanted)")]
    }

    // MARK: - Helpers

    private mutating func pollSoon(now: Instant) -> [CanSMAction] {
        if let last = lastPoll, now - last < Self.triggeredPollGap {
            nextPoll = nextPoll.earliest(last + Self.triggeredPollGap)
            return []
        }
        lastPoll = now
        nextPoll = regularPoll(after: now)
        return [.pollController]
    }

    /// The next regular poll: a poll interval on, or sooner while the kernel's restart is due.
    private func regularPoll(after now: Instant) -> Instant {
        let regular = now + pollInterval
        guard case .busOff(let since, .kernel) = machine, case .kernel(let restart) = recovery else { return regular }
        let expected = since + .milliseconds(Int64(restart)) + Self.kernelRestartMargin
        if expected > now { return Swift.min(regular, expected) }
        return Swift.min(regular, now + .milliseconds(Int64(restart)) + Self.kernelRestartMargin)
    }

    /// The delay before restart number `n + 1` of a bus-off streak: the module's delay,
    /// then doubling from at least `minimumRetryDelay`, at most `maximumRestartDelay`.
    private func restartDelay(_ n: Int) -> Duration {
        guard n > 0 else { return Swift.min(moduleDelay, Self.maximumRestartDelay) }
        let base = Swift.max(moduleDelay, Self.minimumRetryDelay)
        let doubled = base * (1 << Swift.min(n, 16))
        return Swift.min(doubled, Self.maximumRestartDelay)
    }

    private func levelChange(from old: CANControllerState, to new: CANControllerState) -> CanSMAction {
        let level: CanSMLogLevel = (new == .errorPassive || new == .stopped) ? .warning : .notice
        return .log(level, "CAN controller \(new) (was \(old); TEC \(transmitErrors), REC \(receiveErrors))")
    }

    private static func ms(_ duration: Duration) -> Int64 {
        duration.nanosecondsClamped / 1_000_000
    }
}
