import APDU
import CloudProtocol
import Crypto
import OwnerPairing
import SPAKE2Plus
import SpaakCore
import Testing

@Suite("Owner pairing machine (ICD 8)")
struct OwnerPairingMachineTests {
    private let select = PairingCommand.Instruction.select
    private let request = PairingCommand.Instruction.spake2Request
    private let verify = PairingCommand.Instruction.spake2Verify
    private let write = PairingCommand.Instruction.writeData
    private let get = PairingCommand.Instruction.getData
    private let auth0 = PairingCommand.Instruction.auth0
    private let auth1 = PairingCommand.Instruction.auth1

    @Test("HU opens the window; phase 2 makes the key pending, phase 3 active; one 0x0D with state 3 and the key id")
    func happyPath() throws {
        let h = PairingHarness()
        #expect(h.machine.state == .noOwnerKey)
        h.input(.windowRequested(.headUnit))
        #expect(h.machine.state == .windowOpen)
        #expect(h.machine.windowSecondsLeft(at: h.clock.now) == 300)
        h.tap()
        #expect(h.commandsSent == [select, request, verify, write, get])
        #expect(h.machine.state == .ownerKeyPending)
        #expect(h.contains(.verifierConsumed))
        #expect(h.attemptsFailed == 0)
        #expect(h.storedKey?.publicKey == h.device.endpointPublicKey)
        #expect(h.storedKey?.friendlyName == "Test phone")
        #expect(h.device.receivedCertificates[PairingTag.vehicleCertificate] == [0x30, 0x01, 0x01])
        #expect(h.device.receivedCertificates[PairingTag.subCACertificate] == [0x30, 0x01, 0x02])
        h.remove()
        h.advance(.seconds(2))
        h.tap()
        #expect(h.commandsSent.suffix(3) == [select, auth0, auth1])
        #expect(h.machine.state == .ownerKeyActive)
        #expect(!h.machine.isWindowOpen)
        let keyID = Array(SHA256.hash(data: h.device.endpointPublicKey).prefix(8))
        #expect(h.reports == [OwnerPairingStatusReport(state: .ownerKeyActive, ownerKeyID: keyID, status: .ok, pushTransactionID: nil)])
        #expect(h.storedKey?.isActive == true)
    }

    @Test("The vehicle's AUTH1 signature covers 4C ‖ vehicle eph ‖ device eph ‖ label, by the vehicle identity key")
    func vehicleSignature() throws {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.tap(); h.remove(); h.tap()
        let signed = h.actions.compactMap { action -> [UInt8]? in
            if case .perform(.signWithVehicleKey(let message)) = action { return message }
            return nil
        }
        #expect(signed.count == 1)
        let expected = h.device.transactionID + h.device.vehicleEphemeral + Array(h.device.ephemeral.publicKey.x963Representation)
            + Array("SpaaK AUTH1 vehicle".utf8)
        #expect(signed.first == expected)
    }

    @Test("0x0E opens the window and is answered with state 1; with an active key it is refused with status 8")
    func cloudRequest() {
        let h = PairingHarness()
        let push = [UInt8](repeating: 0xAB, count: 16)
        h.input(.windowRequested(.cloud(transactionID: push)))
        #expect(h.reports == [OwnerPairingStatusReport(state: .windowOpen, ownerKeyID: nil, status: .ok, pushTransactionID: push)])
        h.tap(); h.remove(); h.tap()
        #expect(h.machine.state == .ownerKeyActive)
        h.input(.windowRequested(.cloud(transactionID: push)))
        let keyID = h.storedKey!.keyID
        #expect(h.reports.last == OwnerPairingStatusReport(state: .ownerKeyActive, ownerKeyID: keyID, status: .unexpectedMessage,
                                                     pushTransactionID: push))
        h.input(.windowRequested(.headUnit))
        #expect(!h.machine.isWindowOpen)
    }

    @Test("No window without plant lock, [K], or with a damaged owner key record")
    func preconditions() {
        for (conditions, key) in [(OwnerPairingConditions(plantLocked: false, vehicleCertificateInstalled: true), StoredOwnerKey.absent),
                                  (OwnerPairingConditions(plantLocked: true, vehicleCertificateInstalled: false), .absent),
                                  (OwnerPairingConditions(plantLocked: true, vehicleCertificateInstalled: true), .damaged)] {
            let h = PairingHarness(facts: OwnerPairingFacts(ownerKey: key, conditions: conditions))
            h.input(.windowRequested(.headUnit))
            #expect(!h.machine.isWindowOpen)
            h.input(.windowRequested(.cloud(transactionID: [UInt8](repeating: 1, count: 16))))
            #expect(h.reports.map(\.status) == [.unexpectedMessage])
            h.tap()
            #expect(h.commandsSent.isEmpty)
        }
    }

    @Test("Each phase 2 failure after step 2 is one failed attempt, counted first; nothing stored; nothing more sent",
          arguments: [TestDevice.Fault.wrongConfirmP, .corruptTag, .offCurveShareP, .longFriendlyName,
                      .status(.securityStatusNotSatisfied, atInstruction: PairingCommand.Instruction.spake2Verify),
                      .status(.wrongData, atInstruction: PairingCommand.Instruction.writeData),
                      .status(StatusWord(rawValue: 0x6A82), atInstruction: PairingCommand.Instruction.getData)])
    func phase2Failures(fault: TestDevice.Fault) {
        let h = PairingHarness()
        h.device.fault = fault
        h.input(.windowRequested(.headUnit))
        let before = h.actions.count
        h.tap()
        #expect(h.attemptsFailed == 1)
        let firstAfterFailure = h.actions[before...].firstIndex { if case .attemptFailed = $0 { return true } else { return false } }
        #expect(firstAfterFailure != nil)
        #expect(h.storedKey == nil)
        #expect(h.machine.state == .windowOpen)
        #expect(!h.contains(.verifierConsumed))
        let sent = h.commandsSent.count
        h.advance(.seconds(10))
        #expect(h.commandsSent.count == sent)
        if fault == .offCurveShareP { #expect(!h.commandsSent.contains(verify)) }
    }

    @Test("A wrong password fails at confirmV on the device (69 82): a failed attempt")
    func wrongPassword() throws {
        let other = try SpakeVerifierDerivation.derive(password: Array("9999999999999".utf8), salt: PairingHarness.salt,
                                                       n: 1024, r: 8, p: 1)
        let h = PairingHarness(deviceSecrets: other)
        h.input(.windowRequested(.headUnit))
        h.tap()
        #expect(h.commandsSent == [select, request, verify])
        #expect(h.attemptsFailed == 1)
        #expect(h.machine.state == .windowOpen)
    }

    @Test("Removal: after SELECT not an attempt; after SPAKE2+ REQUEST (and any later step) an attempt")
    func removal() {
        for (instruction, counts) in [(select, false), (request, true), (verify, true), (write, true), (get, true)] {
            let h = PairingHarness()
            h.input(.windowRequested(.headUnit))
            h.removeAfter = instruction
            h.tap()
            #expect(h.attemptsFailed == (counts ? 1 : 0), "removal after \(instruction)")
            #expect(h.storedKey == nil)
        }
    }

    @Test("SELECT unanswered: the session ends at 5 s exactly, not an attempt (before step 2)")
    func selectTimeout() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.deviceAnswers = false
        h.tap()
        h.advance(.milliseconds(4_999))
        #expect(h.machine.nextDeadline == h.clock.now + .milliseconds(1))
        h.advance(.milliseconds(1))
        #expect(h.commandsSent == [select])
        #expect(h.attemptsFailed == 0)
        #expect(h.machine.nextDeadline != h.clock.now + .seconds(5))
    }

    @Test("SPAKE2+ REQUEST unanswered: a failed attempt at 5 s")
    func requestTimeout() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.deviceAnswers = false
        h.tap()
        #expect(h.commandsSent == [select])
        h.input(.response(ResponseAPDU(data: BERTLV([(PairingTag.versions, [1, 0])]).bytes).bytes))
        #expect(h.commandsSent.last == request)
        h.advance(.milliseconds(4_999))
        #expect(h.attemptsFailed == 0)
        h.advance(.milliseconds(1))
        #expect(h.attemptsFailed == 1)
    }

    @Test("Without a verifier a phase 2 session sends nothing and asks for PP-03")
    func noVerifier() {
        let h = PairingHarness()
        h.verifierPresent = false
        h.input(.windowRequested(.headUnit))
        h.tap()
        #expect(h.commandsSent.isEmpty)
        #expect(h.contains(.verifierMissing))
        #expect(h.attemptsFailed == 0)
    }

    @Test("No common version: the session ends before step 2, not an attempt")
    func noCommonVersion() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.deviceAnswers = false
        h.tap()
        h.input(.response(ResponseAPDU(data: BERTLV([(PairingTag.versions, [2, 0])]).bytes).bytes))
        #expect(h.commandsSent == [select])
        #expect(h.attemptsFailed == 0)
    }

    @Test("Phase 3 failure is not an attempt; the key stays pending until the window closes, then it is deleted")
    func phase3FailureThenWindowEnd() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.tap(); h.remove()
        h.device.fault = .badAuth1Signature
        h.tap()
        #expect(h.attemptsFailed == 0)
        #expect(h.machine.state == .ownerKeyPending)
        #expect(h.reports.isEmpty)
        h.remove()
        h.advance(.seconds(299))
        #expect(h.machine.state == .ownerKeyPending)
        h.advance(.seconds(1))
        #expect(h.machine.state == .noOwnerKey)
        #expect(h.performed(.deletePendingOwnerKey))
        #expect(h.storedKey == nil)
    }

    @Test("A start request inside the window restarts its 300 s")
    func windowRestart() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.advance(.seconds(200))
        #expect(h.machine.windowSecondsLeft(at: h.clock.now) == 100)
        h.input(.windowRequested(.headUnit))
        h.advance(.seconds(299))
        #expect(h.machine.isWindowOpen)
        h.advance(.seconds(1))
        #expect(!h.machine.isWindowOpen)
    }

    @Test("Outside a window a tap sends nothing")
    func outsideWindow() {
        let h = PairingHarness()
        h.tap()
        #expect(h.commandsSent.isEmpty)
    }

    @Test("Owner key deletion (0x0C, 0xD203) closes the window and ends a session")
    func keyDeletion() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.tap(); h.remove()
        #expect(h.machine.state == .ownerKeyPending)
        h.input(.ownerKeyDeleted(reason: "owner key termination"))
        #expect(h.machine.state == .noOwnerKey)
        #expect(!h.machine.isWindowOpen)
    }

    @Test("A pending key found at start (its window died with a restart) is deleted")
    func stalePendingKey() throws {
        let key = try #require(OwnerKey(publicKey: Array(P256.Signing.PrivateKey().publicKey.x963Representation), friendlyName: "x"))
        let h = PairingHarness(facts: OwnerPairingFacts(
            ownerKey: .key(key), conditions: OwnerPairingConditions(plantLocked: true, vehicleCertificateInstalled: true)))
        #expect(h.machine.nextDeadline == .zero)
        h.advance(.milliseconds(1))
        #expect(h.performed(.deletePendingOwnerKey))
        #expect(h.machine.nextDeadline == nil)
    }

    @Test("A store failure of the phase 2 commit stores nothing and is not counted")
    func storeFailure() {
        let h = PairingHarness()
        h.storeFails = true
        h.input(.windowRequested(.headUnit))
        h.tap()
        #expect(h.machine.state == .windowOpen)
        #expect(h.attemptsFailed == 0)
        #expect(!h.contains(.verifierConsumed))
    }

    @Test("A new verifier during a phase 2 session ends it without counting")
    func verifierChange() {
        let h = PairingHarness()
        h.input(.windowRequested(.headUnit))
        h.deviceAnswers = false
        h.tap()
        h.input(.response(ResponseAPDU(data: BERTLV([(PairingTag.versions, [1, 0])]).bytes).bytes))
        h.input(.verifierChanged)
        h.advance(.seconds(6))
        #expect(h.attemptsFailed == 0)
    }

    @Test("Owner key records round-trip; damaged ones are refused")
    func ownerKeyRecord() throws {
        let key = try #require(OwnerKey(publicKey: Array(P256.Signing.PrivateKey().publicKey.x963Representation),
                                        friendlyName: "Alice's phone", isActive: true))
        #expect(OwnerKey(recordBytes: key.recordBytes) == key)
        #expect(OwnerKey(recordBytes: Array(key.recordBytes.prefix(40))) == nil)
        var bad = key.recordBytes
        bad[0] = 9
        #expect(OwnerKey(recordBytes: bad) == nil)
        var offCurve = key.recordBytes
        offCurve[65] ^= 1
        #expect(OwnerKey(recordBytes: offCurve) == nil)
    }
}
