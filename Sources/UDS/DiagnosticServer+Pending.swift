import SpaakCore

/// Application work handed out and not yet completed.
struct PendingWork: Sendable {
    let token: RequestToken
    let sid: UInt8
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
}

extension DiagnosticServer {
    /// Completes the application work `token`; returns the final response. A result for
    /// an unknown or abandoned token is ignored. Calling it in the same loop turn as the
    /// `.execute` (before `responsePendingAfter`) answers without NRC 0x78.
    /// `.negative(.responsePending)` is taken as `reportPending`.
    public mutating func complete(_ token: RequestToken, with result: ApplicationResult, now: Instant) -> [DiagnosticAction] {
        guard let work = pending, work.token == token else { return [] }
        if result == .negative(.responsePending) { return reportPending(token, now: now) }
        pending = nil
        lastActivity = now
        let respondAlways = work.responsePendingCount > 0
        var body = work.echo
        switch result {
        case .negative(let code):
            return respondAlways ? [.send([ServiceIdentifier.negativeResponse, work.sid, code.rawValue])]
                : negativeResponse(work.sid, code, work.addressing)
        case .positive(let payload):
            body += payload
        case .dataRecords(let records):
            if let identifiers = work.readIdentifiers {
                guard records.count == identifiers.count else {
                    return [.send([ServiceIdentifier.negativeResponse, work.sid, NegativeResponseCode.generalReject.rawValue])]
                }
                for (did, record) in zip(identifiers, records) { body += did.bigEndianBytes + record }
            } else {
                body += records.joined()
            }
        }
        let response = [work.sid &+ ServiceIdentifier.positiveResponseOffset] + body
        guard response.count <= configuration.maxResponseLength else {
            return [.send([ServiceIdentifier.negativeResponse, work.sid, NegativeResponseCode.responseTooLong.rawValue])]
        }
        return work.suppressPositiveResponse && !respondAlways ? [] : [.send(response)]
    }

    /// The application says the work `token` will take long: NRC 0x78 goes out now and
    /// is repeated every `responsePendingInterval` until `complete`.
    public mutating func reportPending(_ token: RequestToken, now: Instant) -> [DiagnosticAction] {
        guard var work = pending, work.token == token else { return [] }
        work.responsePendingCount += 1
        work.nextResponsePending = now + configuration.responsePendingInterval
        pending = work
        return [.send([ServiceIdentifier.negativeResponse, work.sid, NegativeResponseCode.responsePending.rawValue])]
    }

    /// Hands `operation` to the application; NRC 0x78 first if `respondPendingFirst`.
    mutating func startApplicationWork(_ request: Request, echo: [UInt8], operation: ApplicationOperation,
                                       readIdentifiers: [UInt16]?, respondPendingFirst: Bool) -> [DiagnosticAction] {
        let token = RequestToken(value: nextTokenValue)
        nextTokenValue &+= 1
        pending = PendingWork(token: token, sid: request.sid, echo: echo, addressing: request.addressing,
                              suppressPositiveResponse: request.suppressPositiveResponse,
                              readIdentifiers: readIdentifiers,
                              nextResponsePending: request.now + configuration.responsePendingAfter)
        let first = respondPendingFirst ? reportPending(token, now: request.now) : []
        return first + [.execute(ApplicationRequest(token: token, operation: operation))]
    }

    /// Sends the NRC 0x78 that is due, or abandons the work with NRC 0x10 after
    /// `maxResponsePending` of them.
    mutating func responsePendingIfDue(now: Instant) -> [DiagnosticAction] {
        guard let work = pending, now >= work.nextResponsePending else { return [] }
        if let limit = configuration.maxResponsePending, work.responsePendingCount >= limit {
            pending = nil
            lastActivity = now
            return [.send([ServiceIdentifier.negativeResponse, work.sid, NegativeResponseCode.generalReject.rawValue])]
        }
        return reportPending(work.token, now: now)
    }
}
