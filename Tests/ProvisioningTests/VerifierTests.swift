import CloudProtocol
import Provisioning
import SpaakCore
import Testing

@Suite("PP-02 and PP-03 (SPAKE2+ verifier)")
struct VerifierTests {
    /// Fully provisioned: drmUUID, [K] and a verifier.
    static let provisioned = FakeStore(drmUUID: Array(repeating: 1, count: 16), activeKey: 3, certificate: [0x30, 1, 3],
                                       verifier: Records.other, nextKey: 4)

    @Test("PP-02: a valid push is stored, attempts reset, 0x0B status 0 echoes the push id, 0x06 ends it")
    func validPush() {
        var store = Self.provisioned
        store.attempts = 5
        let h = Harness(store: store)
        h.online()
        let transactionID = h.push(.spake2VerifierProvisioning(Records.valid))
        #expect(h.store.verifier == Records.valid && h.store.attempts == 0)
        #expect(h.sent.count == 1)
        #expect(h.sent[0].payload == .spake2VerifierStatus(.ok) && h.sent[0].useCase == .pp02)
        #expect(h.sent[0].transactionID == transactionID)
        #expect(h.statusBytes == [4, 2, 0, 0])
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp02, .ok)])
        #expect(h.trail == ["4/1", "4/2", "0/0"])
        #expect(h.statusBytes == [0, 0, 0, 0])
        h.advance(by: .seconds(300))
        #expect(h.sent.count == 1)
    }

    @Test("PP-02: an invalid record is not stored, the old one stays, 0x0B carries status 1")
    func invalidPush() {
        let h = Harness(store: Self.provisioned)
        h.online()
        let transactionID = h.push(.spake2VerifierProvisioning(Records.invalid))
        #expect(h.store.verifier == Records.other)
        #expect(h.sent.last?.payload == .spake2VerifierStatus(.malformed))
        #expect(h.sent.last?.transactionID == transactionID)
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp02, .malformed)])
        #expect(h.statusBytes == [0, 0, 1, 0])
        // PP-02 is the cloud's to repeat: no restart.
        h.advance(by: .seconds(300))
        #expect(h.sent.count == 1)
    }

    @Test("PP-02 without 0x06: 3 retries of 0x0B, then error 6, no restart")
    func pushWithoutAck() {
        let h = Harness(store: Self.provisioned)
        h.online()
        h.push(.spake2VerifierProvisioning(Records.valid))
        h.advance(by: .seconds(20))
        #expect(h.sent.count == 4 && Set(h.sent.map(\.transactionID)).count == 1)
        #expect(h.ended == [Ended(.pp02, .timeout)])
        h.advance(by: .seconds(120))
        #expect(h.sent.count == 4)
        #expect(h.store.verifier == Records.valid)
    }

    @Test("PP-02 push while PP-01 waits for 0x04: served at once, PP-01 resumes with the same request")
    func pushDuringPP01() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        let csrRequest = h.sent[1]
        h.advance(by: .seconds(2))
        h.push(.spake2VerifierProvisioning(Records.valid))
        #expect(h.statusBytes == [4, 2, 0, 0])
        // The answer to the suspended request is not taken meanwhile.
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 1, 1]), to: csrRequest)
        #expect(h.rejections == [.unexpectedMessage] && h.store.certificate == nil)
        h.advance(by: .seconds(4))  // PP-01's old retry time passes: nothing for PP-01
        #expect(h.sentTypes == [0x01, 0x03, 0x0B])
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp02, .ok)])
        #expect(h.sentTypes == [0x01, 0x03, 0x0B, 0x03])
        #expect(h.sent[3].transactionID == csrRequest.transactionID && h.sent[3].payload == csrRequest.payload)
        #expect(h.statusBytes == [3, 10, 0, 0])  // PP-02 completed: error cleared
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 1, 1]))
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp02, .ok), Ended(.pp01, .ok)])
        #expect(h.store.verifier == Records.valid && h.store.certificate == [0x30, 1, 1])
    }

    @Test("no push while PP-01 does store work or PP-03 waits for its answer")
    func pushRefused() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.autoTasks = false
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        #expect(!h.machine.expectation.pushTypes.contains(.spake2VerifierProvisioning))
        h.push(.spake2VerifierProvisioning(Records.valid))
        #expect(h.rejections == [.unexpectedMessage] && h.store.verifier == nil)

        let p = Harness(store: Self.provisioned)
        p.online()
        p.routine(.ownerPairingStarted)  // verifier present: nothing
        #expect(p.sent.isEmpty)
        p.push(.ownerKeyTermination, useCase: .pp03)
        #expect(p.sentTypes == [0x09])
        p.push(.spake2VerifierProvisioning(Records.valid))
        #expect(p.rejections == [.unexpectedMessage] && p.store.verifier == nil)
    }

    @Test("PP-03 on owner key termination: verifier deleted, 0x09 reason 1, 0x0A, 0x0B, 0x06")
    func termination() {
        let h = Harness(store: Self.provisioned)
        h.online()
        h.push(.ownerKeyTermination, useCase: .pp03)
        #expect(h.store.verifier == nil && h.store.pendingReason == .ownerKeyTermination)
        #expect(h.sent.count == 1 && h.sent[0].payload == .spake2VerifierRequest(.ownerKeyTermination))
        #expect(h.sent[0].useCase == .pp03 && h.statusBytes == [5, 1, 0, 0])
        h.answer(.spake2VerifierProvisioning(Records.valid))
        #expect(h.store.verifier == Records.valid && h.store.pendingReason == nil)
        #expect(h.sent.count == 2 && h.sent[1].payload == .spake2VerifierStatus(.ok))
        #expect(h.sent[1].transactionID != h.sent[0].transactionID)  // a new step, a fresh id
        #expect(h.statusBytes == [5, 3, 0, 0])
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp03, .ok)] && h.statusBytes == [0, 0, 0, 0])
        #expect(h.trail.contains("5/2"))
    }

    @Test("PP-03 on the 8th failed pairing: attempts count, the 8th deletes the verifier, reason 2")
    func failedPairings() {
        let h = Harness(store: Self.provisioned)
        h.online()
        for attempt in 1...7 {
            h.routine(.ownerPairingFailed)
            #expect(h.statusBytes == [0, 0, 0, UInt8(attempt)])
            #expect(h.store.attempts == UInt8(attempt))
        }
        #expect(h.store.verifier != nil && h.sent.isEmpty)
        h.routine(.ownerPairingFailed)
        #expect(h.store.verifier == nil && h.store.attempts == 8)
        #expect(h.store.pendingReason == .verifierDeletedAfterFailedPairings)
        #expect(h.sent.last?.payload == .spake2VerifierRequest(.verifierDeletedAfterFailedPairings))
        #expect(h.statusBytes == [5, 1, 0, 8])
        h.autoCloud = true
        h.answer(.spake2VerifierProvisioning(Records.valid))
        #expect(h.ended == [Ended(.pp03, .ok)])
        #expect(h.statusBytes == [0, 0, 0, 0] && h.store.attempts == 0)
    }

    @Test("PP-03 on owner pairing without a verifier: reason 3; with one: nothing")
    func pairingWithoutVerifier() {
        var store = Self.provisioned
        store.verifier = nil
        let h = Harness(store: store)
        h.online()
        #expect(h.sent.isEmpty)
        h.routine(.ownerPairingStarted)
        #expect(h.sent.map(\.payload) == [.spake2VerifierRequest(.verifierMissingAtPairing)])
        h.routine(.ownerPairingStarted)  // already requested
        #expect(h.sent.count == 1)
        h.autoCloud = true
        h.answer(.spake2VerifierProvisioning(Records.valid))
        #expect(h.ended == [Ended(.pp03, .ok)])
        h.routine(.ownerPairingStarted)
        #expect(h.sent.count == 2)
    }

    @Test("PP-03 answered with an invalid record: status 1, fails, asks again 60 s later")
    func pp03InvalidRecord() {
        var store = Self.provisioned
        store.verifier = nil
        store.pendingReason = .verifierMissingAtPairing
        let h = Harness(store: store)
        h.online()
        h.answer(.spake2VerifierProvisioning(Records.invalid))
        #expect(h.sent.last?.payload == .spake2VerifierStatus(.malformed))
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp03, .malformed)] && h.statusBytes == [0, 0, 1, 0])
        h.advance(by: .seconds(60))
        #expect(h.sent.last?.payload == .spake2VerifierRequest(.verifierMissingAtPairing))
        #expect(h.sent.count == 3)
    }

    @Test("termination during PP-01 deletes the verifier at once; PP-03 follows PP-01")
    func terminationDuringPP01() {
        var store = Self.provisioned
        store.certificate = nil
        store.activeKey = nil
        let h = Harness(store: store)
        h.online()
        h.push(.ownerKeyTermination, useCase: .pp03)
        #expect(h.store.verifier == nil && h.sentTypes == [0x01] && h.statusBytes == [3, 3, 0, 0])
        h.autoCloud = true
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        #expect(h.sentTypes == [0x01, 0x03, 0x05, 0x09, 0x0B])
        #expect(h.ended == [Ended(.pp01, .ok), Ended(.pp03, .ok)])
        #expect(h.store.verifier == Records.valid && h.store.identityConsistent)
    }

    @Test("termination during PP-02 abandons it; PP-03 asks for a new verifier")
    func terminationDuringPP02() {
        let h = Harness(store: Self.provisioned)
        h.online()
        h.push(.spake2VerifierProvisioning(Records.valid))
        #expect(h.statusBytes == [4, 2, 0, 0])
        h.push(.ownerKeyTermination, useCase: .pp03)
        #expect(h.store.verifier == nil)
        #expect(h.sentTypes == [0x0B, 0x09] && h.statusBytes == [5, 1, 0, 0])
    }
}
