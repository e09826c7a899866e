import SpaakCore
import Synchronization
import Testing
@testable import UDS

/// Deterministic seeds: 16 bytes, the first one counting 1, 2, 3, ...
final class SeedCounter: Sendable {
    private let counter = Mutex<UInt8>(0)
    func next() -> [UInt8] {
        let n = counter.withLock { value -> UInt8 in
            value &+= 1
            return value
        }
        return [n] + (1...15).map { UInt8($0) * 0x11 }
    }
}

/// The fake key function of the tests: every seed byte XOR 0x5A.
@Sendable func fakeKey(_ seed: [UInt8]) -> [UInt8] { seed.map { $0 ^ 0x5A } }

/// A server driven in virtual time, with helpers that speak hex.
struct Harness {
    var server: DiagnosticServer
    var now: Instant

    init(configuration: DiagnosticServerConfiguration = DiagnosticServerConfiguration(),
         persistedAttempts: Int = 0, start: Instant = .zero) {
        let seeds = SeedCounter()
        now = start
        server = DiagnosticServer(configuration: configuration, persistedSecurityAttempts: persistedAttempts, now: start,
                                  seedSource: { seeds.next() }, keyFunction: fakeKey)
    }

    /// Sends a request given in hex at the current time.
    mutating func request(_ hex: String, functional: Bool = false) -> [DiagnosticAction] {
        server.handleRequest([UInt8](hex: hex) ?? [], addressing: functional ? .functional : .physical, now: now)
    }

    /// Sends a request and returns only the responses sent, in hex.
    mutating func sent(_ hex: String, functional: Bool = false) -> [String] {
        Self.responses(request(hex, functional: functional))
    }

    /// Moves time to `ms` after the origin, calling `handleTimeout` at every deadline on
    /// the way (as the event loop does); returns the actions with the time of each.
    @discardableResult
    mutating func advance(toMilliseconds ms: UInt64) -> [(UInt64, DiagnosticAction)] {
        let target = Instant.milliseconds(ms)
        var log: [(UInt64, DiagnosticAction)] = []
        while let deadline = server.nextDeadline, deadline <= target {
            now = max(now, deadline)
            log += server.handleTimeout(now: now).map { (now.milliseconds, $0) }
            if let next = server.nextDeadline, next <= now {
                Issue.record("handleTimeout at \(now) left a deadline that has passed: \(next)")
                break
            }
        }
        now = max(now, target)
        return log
    }

    /// The application request of the last `.execute` in `actions`.
    static func executed(_ actions: [DiagnosticAction]) -> ApplicationRequest? {
        for case .execute(let request) in actions.reversed() { return request }
        return nil
    }

    /// The hex of every `.send` in `actions`.
    static func responses(_ actions: [DiagnosticAction]) -> [String] {
        actions.compactMap { if case .send(let bytes) = $0 { return bytes.hexString } else { return nil } }
    }

    /// Enters the extended session.
    mutating func enterExtended() {
        _ = request("1003")
    }

    /// Enters the extended session and unlocks with a valid key.
    mutating func unlock() {
        enterExtended()
        guard case .send(let response)? = request("2701").first, response.count == 18 else { return }
        let key = fakeKey(Array(response[2...]))
        _ = server.handleRequest([0x27, 0x02] + key, addressing: .physical, now: now)
    }
}
