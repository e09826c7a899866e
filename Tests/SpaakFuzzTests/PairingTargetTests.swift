import Testing
@testable import SpaakFuzz

/// The `pairing` target's harness reaches what its invariants talk about: an honest device
/// pairs through it (so "never pending without an honest session" is not vacuous), a changed
/// answer fails once, answers from the input alone never pair.
@Suite struct PairingTargetTests {
    @Test("An honest device completes phase 2 and phase 3 through the harness")
    func honestDevicePairs() {
        let h = PairingFuzz.drive(PairingSeeds.pairing()[0])
        #expect(h.stateByte == 3)
        #expect(h.instructionsSent == PairingFuzz.phase2 + PairingFuzz.phase3)
        #expect(h.attemptsFailed == 0)
        guard case .key(let key) = h.stored else {
            Issue.record("the store holds no owner key")
            return
        }
        #expect(key.isActive && key.publicKey == PairingFuzzDevice.endpointPublicKey)
    }

    @Test("One changed byte in confirmP fails the session once and sends nothing more")
    func changedAnswerFailsOnce() {
        let h = PairingFuzz.drive(PairingSeeds.pairing()[1])
        #expect(h.stateByte == 1)
        #expect(h.attemptsFailed == 1)
        #expect(h.instructionsSent == [0xA4, 0x30, 0x32])
    }

    @Test("Answers written into the input reach VERIFY but never pair")
    func inputAnswersNeverPair() {
        let h = PairingFuzz.drive(PairingSeeds.pairing()[4])
        #expect(h.instructionsSent == [0xA4, 0x30, 0x32])
        #expect(h.attemptsFailed == 1)
        #expect(h.stateByte == 1)
    }

    @Test("A pending key from before a restart is gone from the machine once deleted")
    func stalePendingKey() {
        let h = PairingFuzz.drive([0x81, 8, 0x00])
        #expect(h.stateByte == 0)
        #expect(h.stored == .absent)
    }

    @Test("The SPAKE2+ bench reproduces the RFC 9383 vector")
    func spakeBenchVector() {
        #expect(SpakeBench.vectorMatches())
        let result = SpakeBench.run(seconds: 0.01)
        #expect(result.iterations >= 5 && result.vectorOK)
    }
}
