import SpaakCore
import Testing
@testable import UDS

@Suite("UDS sessions, reset, tester present and generic NRCs")
struct SessionTests {
    @Test func extendedSessionAnswersTimingParameters() {
        var h = Harness()
        let actions = h.request("1003")
        #expect(actions == [.send([0x50, 0x03, 0x00, 0x32, 0x01, 0xF4]), .sessionChanged(.extendedDiagnosticSession)])
        #expect(h.server.session == .extendedDiagnosticSession)
        #expect(h.request("1001") == [.send([0x50, 0x01, 0x00, 0x32, 0x01, 0xF4]), .sessionChanged(.defaultSession)])
        #expect(h.server.session == .defaultSession)
    }

    @Test func defaultToDefaultChangesNothing() {
        var h = Harness()
        #expect(h.request("1001") == [.send([0x50, 0x01, 0x00, 0x32, 0x01, 0xF4])])
    }

    @Test func suppressPositiveResponseOnSessionControl() {
        var h = Harness()
        #expect(h.request("1083") == [.sessionChanged(.extendedDiagnosticSession)])
        #expect(h.server.session == .extendedDiagnosticSession)
        #expect(h.request("1083", functional: true) == [])
    }

    @Test func sessionControlErrors() {
        var h = Harness()
        #expect(h.sent("1005") == ["7F1012"])
        #expect(h.sent("1085") == ["7F1012"])
        #expect(h.sent("10") == ["7F1013"])
        #expect(h.sent("100300") == ["7F1013"])
        #expect(h.server.session == .defaultSession)
    }

    @Test func functionalRequestsSuppressSomeNegativeResponses() {
        var h = Harness()
        #expect(h.sent("1005", functional: true) == [])          // 0x12
        #expect(h.sent("19020A", functional: true) == [])        // 0x11
        #expect(h.sent("2701", functional: true) == [])          // 0x7F
        #expect(h.sent("10", functional: true) == ["7F1013"])    // 0x13 is not suppressed
        #expect(h.sent("1003", functional: true) == ["5003003201F4"])
        #expect(h.sent("2E1234AA", functional: true) == [])      // 0x31
        #expect(h.sent("3101D200", functional: true) == ["7F3133"]) // 0x33 is not suppressed
    }

    @Test func unknownServiceAndEmptyRequest() {
        var h = Harness()
        #expect(h.sent("19020A") == ["7F1911"])
        #expect(h.sent("85") == ["7F8511"])
        #expect(h.request("") == [])
    }

    @Test func servicesOutsideTheirSession() {
        var h = Harness()
        #expect(h.sent("2701") == ["7F277F"])
        #expect(h.sent("27") == ["7F277F"])   // session is checked before length (ISO 14229-1 fig. 5)
        #expect(h.sent("2EF19041") == ["7F2E7F"])
        #expect(h.sent("3101D202") == ["7F317F"])
    }

    @Test func s3TimeoutReturnsToDefaultAndLocks() {
        var h = Harness()
        h.unlock()
        #expect(h.server.isUnlocked)
        #expect(h.server.nextDeadline == .milliseconds(5000))
        #expect(h.advance(toMilliseconds: 4999).isEmpty)
        #expect(h.server.session == .extendedDiagnosticSession)
        let log = h.advance(toMilliseconds: 5000)
        #expect(log.map(\.1) == [.securityAccessChanged(.locked), .sessionChanged(.defaultSession)])
        #expect(log.first?.0 == 5000)
        #expect(h.server.session == .defaultSession)
        #expect(!h.server.isUnlocked)
        #expect(h.server.nextDeadline == nil)
    }

    @Test func testerPresentKeepsTheSession() {
        var h = Harness()
        h.enterExtended()
        h.advance(toMilliseconds: 4000)
        #expect(h.sent("3E00") == ["7E00"])
        h.advance(toMilliseconds: 8000)
        #expect(h.sent("3E80") == [])
        #expect(h.advance(toMilliseconds: 12_999).isEmpty)
        #expect(h.server.session == .extendedDiagnosticSession)
        #expect(h.advance(toMilliseconds: 13_000).map(\.1) == [.sessionChanged(.defaultSession)])
    }

    @Test func anyRequestRestartsS3() {
        var h = Harness()
        h.enterExtended()
        h.advance(toMilliseconds: 4500)
        #expect(h.sent("19020A") == ["7F1911"])
        #expect(h.advance(toMilliseconds: 9000).isEmpty)
        #expect(h.server.session == .extendedDiagnosticSession)
    }

    @Test func testerPresentErrors() {
        var h = Harness()
        #expect(h.sent("3E01") == ["7F3E12"])
        #expect(h.sent("3E01", functional: true) == [])
        #expect(h.sent("3E0000") == ["7F3E13"])
        #expect(h.sent("3E") == ["7F3E13"])
        #expect(h.sent("3E00", functional: true) == ["7E00"])
    }

    @Test func hardResetRespondsThenResets() {
        var h = Harness()
        #expect(h.request("1101") == [.send([0x51, 0x01]), .hardReset])
    }

    @Test func hardResetFromUnlockedExtendedLocksFirst() {
        var h = Harness()
        h.unlock()
        #expect(h.request("1101") == [.send([0x51, 0x01]), .securityAccessChanged(.locked),
                                      .sessionChanged(.defaultSession), .hardReset])
        #expect(h.server.session == .defaultSession)
        #expect(!h.server.isUnlocked)
    }

    @Test func hardResetSuppressedAndErrors() {
        var h = Harness()
        #expect(h.request("1181") == [.hardReset])
        #expect(h.sent("1102") == ["7F1112"])
        #expect(h.sent("1103", functional: true) == [])
        #expect(h.sent("110100") == ["7F1113"])
        #expect(h.sent("11") == ["7F1113"])
    }
}
