import SpaakCore

/// Application work handed out and not yet completed (`DiagnosticServer.RequestState.busy`).
struct PendingWork: Sendable {
    let token: RequestToken
    let service: ServiceIdentifier
    /// The request parameters the positive response repeats after the SID.
    let echo: [UInt8]
    let addressing: RequestAddressing
    let suppressPositiveResponse: Bool
    /// For a read: the DIDs whose records the application returns.
    let readIdentifiers: [UInt16]?
    /// When the next NRC 0x78 is due.
    var nextResponsePending: Instant
    /// NRC 0x78 sent so far.
    var responsePendingCount = 0

    /// `7F SID code`.
    func negativeResponse(_ code: NegativeResponseCode) -> DiagnosticAction {
        .send(NegativeResponse(sid: service.rawValue, code: code).bytes)
    }
}

extension DiagnosticServer {
    /// Completes the application work `token`; returns the final response. A result for
    /// an unknown or abandoned token is ignored. Calling it in the same loop turn as the
    /// `.execute` (before `responsePendingAfter`) answers without NRC 0x78.
    /// `.negative(.responsePending)` is taken as `reportPending`.
    public mutating func complete(_ token: RequestToken, with result: ApplicationResult, now: Instant) -> [DiagnosticAction] {
        guard case .busy(let work) = requestState, work.token == token else { return [] }
        if result == .negative(.responsePending) { return reportPending(token, now: now) }
        requestState = .idle(lastActivity: now)
        let respondAlways = work.responsePendingCount > 0
        var body = work.echo
        switch result {
        case .negative(let code):
            return respondAlways ? [work.negativeResponse(code)]
                : negativeResponse(work.service.rawValue, code, work.addressing)
        case .positive(let payload):
            body += payload
        case .dataRecords(let records):
            if let identifiers = work.readIdentifiers {
                guard records.count == identifiers.count else { return [work.negativeResponse(.generalReject)] }
                for (did, record) in zip(identifiers, records) { body += did.bigEndianBytes + record }
            } else {
                body += records.joined()
            }
        }
        let response = [work.service.positiveResponseSID] + body
        guard response.count <= configuration.maxResponseLength else { return [work.negativeResponse(.responseTooLong)] }
        return work.suppressPositiveResponse && !respondAlways ? [] : [.send(response)]
    }

    /// The application says the work `token` will take long: NRC 0x78 goes out now and
    /// is repeated every `responsePendingInterval` until `complete`.
    public mutating func reportPending(_ token: RequestToken, now: Instant) -> [DiagnosticAction] {
        guard case .busy(var work) = requestState, work.token == token else { return [] }
        work.responsePendingCount += 1
        work.nextResponsePending = now + configuration.responsePendingInterval
        requestState = .busy(work)
        return [work.negativeResponse(.responsePending)]
    }

    /// Hands `operation` to the application (the server becomes busy); NRC 0x78 first if
    /// `respondPendingFirst`.
    mutating func startApplicationWork(_ request: Request, echo: [UInt8], operation: ApplicationOperation,
                                       readIdentifiers: [UInt16]?, respondPendingFirst: Bool) -> [DiagnosticAction] {
        let token = RequestToken(value: nextTokenValue)
        nextTokenValue &+= 1
        requestState = .busy(PendingWork(token: token, service: request.service, echo: echo, addressing: request.addressing,
                                         suppressPositiveResponse: request.suppressPositiveResponse,
                                         readIdentifiers: readIdentifiers,
                                         nextResponsePending: request.now + configuration.responsePendingAfter))
        let first = respondPendingFirst ? reportPending(token, now: request.now) : []
        return first + [.execute(ApplicationRequest(token: token, operation: operation))]
    }

    /// Sends the NRC 0x78 that is due, or abandons the work with NRC 0x10 after
    /// `maxResponsePending` of them.
    mutating func responsePendingIfDue(now: Instant) -> [DiagnosticAction] {
        guard case .busy(let work) = requestState, now >= work.nextResponsePending else { return [] }
        if let limit = configuration.maxResponsePending, work.responsePendingCount >= limit {
            requestState = .idle(lastActivity: now)
            return [work.negativeResponse(.generalReject)]
        }
        return reportPending(work.token, now: now)
    }
}
