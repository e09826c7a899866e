import SpaakCore

/// Security access level 1 (ICD 5.3) as a state machine: the seed handed out, the count of
/// wrong keys in a row and the delay after too many. `DiagnosticServer` owns one, feeds it
/// the 0x27 requests that passed the generic checks, the session changes and the time, and
/// turns its answers into responses and actions.
struct SecurityAccessMachine: Sendable {
    private enum State: Sendable {
        /// Locked after `failedAttempts` wrong keys in a row (fewer than the maximum);
        /// `seed` is the seed handed out and not yet used by a sendKey.
        case locked(failedAttempts: Int, seed: [UInt8]?)
        /// Locked after the maximum of wrong keys: requestSeed is refused until `until`,
        /// then the count starts from zero.
        case delayed(until: Instant)
        /// Unlocked by a valid key (no seed is outstanding, no wrong key counted).
        case unlocked
    }

    /// The answer to a requestSeed.
    enum SeedAnswer: Equatable {
        /// NRC 0x37: the delay runs.
        case delayNotExpired
        /// Already unlocked: the all-zero seed.
        case alreadyUnlocked
        /// This fresh seed, which replaces any earlier one.
        case seed([UInt8])
    }

    /// The answer to a sendKey.
    enum KeyAnswer: Equatable {
        /// NRC 0x24: no unused seed.
        case noSeed
        /// NRC 0x13: a key of the wrong length (the seed is used up, no attempt counted).
        case wrongLength
        /// NRC 0x35: a wrong key, the count is now `failedAttempts`.
        case invalidKey(failedAttempts: Int)
        /// NRC 0x36: the last allowed wrong key; the delay has started.
        case attemptsExceeded(failedAttempts: Int)
        /// Unlocked; `attemptsCleared`: an earlier count went back to zero.
        case unlocked(attemptsCleared: Bool)
    }

    /// Wrong keys in a row that start the delay (at least 1).
    let maxAttempts: Int
    /// How long requestSeed is refused after the last allowed wrong key.
    let delay: Duration
    private var state: State

    /// Locked, with the wrong-key count the store holds; at the maximum, the delay runs
    /// from `now` (a restart neither shortens nor skips it).
    init(persistedAttempts: Int, maxAttempts: Int, delay: Duration, now: Instant) {
        self.maxAttempts = max(1, maxAttempts)
        self.delay = delay
        let attempts = min(max(0, persistedAttempts), self.maxAttempts)
        state = attempts >= self.maxAttempts ? .delayed(until: now + delay) : .locked(failedAttempts: attempts, seed: nil)
    }

    /// Locked or unlocked.
    var access: SecurityAccessState {
        switch state {
        case .locked, .delayed: return .locked
        case .unlocked: return .unlocked
        }
    }

    /// Consecutive wrong keys (the maximum while the delay runs).
    var failedAttempts: Int {
        switch state {
        case .locked(let failedAttempts, _): return failedAttempts
        case .delayed: return maxAttempts
        case .unlocked: return 0
        }
    }

    /// The end of the running delay.
    var delayEnd: Instant? {
        switch state {
        case .locked, .unlocked: return nil
        case .delayed(let until): return until
        }
    }

    /// requestSeed (`27 01`): `newSeed` is called only when a fresh seed is handed out.
    mutating func requestSeed(_ newSeed: () -> [UInt8]) -> SeedAnswer {
        switch state {
        case .delayed:
            return .delayNotExpired
        case .unlocked:
            return .alreadyUnlocked
        case .locked(let failedAttempts, _):
            let seed = newSeed()
            state = .locked(failedAttempts: failedAttempts, seed: seed)
            return .seed(seed)
        }
    }

    /// sendKey (`27 02 key`): uses up the seed whatever the outcome; `expectedKey` gives the
    /// key a seed expects.
    mutating func sendKey(_ key: [UInt8], keyLength: Int, now: Instant,
                          expectedKey: ([UInt8]) -> [UInt8]) -> KeyAnswer {
        guard case .locked(let failedAttempts, let seed?) = state else { return .noSeed }
        state = .locked(failedAttempts: failedAttempts, seed: nil)
        guard key.count == keyLength else { return .wrongLength }
        guard DiagnosticServer.constantTimeEqual(key, expectedKey(seed)) else {
            let attempts = failedAttempts + 1
            if attempts >= maxAttempts {
                state = .delayed(until: now + delay)
                return .attemptsExceeded(failedAttempts: attempts)
            }
            state = .locked(failedAttempts: attempts, seed: nil)
            return .invalidKey(failedAttempts: attempts)
        }
        state = .unlocked
        return .unlocked(attemptsCleared: failedAttempts != 0)
    }

    /// A session transition: the seed is forgotten; with `lock` (leaving a non-default
    /// session) unlocked access locks. Returns `true` if it locked.
    mutating func sessionTransition(lock: Bool) -> Bool {
        switch state {
        case .delayed:
            return false
        case .locked(let failedAttempts, _):
            state = .locked(failedAttempts: failedAttempts, seed: nil)
            return false
        case .unlocked:
            guard lock else { return false }
            state = .locked(failedAttempts: 0, seed: nil)
            return true
        }
    }

    /// The time: ends the delay once it has run out. Returns `true` if it ended (the count
    /// is back to zero).
    mutating func expireDelay(now: Instant) -> Bool {
        guard case .delayed(let until) = state, now >= until else { return false }
        state = .locked(failedAttempts: 0, seed: nil)
        return true
    }
}
