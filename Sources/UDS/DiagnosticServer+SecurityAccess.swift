import SpaakCore

extension DiagnosticServer {
    /// 0x27 SecurityAccess, level 1 (ICD 5.3): `27 01` → `67 01 seed`; `27 02 key` → `67 02`.
    /// The state (seed, wrong-key count, delay) is `SecurityAccessMachine`'s.
    mutating func securityAccess(_ request: Request) -> [DiagnosticAction] {
        switch SecurityAccessType(rawValue: request.subFunction) {
        case .requestSeed: return requestSeed(request)
        case .sendKey: return sendKey(request)
        case nil: return reject(request, .subFunctionNotSupported)   // `dispatch` let no other through
        }
    }

    /// requestSeed: NRC 0x37 while the delay runs; an all-zero seed when already
    /// unlocked; else a fresh seed that replaces any earlier one.
    private mutating func requestSeed(_ request: Request) -> [DiagnosticAction] {
        guard request.bytes.count == 2 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        switch security.requestSeed(seedSource) {
        case .delayNotExpired:
            return reject(request, .requiredTimeDelayNotExpired)
        case .alreadyUnlocked:
            return positiveResponse(request, [request.subFunction] + [UInt8](repeating: 0, count: configuration.seedLength))
        case .seed(let seed):
            return positiveResponse(request, [request.subFunction] + seed)
        }
    }

    /// sendKey: NRC 0x24 without an unused seed (the seed is used up by this request,
    /// whatever its outcome); 0x13 for a wrong key length (not counted as an attempt);
    /// 0x35 for a wrong key, 0x36 for the last allowed one (the delay starts).
    private mutating func sendKey(_ request: Request) -> [DiagnosticAction] {
        let key = Array(request.bytes.dropFirst(2))
        switch security.sendKey(key, keyLength: configuration.keyLength, now: request.now, expectedKey: keyFunction) {
        case .noSeed:
            return reject(request, .requestSequenceError)
        case .wrongLength:
            return reject(request, .incorrectMessageLengthOrInvalidFormat)
        case .invalidKey(let failedAttempts):
            return [.persistSecurityAttempts(failedAttempts)] + reject(request, .invalidKey)
        case .attemptsExceeded(let failedAttempts):
            return [.persistSecurityAttempts(failedAttempts)] + reject(request, .exceededNumberOfAttempts)
        case .unlocked(let attemptsCleared):
            return (attemptsCleared ? [.persistSecurityAttempts(0)] : [])
                + positiveResponse(request, [request.subFunction]) + [.securityAccessChanged(.unlocked)]
        }
    }

    /// Ends the security delay once it has run out: the attempt count starts from zero.
    mutating func expireSecurityDelay(now: Instant) -> [DiagnosticAction] {
        security.expireDelay(now: now) ? [.persistSecurityAttempts(0)] : []
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
