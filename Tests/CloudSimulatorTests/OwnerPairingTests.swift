import CloudProtocol
import CloudSimulator
import Foundation
import SpaakCore
import Testing

/// ICD 8.5 on the cloud side: OwnerPairingStatus 0x0D → 0x06, OwnerPairingModeRequest 0x0E,
/// the KTS's owner key tracking and termination.
@Suite("VOS and KTS: owner pairing (ICD 8.5)")
struct OwnerPairingTests {
    static let keyID: [UInt8] = [0x5A, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
    static let otherKeyID: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
    static let phase4Txn = Array(repeating: UInt8(0xD4), count: 16)

    /// The module's 0x0D.
    static func status(_ module: FakeModule, _ state: OwnerPairingState, key: [UInt8]? = nil, status: CloudStatus = .ok,
                       transactionID: [UInt8] = phase4Txn, useCase: UseCase = .ownerPairing) throws -> [UInt8] {
        try module.request(.ownerPairingStatus(state: state, ownerKeyID: key, status: status), useCase: useCase,
                           transactionID: transactionID)
    }

    static func record(_ vos: VehicleOEMServer) throws -> OwnerPairingRecord? {
        try vos.summary().ecus.first?.ownerPairing
    }

    @Test("Phase 4: a 0x0D with state 3 is recorded and acknowledged with 0x06; the KTS tracks the key",
          arguments: RepositoryKind.allCases)
    func phase4(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        #expect(try Self.record(vos) == nil)
        let ack = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID)))
        #expect(ack.signatureValid)
        #expect(ack.message.type == .c2vUsecaseCompletionAck)
        #expect(ack.message.transactionID == Self.phase4Txn)
        #expect(ack.message.useCase == .ownerPairing)
        #expect(ack.message.signerCertificate == sharedPKI[.vos].der)
        #expect(ack.message.counter == 1)
        let record = try #require(try Self.record(vos))
        #expect(record.state == 3 && record.ownerKeyId == Self.keyID && record.status == 0)
        #expect(record.transactionId == Self.phase4Txn && record.updatedAt == testDate)
        #expect(record.activeOwnerKeyId == Self.keyID)
        #expect(record.modeRequestedAt == nil && record.terminatedOwnerKeyId == nil)
    }

    @Test("A resent 0x0D (same transaction id) is acknowledged again and changes nothing; a new one updates")
    func resent() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let first = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID)))
        let later = testDate.addingTimeInterval(5)
        let retry = vos.handleV2C(try Self.status(module, .ownerKeyActive, key: Self.keyID), date: later)
        let again = try C2V(try #require(retry.transmissions.first).bytes)
        #expect(again.message.type == .c2vUsecaseCompletionAck && again.message.transactionID == Self.phase4Txn)
        #expect(again.message.counter == first.message.counter + 1)
        #expect(retry.events.first?.detail?.hasSuffix("(again)") == true)
        #expect(try Self.record(vos)?.updatedAt == testDate)
        // A new report (new transaction id) replaces the record.
        let newTxn = Array(repeating: UInt8(0xE0), count: 16)
        _ = vos.handleV2C(try Self.status(module, .noOwnerKey, transactionID: newTxn), date: later)
        let record = try #require(try Self.record(vos))
        #expect(record.state == 0 && record.ownerKeyId == nil && record.updatedAt == later && record.transactionId == newTxn)
        #expect(record.activeOwnerKeyId == nil)  // the vehicle has no owner key any more
    }

    @Test("A 0x0D with another use case than 7 is refused with ErrorResponse 8 and not recorded")
    func wrongUseCase() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let answer = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID, useCase: .pp03)))
        #expect(answer.message.payload == .errorResponse(resultCode: CloudStatus.unexpectedMessage.rawValue))
        #expect(try Self.record(vos) == nil)
    }

    @Test("A forged or replayed 0x0D gets no answer and is not recorded")
    func unauthentic() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        let forged = try module.request(.ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: Self.keyID, status: .ok),
                                        useCase: .ownerPairing, signer: .init())
        #expect(try exchange(vos, forged) == nil)
        #expect(try Self.record(vos) == nil)
        _ = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID)))
        // A message with a counter already accepted (1) is a replay.
        let old = try module.request(.ownerPairingStatus(state: .noOwnerKey, ownerKeyID: nil, status: .ok), useCase: .ownerPairing,
                                     counter: 1)
        #expect(try exchange(vos, old) == nil)
        #expect(try Self.record(vos)?.state == 3)
    }

    @Test("OP-01: 0x0E is a VOS push with a new transaction id; the 0x0D echoing it is its answer",
          arguments: RepositoryKind.allCases)
    func pairingMode(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let random = ScriptedRandom(script: [Array(repeating: 0x0E, count: 16)])
        let vos = try makeVOS(kind, module: module, random: random)
        let result = try vos.requestPairingMode(serial: testSerial, date: testDate)
        let push = try C2V(try #require(result.transmissions.first).bytes)
        #expect(result.transmissions.count == 1)
        #expect(push.signatureValid)  // under the VOS key, not [ZZ2]
        #expect(push.message.type == .ownerPairingModeRequest && push.message.payload == .ownerPairingModeRequest)
        #expect(push.message.signerCertificate == sharedPKI[.vos].der)
        #expect(push.message.useCase == .ownerPairing)
        #expect(push.message.transactionID == Array(repeating: 0x0E, count: 16))
        #expect(result.events.first?.outcome == .queued && result.events.first?.from == .vos)
        var record = try #require(try Self.record(vos))
        #expect(record.modeRequestTransactionId == push.message.transactionID && record.modeRequestedAt == testDate)
        #expect(record.modeAnsweredAt == nil && record.state == nil)

        // The vehicle opens its window: 0x0D state 1, status 0, echoing the push's id.
        let answer = vos.handleV2C(try Self.status(module, .windowOpen, transactionID: push.message.transactionID), date: testDate)
        let ack = try C2V(try #require(answer.transmissions.first).bytes)
        #expect(ack.message.type == .c2vUsecaseCompletionAck && ack.message.transactionID == push.message.transactionID)
        #expect(ack.message.counter == push.message.counter + 1)
        #expect(answer.events.first?.detail?.contains("answer to OwnerPairingModeRequest") == true)
        record = try #require(try Self.record(vos))
        #expect(record.state == 1 && record.status == 0 && record.ownerKeyId == nil && record.modeAnsweredAt == testDate)

        // Phase 4 later: its own transaction id, not an answer to the push.
        let phase4 = vos.handleV2C(try Self.status(module, .ownerKeyActive, key: Self.keyID), date: testDate)
        #expect(phase4.events.first?.detail?.contains("answer to OwnerPairingModeRequest") == false)
        #expect(try Self.record(vos)?.activeOwnerKeyId == Self.keyID)
    }

    @Test("A 0x0E the vehicle cannot follow: 0x0D status 8 with its state and key is recorded, the key stays tracked")
    func pairingModeRefused() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        _ = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID)))
        let push = try C2V(try #require(try vos.requestPairingMode(serial: testSerial, date: testDate).transmissions.first).bytes)
        let ack = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID, status: .unexpectedMessage,
                                                              transactionID: push.message.transactionID)))
        #expect(ack.message.type == .c2vUsecaseCompletionAck)
        let record = try #require(try Self.record(vos))
        #expect(record.status == 8 && record.state == 3 && record.modeAnsweredAt == testDate)
        #expect(record.activeOwnerKeyId == Self.keyID)
    }

    @Test("Termination: the KTS records the active owner key as terminated; without a key it says so",
          arguments: RepositoryKind.allCases)
    func termination(kind: RepositoryKind) throws {
        let module = try FakeModule()
        let vos = try makeVOS(kind, module: module)
        let none = try vos.terminateOwnerKey(serial: testSerial, date: testDate)
        #expect(none.events.first?.detail == "no owner key known")
        #expect(try Self.record(vos)?.terminatedOwnerKeyId == nil)

        _ = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID)))
        let later = testDate.addingTimeInterval(60)
        let result = try vos.terminateOwnerKey(serial: testSerial, date: later)
        let termination = try C2V(try #require(result.transmissions.first).bytes)
        #expect(termination.message.type == .ownerKeyTermination && termination.signatureValid)  // [ZZ2]
        #expect(result.events.first?.from == .kts)
        #expect(result.events.first?.detail == "owner key \(Self.keyID.hexString) terminated")
        let record = try #require(try Self.record(vos))
        #expect(record.terminatedOwnerKeyId == Self.keyID && record.terminatedAt == later)
        #expect(record.activeOwnerKeyId == nil)
        // A second termination has no key left to terminate; the first stays recorded.
        #expect(try vos.terminateOwnerKey(serial: testSerial, date: later).events.first?.detail == "no owner key known")
        #expect(try Self.record(vos)?.terminatedOwnerKeyId == Self.keyID)
    }

    @Test("Termination while a key is only pending (state 2) terminates that key")
    func terminationPending() throws {
        let module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        _ = try #require(try exchange(vos, Self.status(module, .ownerKeyPending, key: Self.otherKeyID)))
        #expect(try Self.record(vos)?.activeOwnerKeyId == nil)
        _ = try vos.terminateOwnerKey(serial: testSerial, date: testDate)
        #expect(try Self.record(vos)?.terminatedOwnerKeyId == Self.otherKeyID)
    }

    @Test("The SQLite database keeps the owner pairing record across a restart")
    func restart() throws {
        let path = temporaryPath("pairing.sqlite")
        let module = try FakeModule()
        do {
            let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try GRDBCloudRepository(path: path),
                                       configuration: VOSConfiguration(scryptN: 1024), randomBytes: ScriptedRandom(seed: 1).bytes)
            try vos.registerECU(certificate: module.certificateDER, date: testDate)
            _ = try vos.requestPairingMode(serial: testSerial, date: testDate)
            _ = try #require(try exchange(vos, Self.status(module, .ownerKeyActive, key: Self.keyID)))
        }
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: try GRDBCloudRepository(path: path))
        let record = try #require(try Self.record(vos))
        #expect(record.state == 3 && record.ownerKeyId == Self.keyID && record.status == 0 && record.updatedAt == testDate)
        #expect(record.activeOwnerKeyId == Self.keyID && record.modeRequestedAt == testDate && record.modeAnsweredAt == nil)
        #expect(record.modeRequestTransactionId?.count == 16 && record.transactionId == Self.phase4Txn)
        // The resent 0x0D is still recognised after the restart.
        let retry = vos.handleV2C(try Self.status(module, .ownerKeyActive, key: Self.keyID), date: testDate.addingTimeInterval(9))
        #expect(retry.events.first?.detail?.hasSuffix("(again)") == true)
    }

    @Test("pairing-mode for an unknown ECU is refused")
    func unknownECU() {
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: InMemoryCloudRepository())
        #expect(throws: VOSCommandError.self) { try vos.requestPairingMode(serial: "SPK9", date: testDate) }
    }
}

@Suite("CloudSimulator: pairing-mode and the owner pairing in status")
struct OwnerPairingControlTests {
    @Test("ctl pairing-mode sends 0x0E; the module's 0x0D answer shows in the trace and in status")
    func pairingModeOverTheBus() throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        let reply = try bench.control("pairing-mode \(testSerial)")
        #expect(reply.ok && reply.text.hasPrefix("pairing mode request sent to \(testSerial)"))
        let push = try C2V(try #require(bench.received.last))
        #expect(push.message.type == .ownerPairingModeRequest && push.signatureValid)
        #expect(bench.events.contains { $0.outcome == .delivered && $0.type == 0x0E && $0.name == "OwnerPairingModeRequest" })
        #expect(try bench.control("status").text.contains("pairingMode=requested"))

        bench.send(try bench.module.request(.ownerPairingStatus(state: .windowOpen, ownerKeyID: nil, status: .ok),
                                            useCase: .ownerPairing, transactionID: push.message.transactionID))
        let ack = try C2V(try #require(bench.received.last))
        #expect(ack.message.type == .c2vUsecaseCompletionAck && ack.message.transactionID == push.message.transactionID)
        let answer = try #require(bench.events.first { $0.outcome == .accepted && $0.type == 0x0D })
        #expect(answer.name == "OwnerPairingStatus")
        #expect(answer.detail == "answer to OwnerPairingModeRequest: state 1 (pairing window open), owner key -, status 0 (ok)")
        let status = try bench.control("status").text
        #expect(status.contains("pairing=1 (pairing window open) ownerKey=- pairingStatus=0 (ok) updated=2027-01-15T"))
        #expect(status.contains("pairingMode=answered 2027-01-15T"))
    }

    @Test("status shows the active owner key, and after terminate-owner-key the terminated one")
    func statusAndTermination() throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        #expect(try bench.control("status").text.contains("  pairing=- (no report) ownerKey=- "))
        let key = OwnerPairingTests.keyID
        bench.send(try bench.module.request(.ownerPairingStatus(state: .ownerKeyActive, ownerKeyID: key, status: .ok),
                                            useCase: .ownerPairing, transactionID: OwnerPairingTests.phase4Txn))
        #expect(try C2V(try #require(bench.received.last)).message.type == .c2vUsecaseCompletionAck)
        var status = try bench.control("status").text
        #expect(status.contains("pairing=3 (owner key active) ownerKey=\(key.hexString) pairingStatus=0 (ok)"))
        #expect(status.contains("activeKey=\(key.hexString) terminatedKey=-"))
        // The ECU's own line is unchanged in form (one line starting with the serial).
        #expect(status.split(separator: "\n").contains { $0.hasPrefix("\(testSerial) vin=") && $0.contains(" c2v=") })

        #expect(try bench.control("terminate-owner-key \(testSerial)").ok)
        #expect(try C2V(try #require(bench.received.last)).message.type == .ownerKeyTermination)
        #expect(bench.events.contains { $0.outcome == .queued && $0.type == 0x0C
                                        && $0.detail == "owner key \(key.hexString) terminated" })
        status = try bench.control("status").text
        #expect(status.contains("activeKey=- terminatedKey=\(key.hexString) at 2027-01-15T"))
    }

    @Test("pairing-mode is refused while the TBM does not relay and for an unknown ECU")
    func refused() throws {
        let bench = try Bench()
        #expect(try bench.control("pairing-mode SPK9").ok == false)
        #expect(try bench.control("tbm offline").ok)
        let reply = try bench.control("pairing-mode \(testSerial)")
        #expect(!reply.ok && reply.text.contains("nothing can be pushed"))
        #expect(bench.received.isEmpty)
    }
}
