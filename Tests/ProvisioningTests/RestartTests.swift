import CloudProtocol
import Provisioning
import SpaakCore
import Testing

@Suite("Restarts from persisted facts")
struct RestartTests {
    /// Events of a whole run of `harness` (inputs and C2V messages, tasks included).
    static func eventCount(_ make: () -> Harness, _ drive: (Harness) -> Void) -> Int {
        let h = make()
        h.budget = 10_000
        drive(h)
        return 10_000 - (h.budget ?? 0)
    }

    @Test("a crash after any event of PP-01 with SP-02: old state or a clean restart from step 1")
    func crashAnywhereInPP01() {
        let make = { () -> Harness in
            let h = Harness()
            h.autoCloud = true
            return h
        }
        let total = Self.eventCount(make) { $0.online() }
        #expect(total == 11)  // online, 4 answers, 6 task results
        for crashAfter in 0...total {
            let before = make()
            before.budget = crashAfter
            before.online()
            #expect(before.store.identityConsistent, "crash after \(crashAfter)")
            let facts = before.store.facts

            let after = Harness(store: before.store, seed: 2)
            after.autoCloud = true
            #expect(after.machine.status == ProvisioningStatus(), "crash after \(crashAfter)")
            after.online()
            if !facts.drmUUIDPresent {
                #expect(after.trail.prefix(2) == ["3/1", "6/1"], "crash after \(crashAfter)")
                #expect(after.sent.first?.type == .remoteServiceProvisioningRequest, "crash after \(crashAfter)")
            } else if !facts.vehicleCertificatePresent {
                #expect(after.trail.prefix(3) == ["3/1", "3/2", "3/3"], "crash after \(crashAfter)")
                #expect(after.sent.first?.type == .vehicleSubjectIdRequest, "crash after \(crashAfter)")
            } else {
                #expect(after.sent.isEmpty && after.statuses.isEmpty, "crash after \(crashAfter)")
            }
            #expect(after.store.identityConsistent && after.store.certificate != nil && after.store.drmUUID != nil,
                    "crash after \(crashAfter)")
            #expect(after.statusBytes == [0, 0, 0, 0], "crash after \(crashAfter)")
        }
    }

    @Test("a crash after any event of PP-03: the owed request survives with its reason")
    func crashAnywhereInPP03() {
        let make = { () -> Harness in
            let h = Harness(store: VerifierTests.provisioned)
            h.autoCloud = true
            h.online()
            return h
        }
        let drive = { (h: Harness) in
            for _ in 0..<8 { h.routine(.ownerPairingFailed) }
        }
        let total = Self.eventCount(make, drive)
        #expect(total == 11)  // 8 routines, 0x0A, its store, 0x06
        for crashAfter in 0...total {
            let before = make()
            before.budget = crashAfter
            drive(before)
            let facts = before.store.facts
            // Never a verifier deleted without the request owed.
            #expect(facts.verifierPresent || facts.pendingVerifierRequest == .verifierDeletedAfterFailedPairings,
                    "crash after \(crashAfter)")

            let after = Harness(store: before.store, seed: 3)
            after.autoCloud = true
            #expect(after.statusBytes == [0, 0, 0, facts.failedPairingAttempts], "crash after \(crashAfter)")
            after.online()
            if facts.pendingVerifierRequest != nil {
                #expect(after.sent.first?.payload == .spake2VerifierRequest(.verifierDeletedAfterFailedPairings),
                        "crash after \(crashAfter)")
                #expect(after.ended == [Ended(.pp03, .ok)], "crash after \(crashAfter)")
            } else {
                #expect(after.sent.isEmpty, "crash after \(crashAfter)")
            }
            #expect(after.store.verifier != nil && after.store.pendingReason == nil, "crash after \(crashAfter)")
        }
    }

    @Test("built from facts with a PP-03 owed and no [K]: PP-01 first, then PP-03")
    func priorities() {
        let h = Harness(store: FakeStore(attempts: 3, pendingReason: .ownerKeyTermination))
        #expect(h.statusBytes == [0, 0, 0, 3])
        h.autoCloud = true
        h.online()
        #expect(h.sentTypes == [0x07, 0x01, 0x03, 0x05, 0x09, 0x0B])
        #expect(h.ended == [Ended(.sp02, .ok), Ended(.pp01, .ok), Ended(.pp03, .ok)])
        #expect(h.store.facts == ProvisioningFacts(drmUUIDPresent: true, vehicleCertificatePresent: true,
                                                   verifierPresent: true))
    }

    @Test("PP-03 owed while PP-01 waits out its 60 s: PP-03 runs meanwhile")
    func verifierRequestDuringRestartWait() {
        let h = Harness(store: FakeStore(drmUUID: Array(repeating: 1, count: 16)))
        h.online()
        h.advance(by: .seconds(20))
        #expect(h.ended == [Ended(.pp01, .timeout)])
        h.autoCloud = true
        h.routine(.ownerPairingStarted)
        #expect(h.ended == [Ended(.pp01, .timeout), Ended(.pp03, .ok)])
        #expect(h.sentTypes == [1, 1, 1, 1, 0x09, 0x0B])
        h.advance(by: .seconds(39))
        #expect(h.ended.count == 2)
        h.advance(by: .seconds(21))
        #expect(h.ended.last == Ended(.pp01, .ok))
    }
}
