extension DiagnosticServer {
    /// 0x22 ReadDataByIdentifier: `22 (DID)+` → `62 (DID data)+`.
    ///
    /// ISO 14229-1 behaviour for several DIDs: those unknown or not readable in the
    /// active session are left out of the request to the application and of the
    /// response; NRC 0x31 only if none is left. NRC 0x33 if any remaining DID needs
    /// security access while locked.
    mutating func readDataByIdentifier(_ request: Request) -> [DiagnosticAction] {
        let bytes = request.bytes
        guard bytes.count >= 3, (bytes.count - 1) % 2 == 0 else {
            return reject(request, .incorrectMessageLengthOrInvalidFormat)
        }
        let requested = stride(from: 1, to: bytes.count, by: 2).map { Self.identifier(bytes, at: $0) }
        let readable = requested.compactMap { did -> (UInt16, AccessRequirement)? in
            guard let access = dataIdentifierTable[did]?.read, access.sessions.contains(session) else { return nil }
            return (did, access)
        }
        guard !readable.isEmpty else { return reject(request, .requestOutOfRange) }
        if !isUnlocked, readable.contains(where: { $0.1.requiresUnlocked }) {
            return reject(request, .securityAccessDenied)
        }
        let identifiers = readable.map(\.0)
        return startApplicationWork(request, echo: [], operation: .readData(identifiers: identifiers),
                                    readIdentifiers: identifiers, respondPendingFirst: false)
    }

    /// 0x2E WriteDataByIdentifier: `2E DID data` → `6E DID`.
    ///
    /// NRC 0x31 for a DID that is unknown, read-only or not writable in the active
    /// session; 0x33 when locked; 0x13 when the table fixes a length and it differs.
    mutating func writeDataByIdentifier(_ request: Request) -> [DiagnosticAction] {
        let bytes = request.bytes
        guard bytes.count >= 4 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        let did = Self.identifier(bytes, at: 1)
        guard let entry = dataIdentifierTable[did], let access = entry.write, access.sessions.contains(session) else {
            return reject(request, .requestOutOfRange)
        }
        guard !access.requiresUnlocked || isUnlocked else { return reject(request, .securityAccessDenied) }
        let data = Array(bytes[3...])
        if let length = entry.writeLength, data.count != length {
            return reject(request, .incorrectMessageLengthOrInvalidFormat)
        }
        return startApplicationWork(request, echo: Array(bytes[1...2]), operation: .writeData(identifier: did, data: data),
                                    readIdentifiers: nil, respondPendingFirst: entry.writeRespondsPendingFirst)
    }

    /// 0x31 RoutineControl: `31 type RID options` → `71 type RID statusRecord`.
    ///
    /// A sub-function no routine of the table has was answered 0x12 by `dispatch`. Then:
    /// NRC 0x31 for an unknown RID or one not supported in the active session; 0x12 for
    /// stop/results on a routine without them; 0x33 when locked; 0x13 for an option record
    /// of the wrong length (start: the table's `startOptionLength`; stop and results take
    /// none, ISO 14229-1 defines no option record for them here). Whether results exist
    /// yet (0x24) is the application's business.
    mutating func routineControl(_ request: Request) -> [DiagnosticAction] {
        let bytes = request.bytes
        guard bytes.count >= 4 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        let rid = Self.identifier(bytes, at: 2)
        guard let entry = routineTable[rid], entry.access.sessions.contains(session) else {
            return reject(request, .requestOutOfRange)
        }
        guard let type = RoutineControlType(rawValue: request.subFunction) else {
            return reject(request, .subFunctionNotSupported)
        }
        let optionLength: Int?
        switch type {
        case .startRoutine:
            optionLength = entry.startOptionLength
        case .stopRoutine:
            guard entry.supportsStop else { return reject(request, .subFunctionNotSupported) }
            optionLength = 0
        case .requestRoutineResults:
            guard entry.supportsResults else { return reject(request, .subFunctionNotSupported) }
            optionLength = 0
        }
        guard !entry.access.requiresUnlocked || isUnlocked else { return reject(request, .securityAccessDenied) }
        let options = Array(bytes[4...])
        if let optionLength, options.count != optionLength {
            return reject(request, .incorrectMessageLengthOrInvalidFormat)
        }
        return startApplicationWork(request, echo: [request.subFunction] + bytes[2...3],
                                    operation: .routineControl(type, identifier: rid, options: options),
                                    readIdentifiers: nil,
                                    respondPendingFirst: type == .startRoutine && entry.startRespondsPendingFirst)
    }
}
