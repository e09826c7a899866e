import SpaakCore

/// What the run waits for in a session.
enum SessionWait: Hashable, Sendable {
    /// The module's next command (its name) by the deadline.
    case command(String, deadline: Instant)
    /// The device derives w0/w1 for the SPAKE2+ REQUEST received at `since`; no deadline of
    /// the phone's own (the module's 5 s limit is the module's to enforce).
    case deriving(since: Instant)
    /// `SPAAK_Status` byte 7 showing the phase committed, by the deadline.
    case confirming(PairingPhase, deadline: Instant)

    var deadline: Instant? {
        switch self {
        case .command(_, let deadline), .confirming(_, let deadline): return deadline
        case .deriving: return nil
        }
    }

    func timeoutReason(timeout: Duration, module: ModuleStatusView?) -> String {
        switch self {
        case .command(let name, _):
            var reason = "no \(name) from the module within \(timeout)"
            if let module {
                if module.ownerPairingState == 0 { reason += " (SPAAK_Status: no pairing window open; send HU_Request, e.g. spaak-phone hu-start)" }
                if module.ownerPairingState == 3 { reason += " (SPAAK_Status: an owner key is already active)" }
            } else {
                reason += " (no SPAAK_Status seen: is spaak-ecu running on this bus?)"
            }
            return reason
        case .deriving:
            return "w0/w1 still being derived"
        case .confirming(let phase, _):
            return "the module did not confirm \(phase) within \(timeout) (SPAAK_Status byte 7 = \(module?.stateText ?? "never seen"), "
                + "expected \(phase.moduleState))"
        }
    }

    /// The command the module sends after the device answered `step`.
    static func nextCommand(after step: PairingStep?) -> String {
        switch step {
        case .select: return "SPAKE2+ REQUEST or AUTH0"
        case .spake2Request: return "SPAKE2+ VERIFY"
        case .verify: return "WRITE DATA"
        case .writeData: return "GET DATA"
        case .auth0: return "AUTH1"
        case .getData, .auth1, nil: return "command"
        }
    }
}

/// A transition of the run at a given instant.
enum Scheduled: Hashable, Sendable {
    /// The phone enters the field.
    case tap
    /// The phone leaves the field.
    case remove
    /// The run ends with this result.
    case finish(PhoneRunResult)
}

/// A failed attempt the module counts (ICD 8.3: a phase 2 session that failed after the
/// module sent step 2) and `SPAAK_Status` byte 6 does not show yet: the count can reach the
/// phone seconds later in a loaded machine, and must not be put on the next tap.
struct AwaitedCount: Hashable, Sendable {
    /// Byte 6 when the failed session began.
    var before: UInt8

    /// The count byte 6 shows once the module counted the session.
    var expected: UInt8 { before == .max ? before : before + 1 }

    /// Whether `view` settles it: the count reached, reset (a new verifier) or the verifier
    /// gone (the 8th failure deletes it; its count comes no later).
    func isSettled(by view: ModuleStatusView) -> Bool {
        view.failedAttempts >= expected || view.failedAttempts < before || !view.verifierPresent
    }
}

extension Duration {
    /// Seconds with three decimals, e.g. `3.012 s`.
    var secondsText: String {
        let ms = max(0, Int64(milliseconds.rounded()))
        let fraction = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
    }
}
