import CloudProtocol
import Provisioning
import SpaakCore
import Testing

@Suite("PP-01 with SP-02")
struct PP01Tests {
    @Test("the whole PP-01 with SP-02: messages, transaction ids, store, status steps")
    func wholeFlow() throws {
        let h = Harness()
        h.online()
        #expect(h.sentTypes == [0x07])
        #expect(h.sent[0].useCase == .sp02 && h.sent[0].payload == .remoteServiceProvisioningRequest)
        #expect(h.statusBytes == [6, 1, 0, 0])

        h.answer(.remoteServiceProvisioningResponse(drmUUID: Array(0..<16)))
        #expect(h.store.drmUUID == Array(0..<16))
        #expect(h.sentTypes == [0x07, 0x01])
        #expect(h.sent[1].useCase == .pp01 && h.sent[1].payload == .vehicleSubjectIdRequest)
        #expect(h.statusBytes == [3, 3, 0, 0])

        h.answer(.vehicleSubjectIdResponse(subjectID: "VSID-42"))
        #expect(h.store.subjectID == "VSID-42")
        #expect(h.store.pendingKey == 1 && h.store.activeKey == nil)
        let csr = try #require(h.sent.last)
        #expect(csr.payload == .vehicleIdentityCSRRequest(csr: [0x30, 1] + Array("VSID-42".utf8)))
        #expect(h.statusBytes == [3, 10, 0, 0])

        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 0x01, 1]))
        #expect(h.store.certificate == [0x30, 0x01, 1] && h.store.activeKey == 1 && h.store.pendingKey == nil)
        #expect(h.sent.last?.payload == .vehicleIdentityCertStatus(.ok))
        #expect(h.statusBytes == [3, 16, 0, 0])

        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.statusBytes == [0, 0, 0, 0])
        #expect(h.ended == [Ended(.sp02, .ok), Ended(.pp01, .ok)])
        #expect(h.trail == ["3/1", "6/1", "6/2", "3/2", "3/3", "3/7", "3/8", "3/9", "3/10",
                            "3/14", "3/15", "3/16", "3/19", "0/0"])
        // A fresh transaction id per step, every one 16 bytes.
        #expect(Set(h.sent.map(\.transactionID)).count == 4)
        #expect(h.sent.allSatisfy { $0.transactionID.count == 16 && $0.attempt == 0 })
        #expect(h.rejections.isEmpty)
        #expect(h.store.facts == ProvisioningFacts(drmUUIDPresent: true, vehicleCertificatePresent: true))
        #expect(h.machine.nextDeadline == nil)
        h.advance(by: .seconds(600))
        #expect(h.sent.count == 4)
    }

    @Test("each step's status byte while the store work is pending")
    func stepBytesWithHeldTasks() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.autoTasks = false
        h.online()
        #expect(h.statusBytes == [3, 3, 0, 0])
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        #expect(h.heldTask == .storeSubjectID("S"))
        #expect(h.statusBytes == [3, 7, 0, 0])
        h.completeTask()
        #expect(h.heldTask == .generateVehicleKeyPair)
        #expect(h.statusBytes == [3, 8, 0, 0])
        h.completeTask()
        #expect(h.heldTask == .makeVehicleCSR(commonName: "S"))
        #expect(h.statusBytes == [3, 9, 0, 0])
        h.completeTask()
        #expect(h.statusBytes == [3, 10, 0, 0])
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 0x01, 1]))
        #expect(h.heldTask == .checkVehicleCertificate([0x30, 0x01, 1]))
        #expect(h.statusBytes == [3, 14, 0, 0])
        h.completeTask()
        #expect(h.heldTask == .installVehicleCertificate([0x30, 0x01, 1]))
        #expect(h.statusBytes == [3, 15, 0, 0])
        h.completeTask()
        #expect(h.statusBytes == [3, 16, 0, 0])
        // A result nobody waits for is ignored.
        h.feed(.taskCompleted(.drmUUIDStored(success: true)))
        #expect(h.statusBytes == [3, 16, 0, 0])
    }

    @Test("drmUUID and [K] present: nothing is sent")
    func nothingToDo() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16), activeKey: 3, certificate: [0x30, 1, 3]))
        h.online()
        h.advance(by: .seconds(120))
        #expect(h.sent.isEmpty && h.statuses.isEmpty && h.ended.isEmpty)
    }

    @Test("drmUUID missing but [K] present: SP-02 only")
    func onlySP02() {
        let h = Harness(store: FakeStore(activeKey: 3, certificate: [0x30, 1, 3]))
        h.autoCloud = true
        h.online()
        #expect(h.sentTypes == [0x07])
        #expect(h.ended == [Ended(.sp02, .ok), Ended(.pp01, .ok)])
        #expect(h.store.drmUUID != nil && h.statusBytes == [0, 0, 0, 0])
    }

    @Test("[K] failing its check is not installed: 0x05 with the status, 0x06, PP-01 fails")
    func certificateCheckFailure() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 0x01, 9]))  // another key
        #expect(h.store.certificate == nil && h.store.activeKey == nil)
        #expect(h.sent.last?.payload == .vehicleIdentityCertStatus(.certificateKeyMismatch))
        #expect(h.statusBytes == [3, 16, 0, 0])
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp01, .certificateKeyMismatch)])
        #expect(h.statusBytes == [0, 0, 4, 0])
        // Restart rule: 60 s later, from step 1 (new key pair, new transaction ids).
        h.autoCloud = true
        h.advance(by: .seconds(59))
        #expect(h.sent.count == 3)
        h.advance(by: .seconds(1))
        #expect(h.sentTypes == [0x01, 0x03, 0x05, 0x01, 0x03, 0x05])
        #expect(h.store.identityConsistent && h.store.activeKey == 2)
        #expect(h.statusBytes == [0, 0, 0, 0])
    }

    @Test("a [K] with a bad chain reports 3; an install failure reports 5")
    func chainAndInstallFailures() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x31, 0x01, 1]))
        #expect(h.sent.last?.payload == .vehicleIdentityCertStatus(.chainOfTrustInvalid))
        h.answer(.c2vUsecaseCompletionAck)
        #expect(h.ended == [Ended(.pp01, .chainOfTrustInvalid)])

        let i = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16), failing: ["install"]))
        i.online()
        i.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        i.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 0x01, 1]))
        #expect(i.sent.last?.payload == .vehicleIdentityCertStatus(.storeFailure))
        #expect(i.store.certificate == nil)
        i.answer(.c2vUsecaseCompletionAck)
        #expect(i.ended == [Ended(.pp01, .storeFailure)] && i.statusBytes == [0, 0, 5, 0])
    }

    @Test("store failures before the CSR fail PP-01 with error 5")
    func storeFailures() {
        for failing in ["drm", "subject", "key", "csr"] {
            let h = Harness(store: FakeStore(failing: [failing]))
            h.autoCloud = true
            h.online()
            let failed = failing == "drm" ? UseCase.sp02 : .pp01
            #expect(h.ended.last == Ended(failed, .storeFailure), "\(failing)")
            #expect(h.statusBytes == [0, 0, 5, 0], "\(failing)")
            #expect(h.machine.nextDeadline == h.clock.now + .seconds(60), "\(failing)")
        }
    }

    @Test("ErrorResponse 0x7F fails the use case with error 9, restart after 60 s")
    func errorResponse() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.online()
        h.answer(.errorResponse(resultCode: 3))
        #expect(h.ended == [Ended(.pp01, .rejectedByCloud)])
        #expect(h.statusBytes == [0, 0, 9, 0])
        h.advance(by: .seconds(60))
        #expect(h.sentTypes == [0x01, 0x01])
        #expect(h.sent[0].transactionID != h.sent[1].transactionID)
        #expect(h.statusBytes == [3, 3, 9, 0])

        let s = Harness()
        s.online()
        s.answer(.errorResponse(resultCode: 1))
        #expect(s.ended == [Ended(.sp02, .rejectedByCloud)] && s.statusBytes == [0, 0, 9, 0])
    }

    @Test("owner change deletes [K], subject id and verifier, then runs PP-01 again")
    func ownerChange() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16), subjectID: "OLD", activeKey: 5,
                                         certificate: [0x30, 1, 5], verifier: Records.valid, attempts: 2, nextKey: 6))
        h.online()
        #expect(h.sent.isEmpty)
        h.routine(.ownerChange)
        #expect(h.store.certificate == nil && h.store.subjectID == nil && h.store.verifier == nil && h.store.activeKey == nil)
        #expect(h.sentTypes == [0x01])
        h.autoCloud = true
        h.answer(.vehicleSubjectIdResponse(subjectID: "NEW"))
        #expect(h.store.subjectID == "NEW" && h.store.certificate == [0x30, 1, 6] && h.store.activeKey == 6)
        #expect(h.ended == [Ended(.pp01, .ok)])
    }

    @Test("owner change in the middle of PP-01 starts it over with new transaction ids")
    func ownerChangeMidFlow() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.online()
        h.answer(.vehicleSubjectIdResponse(subjectID: "S"))
        let csrRequest = h.sent[1]
        h.routine(.ownerChange)
        #expect(h.sentTypes == [0x01, 0x03, 0x01])
        #expect(h.store.pendingKey == nil)
        // The answer to the abandoned request is now unexpected.
        h.answer(.vehicleIdentityCSRResponse(certificate: [0x30, 1, 1]), to: csrRequest)
        #expect(h.rejections == [.unexpectedMessage])
        #expect(h.store.certificate == nil && h.statusBytes == [3, 3, 8, 0])
    }
}
