import CloudProtocol
import Provisioning
import SpaakCore
import Testing

@Suite("Preconditions of the cloud use cases (issue 7, defect 13)")
struct PreconditionTests {
    @Test("owed work waits for its preconditions, says so once, starts when they hold")
    func waitsThenStarts() {
        let h = Harness()
        h.machine = ProvisioningMachine(facts: ProvisioningFacts(missingPreconditions: ["ECU identity key", "plant lock"]),
                                        random: SplitMix64(seed: 1))
        h.online()
        h.offline()
        h.online()
        #expect(h.sent.isEmpty)
        #expect(h.machine.status.activeUseCase == nil)
        #expect(h.logs.filter { $0.contains("cloud use cases wait: ECU identity key, plant lock") }.count == 1)
        h.feed(.preconditionsChanged(missing: []))
        #expect(h.sent.first?.type == .remoteServiceProvisioningRequest)
    }

    @Test("preconditions that hold while the TBM is offline start nothing until it is online")
    func offlineStartsNothing() {
        let h = Harness()
        h.machine = ProvisioningMachine(facts: ProvisioningFacts(missingPreconditions: ["plant lock"]),
                                        random: SplitMix64(seed: 1))
        h.feed(.preconditionsChanged(missing: []))
        #expect(h.sent.isEmpty)
        h.online()
        #expect(h.sent.first?.type == .remoteServiceProvisioningRequest)
    }
}
