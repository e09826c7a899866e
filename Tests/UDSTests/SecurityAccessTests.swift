import SpaakCore
import Testing
@testable import UDS

@Suite("UDS security access (ICD 5.3)")
struct SecurityAccessTests {
    /// Requests a seed; returns it (empty if the answer is not a positive one).
    static func seed(_ h: inout Harness) -> [UInt8] {
        guard case .send(let response)? = h.request("2701").first, response.count == 18,
              response[0] == 0x67, response[1] == 0x01 else { return [] }
        return Array(response[2...])
    }

    static func sendKey(_ h: inout Harness, _ key: [UInt8]) -> [DiagnosticAction] {
        h.server.handleRequest([0x27, 0x02] + key, addressing: .physical, now: h.now)
    }

    static let wrongKey = [UInt8](repeating: 0xEE, count: 16)

    @Test func seedAndKeyUnlock() {
        var h = Harness()
        h.enterExtended()
        let seed = Self.seed(&h)
        #expect(seed == [0x01] + (1...15).map { UInt8($0) * 0x11 })
        #expect(Self.sendKey(&h, fakeKey(seed)) == [.send([0x67, 0x02]), .securityAccessChanged(.unlocked)])
        #expect(h.server.isUnlocked)
        #expect(h.server.securityAccess == .unlocked)
        #expect(h.server.securityAttempts == 0)
    }

    @Test func unlockedModuleAnswersZeroSeed() {
        var h = Harness()
        h.unlock()
        #expect(h.sent("2701") == ["6701" + String(repeating: "00", count: 16)])
        // the zero seed is no seed: a key for it is out of sequence
        #expect(Self.sendKey(&h, [UInt8](repeating: 0x5A, count: 16)) == [.send([0x7F, 0x27, 0x24])])
        #expect(h.server.isUnlocked)
    }

    @Test func keyWithoutSeedIsOutOfSequence() {
        var h = Harness()
        h.enterExtended()
        #expect(Self.sendKey(&h, Self.wrongKey) == [.send([0x7F, 0x27, 0x24])])
        #expect(h.sent("2702") == ["7F2724"])
        #expect(h.server.securityAttempts == 0)
    }

    @Test func seedIsSingleUse() {
        var h = Harness()
        h.enterExtended()
        let seed = Self.seed(&h)
        #expect(Self.sendKey(&h, fakeKey(seed)).first == .send([0x67, 0x02]))
        #expect(Self.sendKey(&h, fakeKey(seed)) == [.send([0x7F, 0x27, 0x24])])
    }

    @Test func newerSeedReplacesOlder() {
        var h = Harness()
        h.enterExtended()
        let first = Self.seed(&h)
        let second = Self.seed(&h)
        #expect(first != second)
        #expect(Self.sendKey(&h, fakeKey(first)) == [.persistSecurityAttempts(1), .send([0x7F, 0x27, 0x35])])
        #expect(!h.server.isUnlocked)
    }

    @Test func wrongKeyThenUsedSeed() {
        var h = Harness()
        h.enterExtended()
        _ = Self.seed(&h)
        #expect(Self.sendKey(&h, Self.wrongKey) == [.persistSecurityAttempts(1), .send([0x7F, 0x27, 0x35])])
        #expect(Self.sendKey(&h, Self.wrongKey) == [.send([0x7F, 0x27, 0x24])])
        #expect(h.server.securityAttempts == 1)
    }

    @Test func wrongKeyLengthIsAFormatError() {
        var h = Harness()
        h.enterExtended()
        let seed = Self.seed(&h)
        #expect(Self.sendKey(&h, Array(fakeKey(seed).prefix(15))) == [.send([0x7F, 0x27, 0x13])])
        #expect(h.server.securityAttempts == 0)
        // the seed was used up by that request
        #expect(Self.sendKey(&h, fakeKey(seed)) == [.send([0x7F, 0x27, 0x24])])
    }

    @Test func subFunctionAndLengthErrors() {
        var h = Harness()
        h.enterExtended()
        #expect(h.sent("2703") == ["7F2712"])
        #expect(h.sent("2703", functional: true) == [])
        #expect(h.sent("27") == ["7F2713"])
        #expect(h.sent("270100") == ["7F2713"])
    }

    @Test func thirdWrongKeyStartsTheDelay() {
        var h = Harness(start: .milliseconds(1000))
        h.enterExtended()
        for attempt in 1...2 {
            _ = Self.seed(&h)
            #expect(Self.sendKey(&h, Self.wrongKey) == [.persistSecurityAttempts(attempt), .send([0x7F, 0x27, 0x35])])
        }
        _ = Self.seed(&h)
        #expect(Self.sendKey(&h, Self.wrongKey) == [.persistSecurityAttempts(3), .send([0x7F, 0x27, 0x36])])
        #expect(h.server.securityAttempts == 3)
        #expect(h.server.securityDelayEnd == .milliseconds(11_000))
        #expect(h.sent("2701") == ["7F2737"])
        for t: UInt64 in [2000, 5000, 8000] {     // tester present keeps the session
            h.advance(toMilliseconds: t)
            _ = h.request("3E80")
        }
        h.advance(toMilliseconds: 10_999)
        #expect(h.sent("2701") == ["7F2737"])
        let log = h.advance(toMilliseconds: 11_000)
        #expect(log.map(\.1) == [.persistSecurityAttempts(0)])
        #expect(h.server.securityAttempts == 0)
        let seed = Self.seed(&h)
        #expect(seed.count == 16)
        // the count starts from zero: one wrong key is a plain 0x35 again
        #expect(Self.sendKey(&h, Self.wrongKey) == [.persistSecurityAttempts(1), .send([0x7F, 0x27, 0x35])])
    }

    @Test func delayEndsOnRequestEvenWithoutTimeoutCall() {
        var h = Harness(persistedAttempts: 3)
        h.now = .milliseconds(10_000)
        let actions = h.request("1003")
        #expect(actions.first == .persistSecurityAttempts(0))
        #expect(Self.seed(&h).count == 16)
    }

    @Test func restartWithPersistedAttemptsKeepsTheDelay() {
        var h = Harness(persistedAttempts: 3, start: .milliseconds(500))
        #expect(h.server.securityAttempts == 3)
        #expect(h.server.nextDeadline == .milliseconds(10_500))
        h.enterExtended()
        #expect(h.sent("2701") == ["7F2737"])
        h.advance(toMilliseconds: 4000)
        #expect(h.sent("2701") == ["7F2737"])
        h.advance(toMilliseconds: 8000)
        _ = h.request("3E80")
        #expect(h.advance(toMilliseconds: 10_500).map(\.1) == [.persistSecurityAttempts(0)])
        #expect(h.server.session == .extendedDiagnosticSession)
        let seed = Self.seed(&h)
        #expect(Self.sendKey(&h, fakeKey(seed)) == [.send([0x67, 0x02]), .securityAccessChanged(.unlocked)])
    }

    @Test func restartWithTwoAttemptsLeavesOneTry() {
        var h = Harness(persistedAttempts: 2)
        #expect(h.server.securityDelayEnd == nil)
        h.enterExtended()
        _ = Self.seed(&h)
        #expect(Self.sendKey(&h, Self.wrongKey) == [.persistSecurityAttempts(3), .send([0x7F, 0x27, 0x36])])
    }

    @Test func validKeyClearsTheCount() {
        var h = Harness()
        h.enterExtended()
        _ = Self.seed(&h)
        _ = Self.sendKey(&h, Self.wrongKey)
        let seed = Self.seed(&h)
        #expect(Self.sendKey(&h, fakeKey(seed)) == [.persistSecurityAttempts(0), .send([0x67, 0x02]),
                                                      .securityAccessChanged(.unlocked)])
        #expect(h.server.securityAttempts == 0)
    }

    @Test func configurableDelay() {
        var configuration = DiagnosticServerConfiguration()
        configuration.securityDelay = .seconds(2)
        var h = Harness(configuration: configuration, persistedAttempts: 3)
        h.enterExtended()
        #expect(h.sent("2701") == ["7F2737"])
        h.advance(toMilliseconds: 2000)
        #expect(Self.seed(&h).count == 16)
    }

    @Test func leavingExtendedLocks() {
        var h = Harness()
        h.unlock()
        #expect(h.request("1001") == [.send([0x50, 0x01, 0x00, 0x32, 0x01, 0xF4]), .securityAccessChanged(.locked),
                                      .sessionChanged(.defaultSession)])
        #expect(!h.server.isUnlocked)
    }

    @Test func extendedToExtendedRelocks() {
        var h = Harness()
        h.unlock()
        #expect(h.request("1003") == [.send([0x50, 0x03, 0x00, 0x32, 0x01, 0xF4]), .securityAccessChanged(.locked)])
        #expect(h.server.session == .extendedDiagnosticSession)
        #expect(!h.server.isUnlocked)
    }

    @Test func sessionChangeDropsTheSeed() {
        var h = Harness()
        h.enterExtended()
        let seed = Self.seed(&h)
        _ = h.request("1003")
        #expect(Self.sendKey(&h, fakeKey(seed)) == [.send([0x7F, 0x27, 0x24])])
    }

    @Test func constantTimeComparison() {
        #expect(DiagnosticServer.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!DiagnosticServer.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!DiagnosticServer.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(DiagnosticServer.constantTimeEqual([], []))
    }
}
