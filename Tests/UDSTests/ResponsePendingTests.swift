import SpaakCore
import Testing
@testable import UDS

@Suite("UDS application work and NRC 0x78")
struct ResponsePendingTests {
    /// Unlocks, then starts routine 0xD200 at `ms`; returns its token.
    static func startKeyGeneration(_ h: inout Harness, atMilliseconds ms: UInt64) -> RequestToken? {
        h.unlock()
        h.advance(toMilliseconds: ms)
        let actions = h.request("3101D200")
        #expect(Harness.responses(actions) == [])
        return Harness.executed(actions)?.token
    }

    @Test func immediateCompletionSendsNoResponsePending() throws {
        var h = Harness()
        let token = try #require(Self.startKeyGeneration(&h, atMilliseconds: 100))
        #expect(h.server.nextDeadline == .milliseconds(140))
        #expect(h.server.complete(token, with: .positive([0x00]), now: h.now) == [.send([0x71, 0x01, 0xD2, 0x00, 0x00])])
        #expect(h.server.pendingToken == nil)
        #expect(h.server.nextDeadline == .milliseconds(5100))    // only S3 is left
        #expect(h.advance(toMilliseconds: 1000).isEmpty)
    }

    @Test func completionAfter45msSendsOneResponsePending() throws {
        var h = Harness()
        let token = try #require(Self.startKeyGeneration(&h, atMilliseconds: 100))
        #expect(h.advance(toMilliseconds: 139).isEmpty)
        let log = h.advance(toMilliseconds: 145)
        #expect(log.map(\.0) == [140])
        #expect(log.map(\.1) == [.send([0x7F, 0x31, 0x78])])
        #expect(h.server.complete(token, with: .positive([0x00]), now: h.now) == [.send([0x71, 0x01, 0xD2, 0x00, 0x00])])
        #expect(h.advance(toMilliseconds: 3000).isEmpty)
    }

    @Test func slowJobRepeatsResponsePending() throws {
        var h = Harness()
        let token = try #require(Self.startKeyGeneration(&h, atMilliseconds: 0))
        let log = h.advance(toMilliseconds: 6500)
        #expect(log.map(\.0) == [40, 2040, 4040, 6040])
        #expect(log.allSatisfy { $0.1 == .send([0x7F, 0x31, 0x78]) })
        #expect(h.server.session == .extendedDiagnosticSession)   // S3 is held while busy
        #expect(h.server.complete(token, with: .positive([0x00]), now: h.now) == [.send([0x71, 0x01, 0xD2, 0x00, 0x00])])
        #expect(h.server.nextDeadline == .milliseconds(11_500))  // S3 restarts at the final response
        #expect(h.advance(toMilliseconds: 11_499).isEmpty)
        #expect(h.advance(toMilliseconds: 11_500).map(\.1) == [.securityAccessChanged(.locked), .sessionChanged(.defaultSession)])
    }

    @Test func applicationCanReportPendingAtOnce() throws {
        var h = Harness()
        let token = try #require(Self.startKeyGeneration(&h, atMilliseconds: 0))
        #expect(h.server.reportPending(token, now: h.now) == [.send([0x7F, 0x31, 0x78])])
        #expect(h.server.nextDeadline == .milliseconds(2000))
        #expect(h.server.complete(token, with: .negative(.responsePending), now: h.now) == [.send([0x7F, 0x31, 0x78])])
        #expect(h.server.complete(token, with: .negative(.conditionsNotCorrect), now: h.now) == [.send([0x7F, 0x31, 0x22])])
    }

    @Test func tableFlagSendsResponsePendingFirst() {
        var configuration = DiagnosticServerConfiguration()
        configuration.routines = [RoutineEntry(0xD200, access: .extendedUnlocked, startRespondsPendingFirst: true)]
        var h = Harness(configuration: configuration)
        h.unlock()
        let actions = h.request("3101D200")
        #expect(actions.first == .send([0x7F, 0x31, 0x78]))
        #expect(Harness.executed(actions)?.operation == .routineControl(.startRoutine, identifier: 0xD200, options: []))
        #expect(h.advance(toMilliseconds: 1999).isEmpty)
        #expect(h.advance(toMilliseconds: 2000).map(\.1) == [.send([0x7F, 0x31, 0x78])])
    }

    @Test func suppressedPositiveIsSentAfterResponsePending() throws {
        var h = Harness()
        h.unlock()
        let token = try #require(Harness.executed(h.request("3181D200"))?.token)
        h.advance(toMilliseconds: 100)
        #expect(h.server.complete(token, with: .positive([0x00]), now: h.now) == [.send([0x71, 0x01, 0xD2, 0x00, 0x00])])
    }

    @Test func functionalNegativeIsSentAfterResponsePending() throws {
        var h = Harness()
        let token = try #require(Harness.executed(h.request("22F190", functional: true))?.token)
        #expect(h.advance(toMilliseconds: 50).map(\.1) == [.send([0x7F, 0x22, 0x78])])
        #expect(h.server.complete(token, with: .negative(.requestOutOfRange), now: h.now) == [.send([0x7F, 0x22, 0x31])])
    }

    @Test func busyWhilePending() throws {
        var h = Harness()
        let token = try #require(Self.startKeyGeneration(&h, atMilliseconds: 0))
        #expect(h.sent("22F190") == ["7F2221"])
        #expect(h.sent("1001") == ["7F1021"])
        #expect(h.sent("3E00") == ["7F3E21"])
        #expect(h.sent("3E80") == [])
        #expect(h.server.session == .extendedDiagnosticSession)
        #expect(h.server.complete(RequestToken(value: token.value + 7), with: .positive([]), now: h.now) == [])
        #expect(h.server.pendingToken == token)
        _ = h.server.complete(token, with: .positive([0x00]), now: h.now)
        #expect(h.server.complete(token, with: .positive([0x00]), now: h.now) == [])   // already done
    }

    @Test func abandonAfterMaxResponsePending() throws {
        var configuration = DiagnosticServerConfiguration()
        configuration.maxResponsePending = 2
        var h = Harness(configuration: configuration)
        let token = try #require(Harness.executed(h.request("22F190"))?.token)
        let log = h.advance(toMilliseconds: 5000)
        #expect(log.map(\.0) == [40, 2040, 4040])
        #expect(log.map(\.1) == [.send([0x7F, 0x22, 0x78]), .send([0x7F, 0x22, 0x78]), .send([0x7F, 0x22, 0x10])])
        #expect(h.server.pendingToken == nil)
        #expect(h.server.complete(token, with: .dataRecords([[1]]), now: h.now) == [])
    }

    @Test func tokensAreDistinct() throws {
        var h = Harness()
        let first = try #require(Harness.executed(h.request("22F190"))?.token)
        _ = h.server.complete(first, with: .dataRecords([[1]]), now: h.now)
        let second = try #require(Harness.executed(h.request("22F190"))?.token)
        #expect(first != second)
    }
}
