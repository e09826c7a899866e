import CloudProtocol
import Provisioning
import SpaakCore
import Testing

@Suite("Expectations, rejected and unexpected messages")
struct MessageTests {
    static let drm = FakeStore(drmUUID: Array(repeating: 1, count: 16))

    @Test("the expectation follows the step")
    func expectation() throws {
        let h = Harness(store: Self.drm)
        #expect(h.machine.expectation == .idle(pushTypes: [.spake2VerifierProvisioning, .ownerKeyTermination,
                                                           .ownerPairingModeRequest]))
        h.online()
        let request = try #require(h.sent.first)
        #expect(h.machine.expectation == C2VExpectation(
            responseTypes: [.vehicleSubjectIdResponse, .errorResponse], outstandingTransactionID: request.transactionID,
            pushTypes: [.spake2VerifierProvisioning, .ownerKeyTermination, .ownerPairingModeRequest]))
        h.autoTasks = false
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        #expect(h.machine.expectation == .idle(pushTypes: [.ownerKeyTermination, .ownerPairingModeRequest]))
    }

    @Test("a wrong transaction id, type or a replayed counter is rejected and changes nothing")
    func rejected() throws {
        let h = Harness(store: Self.drm)
        h.online()
        let request = try #require(h.sent.first)
        var other = request
        other.transactionID = Array(repeating: 0xEE, count: 16)
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"), to: other)
        #expect(h.rejections == [.unexpectedMessage])
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 1, 1]))  // right id, wrong type
        #expect(h.rejections == [.unexpectedMessage, .unexpectedMessage])
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.rejections == [.unexpectedMessage, .unexpectedMessage, .unexpectedMessage])
        #expect(h.statusBytes == [3, 3, 8, 0])
        #expect(h.sent.count == 1 && h.store.subjectID == nil)
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        let counter = try #require(h.lastAcceptedCounter)
        h.answer(.vehicleSubjectIdResponse(subjectID: "T"), to: request, counter: counter)  // a replay
        #expect(h.rejections.last == .replayedCounter && h.statusBytes == [3, 10, 7, 0])
        #expect(h.machine.counters.messagesRejected == 4 && h.machine.counters.messagesAccepted == 1)
        #expect(h.store.subjectID == "S" && h.sentTypes == [0x01, 0x03])
        // The right answers still work, and the completion clears the error.
        h.autoCloud = true
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 1, 1]))
        #expect(h.ended == [Ended(.pp01, .ok)] && h.statusBytes == [0, 0, 0, 0])
    }

    @Test("an ErrorResponse or ack pushed without a request is rejected when idle")
    func unsolicited() {
        let h = Harness(store: VerifierTests.provisioned)
        h.online()
        h.push(.errorResponse(resultCode: 1))
        h.push(.c2vUsecaseCompletionAck)
        #expect(h.rejections == [.unexpectedMessage, .unexpectedMessage])
        #expect(h.sent.isEmpty && h.ended.isEmpty && h.machine.status.activeUseCase == nil)
    }

    @Test("an accepted message that fits no expectation is ignored and counted")
    func ignored() throws {
        let h = Harness(store: Self.drm)
        h.online()
        let request = try #require(h.sent.first)
        let stray = CloudMessage(serial: Harness.serial, vin: nil, transactionID: request.transactionID, counter: 1,
                                 useCase: .pp01, payload: .c2vUsecaseCompletionAck)
        let before = h.sent.count
        let actions = h.machine.handle(.messageAccepted(stray), now: h.clock.now)
        #expect(actions.allSatisfy {
            if case .log = $0 { return true }
            if case .statusChanged(let status) = $0 { return status.lastErrorCode == 8 }
            return false
        })
        #expect(h.machine.counters.messagesIgnored == 1 && h.sent.count == before)
        #expect(h.machine.status.step == 3 && h.machine.expectation.outstandingTransactionID == request.transactionID)
        var push = stray
        push.payload = .spake2VerifierProvisioning(Records.valid)
        push.transactionID = Array(repeating: 1, count: 16)
        h.autoTasks = false
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        _ = h.machine.handle(.messageAccepted(push), now: h.clock.now)  // no push during store work
        #expect(h.machine.counters.messagesIgnored == 2 && h.heldTask == .storeSubjectID("S"))
    }

    @Test("a subject id the cloud should never send fails PP-01 as malformed")
    func badSubjectID() throws {
        let h = Harness(store: Self.drm)
        h.online()
        let request = try #require(h.sent.first)
        let message = CloudMessage(serial: Harness.serial, vin: nil, transactionID: request.transactionID, counter: 1,
                                   useCase: .pp01, payload: .vehicleSubjectIdResponse(subjectID: ""))
        _ = h.machine.handle(.messageAccepted(message), now: h.clock.now)
        #expect(h.machine.status == ProvisioningStatus(lastErrorCode: 1))
    }

    @Test("the transaction ids come from the injected generator")
    func seededTransactionIDs() {
        let a = Harness(store: Self.drm, seed: 7)
        let b = Harness(store: Self.drm, seed: 7)
        let c = Harness(store: Self.drm, seed: 8)
        for h in [a, b, c] { h.online() }
        #expect(a.sent[0].transactionID == b.sent[0].transactionID)
        #expect(a.sent[0].transactionID != c.sent[0].transactionID)
    }
}
