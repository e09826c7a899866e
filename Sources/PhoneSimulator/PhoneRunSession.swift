import SpaakCore

/// What the run waits for in a session.
enum SessionWait: Hashable, Sendable {
    /// The module's next command (its name) by the deadline.
    case command(String, deadline: Instant)
    /// `SPAAK_Status` byte 7 showing the phase committed, by the deadline.
    case confirming(PairingPhase, deadline: Instant)

    var deadline: Instant {
        switch self {
        case .command(_, let deadline), .confirming(_, let deadline): return deadline
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
