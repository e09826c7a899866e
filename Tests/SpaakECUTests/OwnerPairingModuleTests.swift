import APDU
import CloudProtocol
import CloudSimulator
import Crypto
import SecureStore
import SpaakCore
import Testing
import X509
@testable import SpaakECU

/// Owner pairing (ICD 8) in the real module, on the bus, in virtual time: `HU_Request` and
/// `NFC_Status` frames, APDUs over ISO-TP 0x6B0/0x6B8 to a phone that knows the password the
/// simulated VOS handed out, the cloud messages through the TBM simulator, DIDs over UDS,
/// and the store records.
@Suite("Owner pairing through the module (ICD 8)")
struct OwnerPairingModuleTests {
    typealias I = PairingCommand.Instruction
    static let phase2 = [I.select, I.spake2Request, I.spake2Verify, I.writeData, I.getData]
    static let phase3 = [I.select, I.auth0, I.auth1]
    static let noDID: [UInt8] = [0x7F, 0x22, 0x22]

    /// Phase 2 then phase 3 with the bench's phone; returns the phone.
    @discardableResult
    static func pair(_ b: PairingBench) throws -> PairingPhone {
        b.headUnitStartsPairing()
        b.tap()
        b.remove()
        b.tap()
        b.remove()
        b.run(for: .seconds(1))
        try #require(b.pairingState == 3, "owner key active")
        return try #require(b.phone)
    }

    static func storedOwnerKey(_ b: PairingBench) -> [UInt8]? { (try? b.h.store.read(.ownerKey)) ?? nil }

    @Test("HU_Request, phase 2, phase 3, phase 4: SPAAK_Status, D124, D125, the store and the VOS agree at every step")
    func fullPairing() throws {
        let b = try PairingBench.provisioned()
        let phone = try #require(b.phone)
        let name = Array(phone.name.utf8)
        #expect(b.pairingState == 0)
        #expect(b.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
        #expect(b.uds([0x22, 0xD1, 0x25]) == Self.noDID)

        // OP-02: the head unit opens the window.
        b.headUnitStartsPairing()
        #expect(b.pairingState == 1)
        #expect(b.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 1, 0x01, 0x2C] + [UInt8](repeating: 0, count: 8), "300 s left")

        // Phase 2: the first tap.
        b.tap()
        #expect(b.commands == Self.phase2)
        #expect(b.pairingState == 2)
        #expect(b.flags & 0x40 == 0, "the verifier was used up")
        #expect(b.failedAttempts == 0)
        b.run(for: .seconds(10))
        // 300 s - 0.2 s (HU settle) - 0.5 s (tap) - 10 s = 289.3 s, rounded up.
        #expect(b.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 2, 0x01, 0x22] + phone.keyID + name)
        #expect(b.uds([0x22, 0xD1, 0x25]) == [0x62, 0xD1, 0x25] + phone.endpointPublicKey)
        #expect(Self.storedOwnerKey(b) == [2] + phone.endpointPublicKey + name)
        #expect((try? b.h.store.read(.spake2Verifier)) == .some(nil))
        #expect(try b.h.store.readCounter(.ownerPairingFailures) == 0)
        // WRITE DATA carried [K] and [J1].
        let k = Array(b.uds([0x22, 0xD1, 0x21]).dropFirst(3))
        #expect(b.phone?.receivedCertificates[PairingTag.vehicleCertificate] == k)
        #expect(b.phone?.receivedCertificates[PairingTag.subCACertificate] == PlantProvisioningTests.pki[.j1].der)
        #expect(b.toCloud(.ownerPairingStatus).isEmpty, "no report before phase 3")

        // Phase 3: remove, tap again.
        b.remove()
        b.tap()
        #expect(Array(b.commands.suffix(3)) == Self.phase3)
        #expect(b.pairingState == 3)
        // The vehicle signed AUTH1 with [K]'s key.
        let auth1 = try #require(b.phone?.vehicleAuth1)
        let kKey = try #require(P256.Signing.PublicKey(try Certificate(derEncoded: k).publicKey))
        #expect(kKey.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: auth1.signature), for: auth1.message))
        b.remove()
        b.run(for: .seconds(1))

        // Phase 4: 0x0D (use case 7, state 3, key id, status 0) reached the VOS and was acknowledged.
        let reports = b.toCloud(.ownerPairingStatus)
        try #require(reports.count == 1)
        let report = reports[0]
        #expect(report.useCase == .ownerPairing)
        #expect(report.payload == .ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: phone.keyID, status: .ok))
        #expect(b.toModule(.c2vUsecaseCompletionAck).contains { $0.transactionID == report.transactionID })
        #expect(b.events.contains { $0.name == "OwnerPairingStatus" && $0.outcome == .accepted })
        let record = try #require(b.cloudRecord)
        #expect(record.state == 3 && record.status == 0 && record.ownerKeyId == phone.keyID)
        #expect(record.activeOwnerKeyId == phone.keyID, "the KTS tracks the active key")
        #expect(b.useCase == 0, "OP finished")
        #expect(b.status[5] == 0, "no error")

        // The store holds the active key; D124 shows it with the window closed.
        #expect(Self.storedOwnerKey(b) == [3] + phone.endpointPublicKey + name)
        #expect(b.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 3, 0, 0] + phone.keyID + name)
        #expect(b.uds([0x22, 0xD1, 0x25]) == [0x62, 0xD1, 0x25] + phone.endpointPublicKey)

        // With an active key HU_Request opens nothing and a tap sends nothing.
        let sent = b.commands.count
        b.headUnitStartsPairing()
        b.tap()
        #expect(b.pairingState == 3)
        #expect(b.commands.count == sent)

        // The state survives a restart.
        b.h.restart()
        b.run(for: .milliseconds(300))
        #expect(b.pairingState == 3)
        #expect(b.uds([0x22, 0xD1, 0x25]) == [0x62, 0xD1, 0x25] + phone.endpointPublicKey)
    }

    @Test("Eight wrong passwords: counted in the store before anything else, byte 6 = 1…7, the 8th deletes the verifier and PP-03 reason 2 brings a new one")
    func eightWrongPasswords() throws {
        let b = try PairingBench.provisioned()
        let right = try #require(b.phone)
        let wrong = try PairingBench.secrets(password: "not the password", metadata: b.uds([0x22, 0xD1, 0x23]))
        try #require(wrong.w0 != right.secrets.w0)
        b.phone = PairingPhone(secrets: wrong)
        b.headUnitStartsPairing()

        // Right after the module handled the frame carrying 69 82: what the store holds.
        var atFailure: [(count: UInt64?, verifier: Bool, owed: [UInt8]?)] = []
        b.afterResponseDelivered = { [unowned b] response in
            guard response.status == .securityStatusNotSatisfied else { return }
            let store = b.h.store
            atFailure.append(((try? store.readCounter(.ownerPairingFailures)) ?? nil, store.status(.spake2Verifier) == .present,
                              (try? store.read(StoreReadings.pendingVerifierRecord)) ?? nil))
        }
        for attempt in 1...7 {
            b.tap()
            #expect(Array(b.commands.suffix(3)) == [I.select, I.spake2Request, I.spake2Verify], "attempt \(attempt) ends at VERIFY")
            try #require(atFailure.count == attempt)
            #expect(atFailure[attempt - 1].count == UInt64(attempt), "attempt \(attempt) in the store at once")
            #expect(atFailure[attempt - 1].verifier)
            b.remove()
            #expect(b.failedAttempts == UInt8(attempt))
            #expect(b.flags & 0x40 == 0x40, "verifier kept after \(attempt)")
            #expect(b.pairingState == 1)
        }
        #expect(b.toCloud(.spake2VerifierRequest).isEmpty)

        // The 8th: counted, the verifier deleted and PP-03 (reason 2) owed, in the store at once.
        b.tap(settle: .zero)
        try #require(atFailure.count == 8)
        #expect(atFailure[7].count == 8)
        #expect(!atFailure[7].verifier, "the 8th failure deleted the verifier")
        #expect(atFailure[7].owed == [PP03Reason.verifierDeletedAfterFailedPairings.rawValue])
        b.remove()
        b.run(for: .seconds(3))
        let requests = b.toCloud(.spake2VerifierRequest)
        try #require(requests.count == 1)
        #expect(requests[0].payload == .spake2VerifierRequest(.verifierDeletedAfterFailedPairings))
        #expect(requests[0].useCase == .pp03)
        #expect(b.toModule(.spake2VerifierProvisioning).contains { $0.transactionID == requests[0].transactionID })
        #expect(b.toCloud(.spake2VerifierStatus).last?.payload == .spake2VerifierStatus(.ok))
        #expect(b.flags & 0x40 == 0x40, "a new verifier after PP-03")
        #expect(b.failedAttempts == 0)
        #expect(try b.h.store.readCounter(.ownerPairingFailures) == 0)
        #expect((try? b.h.store.read(StoreReadings.pendingVerifierRecord)) == .some(nil))
        #expect(b.pairingState == 1, "the 8th failure does not close the window")

        // The old password no longer pairs; the new one does, in the same window.
        b.phone = right
        b.tap()
        #expect(b.failedAttempts == 1)
        b.remove()
        b.phone = PairingPhone(secrets: try b.currentSecrets())
        b.tap()
        #expect(b.pairingState == 2)
        #expect(b.failedAttempts == 0)
    }

    @Test("0x0E opens the window and is answered by 0x0D echoing it (state 1, status 0); pending: state 2; active key: status 8, state 3, key id")
    func pairingModeFromTheCloud() throws {
        let b = try PairingBench.provisioned()
        let phone = try #require(b.phone)

        #expect(b.control(.pairingMode(serial: PairingBench.serial)).ok)
        b.run(for: .seconds(1))
        let push = try #require(b.toModule(.ownerPairingModeRequest).last)
        #expect(push.useCase == .ownerPairing)
        #expect(b.pairingState == 1)
        let answer = try #require(b.toCloud(.ownerPairingStatus).last)
        #expect(answer.transactionID == push.transactionID)
        #expect(answer.payload == .ownerPairingStatus(state: .windowOpen, ownerKeyID: nil, status: .ok))
        #expect(b.toModule(.c2vUsecaseCompletionAck).contains { $0.transactionID == push.transactionID })
        var record = try #require(b.cloudRecord)
        #expect(record.modeAnsweredAt != nil && record.state == 1 && record.status == 0)

        // Phase 2, then 0x0E again while the key is pending: the window restarts, state 2.
        b.tap()
        b.remove()
        #expect(b.pairingState == 2)
        b.control(.pairingMode(serial: PairingBench.serial))
        b.run(for: .seconds(1))
        let push2 = try #require(b.toModule(.ownerPairingModeRequest).last)
        let answer2 = try #require(b.toCloud(.ownerPairingStatus).last)
        #expect(push2.transactionID != push.transactionID)
        #expect(answer2.transactionID == push2.transactionID)
        #expect(answer2.payload == .ownerPairingStatus(state: .ownerKeyPending, ownerKeyID: phone.keyID, status: .ok))

        // Phase 3, then 0x0E with the key active: refused with status 8.
        b.tap()
        b.remove()
        b.run(for: .seconds(1))
        #expect(b.pairingState == 3)
        let phase4 = try #require(b.toCloud(.ownerPairingStatus).last)
        #expect(phase4.transactionID != push2.transactionID)
        #expect(phase4.payload == .ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: phone.keyID, status: .ok))
        b.control(.pairingMode(serial: PairingBench.serial))
        b.run(for: .seconds(1))
        let push3 = try #require(b.toModule(.ownerPairingModeRequest).last)
        let refusal = try #require(b.toCloud(.ownerPairingStatus).last)
        #expect(refusal.transactionID == push3.transactionID)
        #expect(refusal.payload == .ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: phone.keyID, status: .unexpectedMessage))
        #expect(b.toModule(.c2vUsecaseCompletionAck).contains { $0.transactionID == push3.transactionID })
        #expect(b.pairingState == 3)
        #expect(Array(b.uds([0x22, 0xD1, 0x24])[3..<6]) == [3, 0, 0], "no window")
        record = try #require(b.cloudRecord)
        #expect(record.status == 8 && record.state == 3 && record.activeOwnerKeyId == phone.keyID)
    }

    @Test("OwnerKeyTermination 0x0C after pairing deletes the owner key and the verifier, byte 7 = 0, PP-03 reason 1")
    func ownerKeyTermination() throws {
        let b = try PairingBench.provisioned()
        let phone = try Self.pair(b)
        #expect(b.flags & 0x40 == 0, "phase 2 used the verifier up")
        // A new verifier (PP-02), so that the termination has one to delete.
        try b.pushVerifierAndTakePassword()

        // Right after the module handled the 0x0C (PP-03 answers at once on this bench).
        var atTermination: (key: SecureStoreEntryStatus, verifier: SecureStoreEntryStatus, owed: [UInt8]?)?
        b.afterC2VDelivered = { [unowned b] message in
            guard message.type == .ownerKeyTermination else { return }
            let store = b.h.store
            atTermination = (store.status(.ownerKey), store.status(.spake2Verifier),
                             (try? store.read(StoreReadings.pendingVerifierRecord)) ?? nil)
        }
        #expect(b.control(.terminateOwnerKey(serial: PairingBench.serial)).ok)
        b.run(for: .milliseconds(100))
        #expect(b.toModule(.ownerKeyTermination).count == 1)
        let deleted = try #require(atTermination)
        #expect(deleted.key == .absent && deleted.verifier == .absent, "the owner key and the verifier deleted")
        #expect(deleted.owed == [PP03Reason.ownerKeyTermination.rawValue], "PP-03 reason 1 owed")
        #expect(b.pairingState == 0)
        #expect(Self.storedOwnerKey(b) == nil)
        #expect(b.uds([0x22, 0xD1, 0x25]) == Self.noDID)
        #expect(b.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
        b.run(for: .seconds(3))
        let requests = b.toCloud(.spake2VerifierRequest)
        try #require(requests.count == 1)
        #expect(requests[0].payload == .spake2VerifierRequest(.ownerKeyTermination))
        #expect(b.flags & 0x40 == 0x40, "a new verifier after PP-03")
        #expect(b.cloudRecord?.terminatedOwnerKeyId == phone.keyID)
        #expect(b.cloudRecord?.activeOwnerKeyId == nil)
        // A new owner can pair.
        b.phone = PairingPhone(secrets: try b.currentSecrets())
        b.headUnitStartsPairing()
        #expect(b.pairingState == 1)
    }

    @Test("Owner change 0xD203 deletes the owner key too")
    func ownerChange() throws {
        let b = try PairingBench.provisioned()
        try Self.pair(b)
        try b.pushVerifierAndTakePassword()
        b.unlock()
        #expect(b.uds([0x31, 0x01, 0xD2, 0x03]) == [0x71, 0x01, 0xD2, 0x03, 0x00])
        #expect(Self.storedOwnerKey(b) == nil)
        #expect(b.h.store.status(.spake2Verifier) == .absent)
        b.run(for: .milliseconds(200))
        #expect(b.pairingState == 0)
        #expect(b.uds([0x22, 0xD1, 0x25]) == Self.noDID)
        b.run(for: .seconds(3))
        #expect(b.flags & 0x20 == 0x20, "PP-01 ran again")
        #expect(b.pairingState == 0)
        // The window opens again for the new owner.
        b.headUnitStartsPairing()
        #expect(b.pairingState == 1)
    }

    @Test("A key left pending (phase 3 never done) is deleted when the window times out at 300 s")
    func windowTimeoutDeletesThePendingKey() throws {
        let b = try PairingBench.provisioned()
        b.headUnitStartsPairing()  // the window opens now and ends 300 s later
        b.tap()
        b.remove()
        #expect(b.pairingState == 2)
        #expect(Self.storedOwnerKey(b)?.first == 2)
        b.run(for: .milliseconds(298_600))  // 299.8 s after the HU_Request
        #expect(b.pairingState == 2)
        #expect(Array(b.uds([0x22, 0xD1, 0x24])[3..<6]) == [2, 0, 1], "1 s left")
        b.run(for: .milliseconds(400))
        #expect(b.pairingState == 0)
        #expect(Self.storedOwnerKey(b) == nil)
        #expect(b.uds([0x22, 0xD1, 0x25]) == Self.noDID)
        #expect(b.uds([0x22, 0xD1, 0x24]) == [0x62, 0xD1, 0x24, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
        #expect(b.toCloud(.ownerPairingStatus).isEmpty, "no report without phase 3")
        // A later tap does nothing: no window.
        let sent = b.commands.count
        b.tap()
        #expect(b.commands.count == sent)
    }
}
