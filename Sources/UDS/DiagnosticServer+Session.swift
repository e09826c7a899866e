import SpaakCore

extension DiagnosticServer {
    /// 0x10 DiagnosticSessionControl: `10 sf` → `50 sf P2(2 bytes, ms) P2*(2 bytes, 10 ms)`.
    ///
    /// Every transition out of a non-default session (to any session, the same one
    /// included) locks security access, as ISO 14229-1 9.2.1 asks; the pending seed is
    /// dropped. The switch takes effect after the positive response.
    mutating func diagnosticSessionControl(_ request: Request) -> [DiagnosticAction] {
        guard request.bytes.count == 2 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        guard let target = DiagnosticSession(rawValue: request.subFunction) else {
            return reject(request, .subFunctionNotSupported)
        }
        let p2 = UInt16(clamping: configuration.p2Server.nanosecondsClamped / 1_000_000)
        let p2Star = UInt16(clamping: configuration.p2StarServer.nanosecondsClamped / 10_000_000)
        return positiveResponse(request, [request.subFunction] + p2.bigEndianBytes + p2Star.bigEndianBytes)
            + changeSession(to: target)
    }

    /// 0x11 ECUReset, hardReset only: `51 01`, then the module restarts (`.hardReset`).
    /// The server itself returns to the default session, locked, first.
    mutating func ecuReset(_ request: Request) -> [DiagnosticAction] {
        guard request.bytes.count == 2 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        return positiveResponse(request, [request.subFunction]) + changeSession(to: .defaultSession) + [.hardReset]
    }

    /// 0x3E TesterPresent: `3E 00` → `7E 00`; `3E 80` → nothing. The request itself
    /// restarted S3.
    func testerPresent(_ request: Request) -> [DiagnosticAction] {
        guard request.bytes.count == 2 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        return positiveResponse(request, [request.subFunction])
    }
}
