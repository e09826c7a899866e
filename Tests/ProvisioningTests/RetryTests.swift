import CloudProtocol
import Provisioning
import SpaakCore
import Testing

@Suite("Retries, failure and the TBM (ICD 3, 7.4)")
struct RetryTests {
    static let drm = FakeStore(drmUUID: Array(repeating: 1, count: 16))

    @Test("a request is sent again after 5 s, 3 times, same id and payload; then error 6")
    func retriesThenTimeout() {
        let h = Harness(store: Self.drm)
        h.online()
        let start = h.clock.now
        h.advance(by: .milliseconds(4_999))
        #expect(h.sent.count == 1)
        h.advance(by: .milliseconds(1))
        #expect(h.sent.count == 2)
        h.advance(by: .seconds(10))
        #expect(h.sent.count == 4)
        #expect(h.sentAt.map { $0 - start } == [.zero, .seconds(5), .seconds(10), .seconds(15)])
        #expect(h.sent.map(\.attempt) == [0, 1, 2, 3])
        #expect(Set(h.sent.map(\.transactionID)).count == 1)
        #expect(Set(h.sent.map(\.payload)) == [.vehicleSubjectIdRequest])
        #expect(h.statusBytes == [3, 3, 0, 0])
        h.advance(by: .milliseconds(4_999))
        #expect(h.ended.isEmpty)
        h.advance(by: .milliseconds(1))
        #expect(h.ended == [Ended(.pp01, .timeout)])
        #expect(h.statusBytes == [0, 0, 6, 0])
        #expect(h.machine.counters.retransmissions == 3 && h.machine.counters.useCasesFailed == 1)
        // Starts over 60 s after the failure, from step 1, with a new transaction id.
        h.advance(by: .milliseconds(59_999))
        #expect(h.sent.count == 4)
        h.advance(by: .milliseconds(1))
        #expect(h.sent.count == 5)
        #expect(h.sent[4].transactionID != h.sent[0].transactionID && h.sent[4].attempt == 0)
        #expect(h.trail.suffix(4) == ["0/0", "3/1", "3/2", "3/3"])
    }

    @Test("a late answer to an earlier sending of the same request is taken")
    func answerAfterRetry() {
        let h = Harness(store: Self.drm)
        h.autoCloud = false
        h.online()
        h.advance(by: .seconds(12))
        #expect(h.sent.count == 3)
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"), to: h.sent[0])
        #expect(h.sentTypes == [0x01, 0x01, 0x01, 0x03])
        #expect(h.rejections.isEmpty)
    }

    @Test("after a failure the next TBM online transition restarts at once")
    func restartOnOnline() {
        let h = Harness(store: Self.drm)
        h.online()
        h.advance(by: .seconds(20))
        #expect(h.ended == [Ended(.pp01, .timeout)])
        h.advance(by: .seconds(10))
        h.online()  // still online: no transition, nothing happens
        #expect(h.sent.count == 4)
        h.offline()
        h.online()
        #expect(h.sent.count == 5 && h.statusBytes == [3, 3, 6, 0])
        // The 60 s wait was cancelled: nothing else starts at its old deadline.
        h.autoCloud = true
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        h.advance(by: .seconds(120))
        #expect(h.ended.last == Ended(.pp01, .ok) && h.sentTypes == [1, 1, 1, 1, 1, 3, 5])
    }

    @Test("the 60 s wait ending while the TBM is offline: PP-01 waits for it")
    func restartWaitsForTBM() {
        let h = Harness(store: Self.drm)
        h.online()
        h.advance(by: .seconds(20))
        h.offline()
        h.advance(by: .seconds(300))
        #expect(h.sent.count == 4 && h.statusBytes == [0, 0, 6, 0])
        h.online()
        #expect(h.sent.count == 5)
    }

    @Test("TBM offline mid-flow: nothing sent, no timeout; back online: same request, same id")
    func offlineMidFlow() {
        let h = Harness(store: Self.drm)
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        #expect(h.sentTypes == [0x01, 0x03])
        let csrRequest = h.sent[1]
        h.advance(by: .seconds(7))  // one retry
        #expect(h.sent.count == 3)
        h.offline()
        #expect(h.machine.nextDeadline == nil)
        h.advance(by: .seconds(600))
        #expect(h.sent.count == 3 && h.ended.isEmpty && h.statusBytes == [3, 10, 0, 0])
        h.online()
        #expect(h.sent.count == 4)
        #expect(h.sent[3].transactionID == csrRequest.transactionID && h.sent[3].payload == csrRequest.payload)
        // A full budget of retries after the resend.
        h.advance(by: .seconds(15))
        #expect(h.sent.count == 7 && h.ended.isEmpty)
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 1, 1]))
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp01, .ok)])
    }

    @Test("store work finishing while the TBM is offline: the next request waits for it")
    func requestMadeOffline() {
        let h = Harness(store: Self.drm)
        h.autoTasks = false
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        h.offline()
        h.completeTask()
        h.completeTask()
        h.completeTask()
        #expect(h.sentTypes == [0x01] && h.statusBytes == [3, 10, 0, 0])
        h.advance(by: .seconds(30))
        h.online()
        #expect(h.sentTypes == [0x01, 0x03] && h.sent[1].attempt == 0)
    }

    @Test("an answer that arrives while the TBM is seen offline is still taken")
    func answerWhileOffline() {
        let h = Harness(store: Self.drm)
        h.online()
        h.offline()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        #expect(h.store.pendingKey == 1 && h.sentTypes == [0x01])
        h.online()
        #expect(h.sentTypes == [0x01, 0x03])
    }

    @Test("nothing starts while the TBM is offline")
    func offlineAtStart() {
        let h = Harness()
        h.advance(by: .seconds(100))
        h.routine(.ownerChange)
        h.routine(.ownerPairingStarted)
        #expect(h.sent.isEmpty && h.machine.status.activeUseCase == nil)
        h.online()
        #expect(h.sentTypes == [0x07])
    }
}
