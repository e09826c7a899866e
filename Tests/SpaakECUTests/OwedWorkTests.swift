import CloudProtocol
import CloudSimulator
import SecureStore
import SpaakCore
import Testing
@testable import SpaakECU

/// Issue 7, defects 2 and 13: what a cloud use case owes is durable before the module acts
/// on it or answers; the cloud use cases wait for their preconditions.
@Suite struct OwedWorkTests {
    typealias Bench = VehicleProvisioningTests.Bench
    static let serial = "SPK0000000001"

    /// A bench with [K] and a verifier (PP-01, then a PP-02 push).
    static func provisioned(_ store: FaultyStore) throws -> Bench {
        let bench = try Bench(store: store)
        bench.run(for: .seconds(3))
        #expect(bench.control(.pushVerifier(serial: serial)).ok)
        bench.run(for: .seconds(2))
        #expect(bench.flags & 0x70 == 0x70)
        return bench
    }

    @Test func ownerKeyTerminationIsOwedUntilStoredAndSurvivesARestart() throws {
        let store = FaultyStore()
        let bench = try Self.provisioned(store)
        store.failCommits { $0.touches(.spake2Verifier) }
        let mark = bench.events.count
        #expect(bench.control(.terminateOwnerKey(serial: Self.serial)).ok)
        bench.run(for: .seconds(2))
        #expect(store.failedCommits >= 2, "the deletion is retried")
        #expect(!bench.events[mark...].compactMap(\.name).contains("Spake2VerifierRequest"),
                "no PP-03 before the deletion is durable")
        #expect(OwedWorkTests.conditions(bench) & 0x02 == 0x02, "D120 shows the owed write")
        store.failCommits(where: nil)
        bench.h.advance(by: .milliseconds(200))
        #expect(store.status(.spake2Verifier) == .absent)
        bench.h.restart()
        let facts = bench.h.module.provisioning.machine.facts
        #expect(!facts.verifierPresent, "the terminated owner's verifier is not live after a restart")
        #expect(facts.pendingVerifierRequest == .ownerKeyTermination)
    }

    @Test func failedPairingIsNotDoneUntilItsCountIsStored() throws {
        let store = FaultyStore()
        let bench = try Self.provisioned(store)
        bench.h.unlock()
        store.failCommits { $0.touches(.ownerPairingFailures) }
        #expect(bench.uds([0x31, 0x01, 0xF0, 0x11]) == [0x7F, 0x31, 0x72])
        #expect(bench.h.uds([0x31, 0x03, 0xF0, 0x11]) == [0x71, 0x03, 0xF0, 0x11, 0x01, 0x00], "still running")
        #expect(try store.readCounter(.ownerPairingFailures) == 0)
        #expect(OwedWorkTests.conditions(bench) & 0x02 == 0x02)
        store.failCommits(where: nil)
        bench.h.advance(by: .milliseconds(200))
        #expect(try store.readCounter(.ownerPairingFailures) == 1, "owed, then stored")
        #expect(bench.h.uds([0x31, 0x03, 0xF0, 0x11]) == [0x71, 0x03, 0xF0, 0x11, 0x00, 0x00])
        #expect(OwedWorkTests.conditions(bench) & 0x02 == 0)
    }

    @Test func theEighthFailureDeletesTheVerifierAlthoughTheCountsWereOwed() throws {
        let store = FaultyStore()
        let bench = try Self.provisioned(store)
        bench.h.unlock()
        store.failCommits { $0.touches(.ownerPairingFailures) }
        for _ in 0..<8 { #expect(bench.uds([0x31, 0x01, 0xF0, 0x11]) == [0x7F, 0x31, 0x72]) }
        #expect(store.status(.spake2Verifier) == .present, "nothing acted on before the counts are stored")
        store.failCommits(where: nil)
        bench.h.advance(by: .milliseconds(200))
        #expect(try store.readCounter(.ownerPairingFailures) == 8, "no failure forgotten")
        #expect(store.status(.spake2Verifier) == .absent, "the 8th failure deleted the verifier")
        bench.h.restart()
        #expect(bench.h.module.provisioning.machine.facts.pendingVerifierRequest == .verifierDeletedAfterFailedPairings)
    }

    @Test func cloudUseCasesWaitForThePlantAndStartAfterTheLock() throws {
        let bench = try Bench(planted: false)
        bench.run(for: .seconds(2))
        #expect(bench.h.module.isTBMOnline)
        #expect(bench.statusBytes.first == 0, "no use case without an ECU identity key")
        #expect(OwedWorkTests.conditions(bench) & 0x04 == 0x04, "D120: cloud use cases wait")
        // The plant flow but the lock, the TBM staying online.
        let plant = PlantProvisioningTests()
        bench.h.unlock()
        plant.provisionRoots(bench.h)
        _ = plant.write(bench.h, 0xF190, PlantProvisioningTests.vin)
        let certificate = try plant.provisionIdentity(bench.h)
        #expect(plant.write(bench.h, 0xD101, certificate) == [0x6E, 0xD1, 0x01])
        try bench.register(certificate)
        bench.run(for: .seconds(2))
        #expect(bench.statusBytes.first == 0, "nothing before the plant lock")
        #expect(bench.uds([0x31, 0x01, 0xD2, 0x01]) == [0x71, 0x01, 0xD2, 0x01, 0x00])
        bench.run(for: .seconds(3))
        #expect(bench.flags & 0x30 == 0x30, "SP-02 and PP-01 ran after the lock")
        #expect(OwedWorkTests.conditions(bench) == 0)
    }

    static func conditions(_ bench: Bench) -> UInt8 {
        FailClosedTests.conditions(bench.h.uds([0x22, 0xD1, 0x20]))
    }
}
