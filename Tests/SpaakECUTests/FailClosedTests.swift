import CloudProtocol
import CloudSimulator
import Foundation
import SecureStore
import SpaakCore
import Testing
@testable import SpaakECU

/// Issue 7, defects 1 and 3: every store record the module decides on has a fail-closed
/// value when it is damaged or unreadable (docs/RELIABILITY.md section 1).
@Suite struct FailClosedTests {
    typealias Bench = VehicleProvisioningTests.Bench
    let plant = PlantProvisioningTests()

    /// The module conditions byte of D120 (0 when D120 has only the flags and seven statuses).
    static func conditions(_ d120: [UInt8]) -> UInt8 { d120.count == 3 + 9 ? d120[11] : 0 }

    @Test(arguments: [false, true])
    func damagedOrUnreadablePlantLockMeansLocked(unreadable: Bool) throws {
        let store = FaultyStore()
        let h = ModuleHarness(store: store)
        _ = try PlantProvisioningTests.plant(h)
        if unreadable {
            store.makeUnreadable(.record(.plantLock))
        } else {
            store.inner.injectCorruption(.record(.plantLock), reason: "one byte flipped")
        }
        h.restart()
        h.unlock()
        #expect(plant.write(h, 0xD110, PlantProvisioningTests.pki[.j].der) == [0x7F, 0x2E, 0x22])
        #expect(plant.write(h, 0xF190, PlantProvisioningTests.vin) == [0x7F, 0x2E, 0x22])
        #expect(h.uds([0x31, 0x01, 0xD2, 0x00]) == [0x7F, 0x31, 0x22])
        let d120 = h.uds([0x22, 0xD1, 0x20])
        #expect(d120.count == 3 + 9, "D120 carries the module conditions byte")
        #expect(d120[3] & 0x08 == 0x08, "plant locked flag")
        #expect(Self.conditions(d120) & 0x01 == 0x01, "plant-lock damaged")
        #expect(h.frames(on: 0x3A8).last.map { $0.data[2] & 0x08 } == 0x08)
    }

    @Test func damagedFailedPairingCountMeansLimitReachedAndOwesPP03() throws {
        let store = InMemorySecureStore()
        try store.write(.spake2Verifier, Array(repeating: 0x01, count: 48))
        try store.writeCounter(.ownerPairingFailures, 2)
        store.injectCorruption(.record(.ownerPairingFailures))
        let h = ModuleHarness(store: store)
        let facts = h.module.provisioning.machine.facts
        #expect(facts.failedPairingAttempts == 8)
        #expect(!facts.verifierPresent, "the verifier is not used")
        #expect(facts.pendingVerifierRequest == .verifierDeletedAfterFailedPairings)
        h.advance(by: .milliseconds(200))
        let status = h.frames(on: 0x3A8).last!.data
        #expect(status[6] == 8, "SPAAK_Status shows the limit")
        #expect(status[2] & 0x40 == 0, "no verifier shown")
        #expect(Self.conditions(h.uds([0x22, 0xD1, 0x20])) & 0x20 == 0x20)
    }

    @Test func damagedPendingPP03IsStillOwed() throws {
        let store = InMemorySecureStore()
        try store.write(SecureStoreRecord(rawValue: "pp03-pending")!, [0x01])
        store.injectCorruption(.record(SecureStoreRecord(rawValue: "pp03-pending")!))
        let h = ModuleHarness(store: store)
        #expect(h.module.provisioning.machine.facts.pendingVerifierRequest == .verifierMissingAtPairing)
        #expect(Self.conditions(h.uds([0x22, 0xD1, 0x20])) & 0x40 == 0x40)
    }

    @Test func damagedSecurityAccessRecordMeansMaximumDelay() {
        // Fail closed already before issue 7: kept as a guard.
        let store = InMemorySecureStore()
        store.injectCorruption(.record(.securityAccessAttempts))
        let h = ModuleHarness(store: store)
        _ = h.uds([0x10, 0x03])
        #expect(h.uds([0x27, 0x01]) == [0x7F, 0x27, 0x37])
    }

    @Test func damagedC2VCounterRefusesEveryC2VMessage() throws {
        let bench = try Bench()
        bench.run(for: .seconds(3))
        #expect(bench.flags & 0x30 == 0x30)
        (bench.h.store as! InMemorySecureStore).injectCorruption(.record(.c2vCounter))
        bench.h.restart()
        #expect(bench.control(.pushVerifier(serial: "SPK0000000001")).ok)
        bench.run(for: .seconds(2))
        #expect(bench.flags & 0x40 == 0, "the push was refused")
        #expect(bench.h.module.cloudLink.c2vRejected >= 1)
        let conditions = Self.conditions(bench.h.uds([0x22, 0xD1, 0x20]))
        #expect(conditions & 0x08 == 0x08, "C2V counter damaged")
        #expect(conditions & 0x04 == 0x04, "cloud use cases wait")
    }

    @Test func damagedV2CCounterSendsNoV2C() throws {
        let bench = try Bench(linkState: .offline)
        (bench.h.store as! InMemorySecureStore).injectCorruption(.record(.v2cCounter))
        bench.h.restart()
        let mark = bench.h.sent.count
        #expect(bench.control(.tbm(.online)).ok)
        bench.run(for: .seconds(3))
        #expect(bench.h.frames(on: 0x6A0, from: mark).isEmpty, "no V2C frame")
        #expect(bench.statusBytes.first == 0, "no use case runs")
        let conditions = Self.conditions(bench.h.uds([0x22, 0xD1, 0x20]))
        #expect(conditions & 0x10 == 0x10, "V2C counter damaged")
        #expect(conditions & 0x04 == 0x04, "cloud use cases wait")
    }

    @Test func theTableForEachDecisionRecord() {
        let limit: UInt8 = 8
        let fresh = StoreReadings()
        #expect(!fresh.plantLocked)
        #expect(fresh.failedPairingAttempts(limit: limit) == 0)
        #expect(fresh.owedVerifierRequest(limit: limit) == nil)
        #expect(fresh.lastC2VCounter == .success(nil))

        var damaged = StoreReadings()
        damaged.plantLock = .damaged("bad MAC")
        damaged.ownerPairingFailures = .damaged("EIO")
        damaged.pendingVerifierRequest = .damaged("truncated")
        damaged.c2vCounter = .damaged("EACCES")
        damaged.verifier = .present
        #expect(damaged.plantLocked)
        #expect(damaged.failedPairingAttempts(limit: limit) == limit)
        #expect(damaged.owedVerifierRequest(limit: limit) == .verifierMissingAtPairing)
        #expect(!damaged.verifierUsable(limit: limit))
        #expect(damaged.lastC2VCounter == .failure(StoreRecordDamaged(reason: "EACCES")))

        var unknownReason = StoreReadings()
        unknownReason.pendingVerifierRequest = .value([0x77])
        #expect(unknownReason.owedVerifierRequest(limit: limit) != nil)

        var keyless = StoreReadings()
        keyless.vehicleCertificate = .present
        keyless.vehicleKey = .corrupt(reason: "bad tag")
        #expect(!keyless.vehicleIdentityUsable, "[K] without an intact key: PP-01 again")
    }
}
