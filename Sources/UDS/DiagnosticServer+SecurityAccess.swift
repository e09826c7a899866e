import SpaakCore

extension DiagnosticServer {
    /// 0x27 SecurityAccess, level 1 (ICD 5.3): `27 01` → `67 01 seed`; `27 02 key` → `67 02`.
    mutating func securityAccess(_ request: Request) -> [DiagnosticAction] {
        request.subFunction == 0x01 ? requestSeed(request) : sendKey(request)
    }

    /// requestSeed: NRC 0x37 while the delay runs; an all-zero seed when already
    /// unlocked; else a fresh seed that replaces any earlier one.
    private mutating func requestSeed(_ request: Request) -> [DiagnosticAction] {
        guard request.bytes.count == 2 else { return reject(request, .incorrectMessageLengthOrInvalidFormat) }
        if securityDelayEnd != nil { return reject(request, .requiredTimeDelayNotExpired) }
        if isUnlocked {
            currentSeed = nil
            return positiveResponse(request, [request.subFunction] + [UInt8](repeating: 0, count: configuration.seedLength))
        }
        let seed = seedSource()
        currentSeed = seed
        return positiveResponse(request, [request.subFunction] + seed)
    }

    /// sendKey: NRC 0x24 without an unused seed (the seed is used up by this request,
    /// whatever its outcome); 0x13 for a wrong key length (not counted as an attempt);
    /// 0x35 for a wrong key, 0x36 for the last allowed one (the delay starts).
    private mutating func sendKey(_ request: Request) -> [DiagnosticAction] {
        guard let seed = currentSeed else { return reject(request, .requestSequenceError) }
        currentSeed = nil
        guard request.bytes.count == 2 + configuration.keyLength else {
            return reject(request, .incorrectMessageLengthOrInvalidFormat)
        }
        let key = Array(request.bytes[2...])
        let maxAttempts = max(1, configuration.securityMaxAttempts)
        guard Self.constantTimeEqual(key, keyFunction(seed)) else {
            securityAttempts = min(securityAttempts + 1, maxAttempts)
            let persist = DiagnosticAction.persistSecurityAttempts(securityAttempts)
            if securityAttempts >= maxAttempts {
                securityDelayEnd = request.now + configuration.securityDelay
                return [persist] + reject(request, .exceededNumberOfAttempts)
            }
            return [persist] + reject(request, .invalidKey)
        }
        var actions: [DiagnosticAction] = []
        if securityAttempts != 0 {
            securityAttempts = 0
            actions.append(.persistSecurityAttempts(0))
        }
        securityAccess = .unlocked
        return actions + positiveResponse(request, [request.subFunction]) + [.securityAccessChanged(.unlocked)]
    }

    /// Ends the security delay once it has run out: the attempt count starts from zero.
    mutating func expireSecurityDelay(now: Instant) -> [DiagnosticAction] {
        guard let end = securityDelayEnd, now >= end else { return [] }
        securityDelayEnd = nil
        securityAttempts = 0
        return [.persistSecurityAttempts(0)]
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
