#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import APDU
import CloudProtocol
import ISOTP
import SpaakCore

/// The APDU channel of the run: commands into the device, answers back, the derivations of
/// w0/w1 handed to the shell.
extension PhoneRun {
    /// How long the module waits for each answer (ICD 8.3).
    public static let moduleResponseLimit: Duration = .seconds(5)

    /// The result of a `PhoneRunAction.derive` job, finished at `now` (run off the shell's
    /// event loop): the waiting SPAKE2+ REQUEST is answered if the phone is still in the
    /// field; the secrets are kept for later taps either way.
    public mutating func derived(_ job: ScryptJob, _ outcome: Result<SpakeVerifierSecrets, PasswordSecretsError>,
                                 now: Instant) -> [PhoneRunAction] {
        guard result == nil, let started = derivations.removeValue(forKey: job) else { return [] }
        let took = now - started
        var waited = took
        if case .deriving(let since)? = session { waited = now - since }
        switch outcome {
        case .failure(let error):
            log("\(job) failed after \(took.secondsText): \(error)")
        case .success where waited > Self.moduleResponseLimit:
            log("\(job) took \(took.secondsText), the module allows \(Self.moduleResponseLimit.secondsText): "
                + "it has failed this session (a failed attempt) before the answer")
        case .success:
            log("w0/w1 derived: \(job) took \(took.secondsText) (the module allows \(Self.moduleResponseLimit.secondsText))")
        }
        if let answer = device.derived(job, outcome) {
            answered(answer, now: now)
        } else if case .success = outcome {
            log("the session that asked for it is over: w0/w1 kept for the next tap")
        }
        settle(now: now)
        return drain()
    }

    mutating func perform(_ outputs: [ISOTPOutput], now: Instant, date: Date?) {
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
        let step = PhoneRun.step(of: bytes)
        if step?.phase == .two { stepTwoSent = true }
        if let step, step == plan.removeBefore {
            log("← \(step.commandName) (\(bytes.count) bytes): leaving the field without answering (remove before \(step))")
            pendingRemoval = true
            if session != nil { sessionFailed("the phone left the field before answering \(step)", now: now) }
            return
        }
        let name = step?.commandName ?? "an unreadable command"
        log("← \(name) (\(bytes.count) bytes)")
        switch device.receive(bytes, date: date) {
        case .answer(let answer):
            answered(answer, now: now)
        case .derive(let job):
            if session != nil { session = .deriving(since: now) }
            if let since = derivations[job] {
                log("w0/w1: \(job) still running (since \((now - since).secondsText) ago); the answer follows it")
            } else {
                derivations[job] = now
                output.append(.derive(job))
                log("deriving w0/w1 (\(job)) off the event loop; NFC_Status goes on, "
                    + "the module allows \(Self.moduleResponseLimit.secondsText) for the answer")
            }
        }
    }

    /// Sends the device's answer and moves the session on.
    private mutating func answered(_ answer: DeviceAnswer, now: Instant) {
        let name = answer.step?.commandName ?? "an unreadable command"
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
}
