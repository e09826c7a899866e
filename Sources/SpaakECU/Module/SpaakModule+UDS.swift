import ISOTP
import SpaakCore
import UDS

/// The UDS path of the router: the two ISO-TP channels (physical 0x7A0, functional 0x7DF,
/// answers on 0x7A8), the `DiagnosticServer` (sessions, security access, the DID and RID
/// tables, NRC 0x78), and the application requests it hands out, each given to the
/// component that owns it.
extension SpaakModule {
    func isotp(_ outputs: [ISOTPOutput], addressing: RequestAddressing, now: Instant) {
        for output in outputs {
            switch output {
            case .transmit(let frame):
                outbox.frames.append(frame)
            case .received(let request):
                logger.debug("UDS request \(request.prefix(16).hexString)")
                diagnostic(uds.handleRequest(request, addressing: addressing, now: now), now: now)
            case .transmitCompleted:
                if resetAfterTransmit { restartRequested = true }
            case .failed(let error):
                logger.warning("ISO-TP \(addressing): \(error)")
                if resetAfterTransmit && error.isTransmitError { restartRequested = true }
            }
        }
    }

    func diagnostic(_ actions: [DiagnosticAction], now: Instant) {
        for action in actions {
            switch action {
            case .send(let response):
                if NegativeResponse(bytes: response) != nil { logger.info("UDS negative response \(response.hexString)") }
                isotp(udsPhysical.send(response, now: now), addressing: .physical, now: now)
            case .sessionChanged(let session):
                logger.info("UDS session \(session)")
            case .securityAccessChanged(let state):
                logger.info("UDS security access \(state)")
            case .persistSecurityAttempts(let count):
                diagnostics.persistSecurityAttempts(count)
            case .execute(let request):
                if let result = execute(request, now: now) {
                    diagnostic(uds.complete(request.token, with: result, now: now), now: now)
                }
                cloudLink.flush(now: now)
            case .hardReset:
                logger.info("ECUReset: restarting from the store")
                resetAfterTransmit = true
                if !udsPhysical.isTransmitting { restartRequested = true }
            }
        }
        refreshStatus()
    }

    /// 0x22: the owner pairing DIDs from `VehicleOwnerPairing`, 0xD130 from the shell's
    /// `busDiagnostics`, the others from the diagnostic application; NRC 0x22 for the first
    /// DID without a value.
    private func read(_ dids: [DataIdentifier], now: Instant) -> ApplicationResult {
        let status = self.status
        var records: [[UInt8]] = []
        for did in dids {
            let value: [UInt8]?
            switch did {
            case .ownerPairingStatus: value = ownerPairing.statusRecord(now: now)
            case .ownerEndpointPublicKey: value = ownerPairing.ownerPublicKey
            case .canBusDiagnostics: value = busDiagnostics.record
            default: value = diagnostics.value(of: did, status: status)
            }
            guard let value else { return .negative(.conditionsNotCorrect) }
            records.append(value)
        }
        return .dataRecords(records)
    }

    /// One validated request, given to its owner; `nil` when the answer comes later.
    private func execute(_ request: ApplicationRequest, now: Instant) -> ApplicationResult? {
        switch ModuleRequest.from(request.operation) {
        case .failure(let code):
            return .negative(code)
        case .success(.read(let dids)):
            return read(dids, now: now)
        case .success(.write(let did, let data)):
            return diagnostics.write(did, data, token: request.token)
        case .success(.plantRoutine(let type, let routine)):
            return diagnostics.routine(type, routine, token: request.token, now: now, status: status)
        case .success(.provisioningRoutine(let type, let routine)):
            return provisioning.routine(type, routine, now: now)
        }
    }
}
