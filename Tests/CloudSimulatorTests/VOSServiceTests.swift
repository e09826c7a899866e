import CloudProtocol
import Crypto
import CloudSimulator
import Foundation
import SpaakCore
import Testing

/// The VOS service (`spaak-cloud vos`): GSDP connections, V2C answers on their connection,
/// pushes through the repository's outbox, acks and retries, several instances over one
/// repository. Virtual time; the in-memory repository and the test PKI.
@Suite("VOSService: connections, answers, the outbox")
struct VOSServiceTests {
    /// One repository, the fake module registered, and services over it (instances).
    final class Backend {
        let repository = InMemoryCloudRepository()
        let module: FakeModule
        let random = ScriptedRandom()

        init() throws {
            module = try FakeModule()
            _ = try service("setup").vos.registerECU(certificate: module.certificateDER, date: testDate)
        }

        func service(_ name: String, now: Instant = .zero) -> VOSService {
            let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: repository, configuration: VOSConfiguration(scryptN: 1024),
                                       randomBytes: random.bytes)
            return VOSService(vos: vos, instance: name, now: now)
        }

        func pending() throws -> [C2VOutboxRecord] {
            try repository.transaction { try $0.pendingC2V(serial: testSerial) }
        }
    }

    private func hello(_ serials: [String] = [testSerial]) -> VOSService.Hello { VOSService.Hello(tbm: "tbm-vcan1", serials: serials) }

    /// The binary messages of `step` sent on `id`.
    private func sent(_ step: VOSService.Step, on id: GSDPConnectionID) -> [[UInt8]] {
        step.actions.compactMap { if case .send(id, let bytes) = $0 { bytes } else { nil } }
    }

    private func push(_ service: VOSService, _ command: String = "push-verifier \(testSerial)", now: Instant = .zero)
        throws -> (reply: VOSService.Reply, step: VOSService.Step)
    {
        service.control(try ControlCommand.parse(command), now: now, date: testDate) { _ in [] }
    }

    @Test("hello is answered with welcome naming the instance and binds the serials")
    func helloWelcome() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        let step = service.connected(7, hello: hello(), now: .zero, date: testDate)
        #expect(step.actions == [.sendText(7, #"{"welcome":{"instance":"vos-1"}}"#)])
        #expect(service.boundSerials == [testSerial])
        #expect(service.connectionCount == 1)
        #expect(service.disconnected(7, now: .milliseconds(10)).events.count == 1)
        #expect(service.boundSerials.isEmpty && service.connectionCount == 0)
    }

    @Test("A V2C request is answered on its own connection, and its authenticated serial is bound there")
    func answeredOnConnection() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: hello([]), now: .zero, date: testDate)
        _ = service.connected(2, hello: VOSService.Hello(tbm: "other", serials: []), now: .zero, date: testDate)
        #expect(service.boundSerials.isEmpty)
        let step = service.received(try backend.module.request(.vehicleSubjectIdRequest), from: 1, now: .milliseconds(5), date: testDate)
        let answers = sent(step, on: 1)
        #expect(answers.count == 1 && sent(step, on: 2).isEmpty)
        let answer = try C2V(try #require(answers.first))
        #expect(answer.signatureValid && answer.message.serial == testSerial)
        #expect(service.boundSerials == [testSerial])
        #expect(try backend.pending().isEmpty)  // answers never go through the outbox
        // The TBM's ack of the answer gives its delivered event.
        let ack = service.c2vOutcome(VOSService.digest(answers[0]), .delivered, from: 1, now: .milliseconds(9), date: testDate)
        #expect(ack.events.map(\.outcome) == [.delivered])
    }

    @Test("A binary message before hello is discarded, answered with nothing")
    func binaryBeforeHello() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        let step = service.received(try backend.module.request(.vehicleSubjectIdRequest), from: 3, now: .zero, date: testDate)
        #expect(step.actions.isEmpty && step.events.first?.outcome == .refused)
    }

    @Test("A push to a vehicle connected here is written to the outbox and sent; the module's answer, not the delivered ack, deletes the row",
          arguments: [("push-verifier", UInt8(0x0A)), ("terminate-owner-key", UInt8(0x0C)), ("pairing-mode", UInt8(0x0E))])
    func pushConnectedHere(command: String, type: UInt8) throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: hello(), now: .zero, date: testDate)
        let (reply, step) = try push(service, "\(command) \(testSerial)")
        #expect(reply.ok && reply.text.contains("queued for \(testSerial) (connected here)"))
        let bytes = try #require(sent(step, on: 1).first)
        let message = try C2V(bytes)
        #expect(message.message.type.rawValue == type && message.signatureValid)
        #expect(try backend.pending().map(\.bytes) == [bytes])
        let ack = service.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(50), date: testDate)
        #expect(ack.events.contains { $0.outcome == .delivered && $0.type == type })
        #expect(try backend.pending().map(\.bytes) == [bytes])
        #expect(service.nextDeadline == .milliseconds(60_050))
        let answered = service.received(try backend.module.answer(to: bytes), from: 1, now: .milliseconds(80), date: testDate)
        #expect(answered.events.contains { $0.detail?.hasSuffix("after 1 send: done") == true })
        #expect(try backend.pending().isEmpty)
        #expect(service.nextDeadline == nil)
        #expect(service.handleTimeout(now: .milliseconds(120_000), date: testDate).actions.isEmpty)
        #expect(service.counters.pushes == 1 && service.counters.outboxSent == 1)
    }

    @Test("A delivered push without an answer is sent again 60 s later, 3 times at most, then given up and its row deleted")
    func unansweredRetries() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: hello(), now: .zero, date: testDate)
        let bytes = try #require(sent(try push(service).step, on: 1).first)
        var now = Instant.zero
        for attempt in 1...3 {
            now = now + .milliseconds(200)
            _ = service.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: now, date: testDate)
            #expect(service.nextDeadline == now + .seconds(60))
            #expect(service.handleTimeout(now: now + .milliseconds(59_999), date: testDate).actions.isEmpty)
            now = now + .seconds(60)
            let again = service.handleTimeout(now: now, date: testDate)
            #expect(sent(again, on: 1) == [bytes])
            #expect(again.events.contains { $0.detail == "retry \(attempt)/3: sent again on connection 1" })
            #expect(try backend.pending().count == 1)
        }
        now = now + .milliseconds(200)
        _ = service.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: now, date: testDate)
        let last = service.handleTimeout(now: now + .seconds(60), date: testDate)
        #expect(last.actions.isEmpty)
        #expect(last.events.contains { $0.detail == "push given up: no answer after 4 sends" })
        #expect(try backend.pending().isEmpty)
        #expect(service.nextDeadline == nil)
    }

    @Test("A push resent after no answer is done when the module's late answer comes")
    func lateAnswer() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: hello(), now: .zero, date: testDate)
        let bytes = try #require(sent(try push(service, "pairing-mode \(testSerial)").step, on: 1).first)
        _ = service.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(10), date: testDate)
        #expect(sent(service.handleTimeout(now: .milliseconds(60_010), date: testDate), on: 1) == [bytes])
        // The resend is in flight (no ack yet) when the answer arrives.
        _ = service.received(try backend.module.answer(to: bytes), from: 1, now: .milliseconds(60_020), date: testDate)
        #expect(try backend.pending().isEmpty)
        #expect(service.nextDeadline == nil)
        // Its ack then names no push any more.
        let ack = service.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(60_030), date: testDate)
        #expect(ack.actions.isEmpty)
    }

    @Test("An answer that reaches another instance ends the push there: the sender does not send it again")
    func answeredOnAnotherInstance() throws {
        let backend = try Backend()
        let one = backend.service("vos-1")
        let two = backend.service("vos-2")
        _ = two.connected(1, hello: hello(), now: .zero, date: testDate)
        let bytes = try #require(sent(try push(two).step, on: 1).first)
        _ = two.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(10), date: testDate)
        // The TBM's answer goes through a connection to vos-1 (e.g. after a reconnection race).
        _ = one.connected(2, hello: hello([]), now: .milliseconds(20), date: testDate)
        let answered = one.received(try backend.module.answer(to: bytes), from: 2, now: .milliseconds(30), date: testDate)
        #expect(sent(answered, on: 2).count == 1)  // 0x06
        #expect(try backend.pending().isEmpty)
        let timeout = two.handleTimeout(now: .milliseconds(60_010), date: testDate)
        #expect(timeout.actions.isEmpty)
        #expect(timeout.events.contains { $0.detail == "answered (the row left the outbox): done" })
        #expect(two.nextDeadline == nil)
    }

    @Test("An answer that does not match (another transaction id, a refused signature) leaves the push waiting")
    func wrongAnswer() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: hello(), now: .zero, date: testDate)
        let bytes = try #require(sent(try push(service).step, on: 1).first)
        _ = service.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(10), date: testDate)
        let other = try backend.module.request(.spake2VerifierStatus(.ok), useCase: .pp02, transactionID: Array(repeating: 0x11, count: 16))
        _ = service.received(other, from: 1, now: .milliseconds(20), date: testDate)
        let forged = try backend.module.request(.spake2VerifierStatus(.ok), useCase: .pp02,
                                                transactionID: try C2V(bytes).message.transactionID, signer: P256.Signing.PrivateKey())
        _ = service.received(forged, from: 1, now: .milliseconds(30), date: testDate)
        #expect(try backend.pending().count == 1)
        #expect(sent(service.handleTimeout(now: .milliseconds(60_010), date: testDate), on: 1) == [bytes])
    }

    @Test("A push to a vehicle not connected stays in the outbox and is sent when its TBM connects")
    func pushNotConnected() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        let (reply, step) = try push(service)
        #expect(reply.ok && reply.text.contains("not connected: delivered when it connects"))
        #expect(step.actions.isEmpty)
        #expect(try backend.pending().count == 1)
        let connect = service.connected(4, hello: hello(), now: .milliseconds(30_000), date: testDate)
        let bytes = try #require(sent(connect, on: 4).first)
        #expect(bytes == (try backend.pending().first?.bytes))
        #expect(try C2V(bytes).message.type == .spake2VerifierProvisioning)
    }

    @Test("A push queued on one instance reaches the vehicle connected to another: notified sends it")
    func pushAcrossInstances() throws {
        let backend = try Backend()
        let one = backend.service("vos-1")
        let two = backend.service("vos-2")
        _ = two.connected(1, hello: hello(), now: .zero, date: testDate)
        let (reply, step) = try push(one)
        #expect(reply.ok && reply.text.contains("connected to another instance"))
        #expect(step.actions.isEmpty)
        #expect(one.notified(testSerial, now: .zero, date: testDate).actions.isEmpty)  // not bound on vos-1
        let delivery = two.notified(testSerial, now: .milliseconds(3), date: testDate)
        let bytes = try #require(sent(delivery, on: 1).first)
        #expect(sent(delivery, on: 1).count == 1)
        // A second notification (e.g. its own) does not send the row in flight again.
        #expect(two.notified(testSerial, now: .milliseconds(4), date: testDate).actions.isEmpty)
        _ = two.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(20), date: testDate)
        _ = two.received(try backend.module.answer(to: bytes), from: 1, now: .milliseconds(40), date: testDate)
        #expect(try backend.pending().isEmpty)
        #expect(two.counters.outboxSent == 1 && one.counters.pushes == 1)
    }

    @Test("A push not sent is sent again 5 s later, 3 times at most, then given up and its row deleted")
    func notSentRetries() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        _ = service.connected(1, hello: hello(), now: .zero, date: testDate)
        let bytes = try #require(sent(try push(service).step, on: 1).first)
        let digest = VOSService.digest(bytes)
        var now = Instant.zero
        for attempt in 1...3 {
            now = now + .milliseconds(1000)
            let nack = service.c2vOutcome(digest, .notSent(reason: "N_Bs timeout"), from: 1, now: now, date: testDate)
            #expect(nack.events.contains { $0.outcome == .notSent && $0.detail == "N_Bs timeout" })
            #expect(nack.events.contains { $0.detail == "retry \(attempt)/3 in 5 s" })
            #expect(service.nextDeadline == now + .seconds(5))
            #expect(service.handleTimeout(now: now + .milliseconds(4999), date: testDate).actions.isEmpty)
            now = now + .seconds(5)
            #expect(sent(service.handleTimeout(now: now, date: testDate), on: 1) == [bytes])
            #expect(try backend.pending().count == 1)
        }
        let last = service.c2vOutcome(digest, .notSent(reason: "N_Bs timeout"), from: 1, now: now + .seconds(1), date: testDate)
        #expect(last.events.contains { $0.detail == "push given up after 4 attempts" })
        #expect(try backend.pending().isEmpty)
        #expect(service.nextDeadline == nil)
    }

    @Test("A connection that closes keeps its unanswered pushes in the outbox; the next connection gets them")
    func disconnectKeepsRows() throws {
        let backend = try Backend()
        let one = backend.service("vos-1")
        let two = backend.service("vos-2")
        _ = two.connected(1, hello: hello(), now: .zero, date: testDate)
        let bytes = try #require(sent(try push(two).step, on: 1).first)
        _ = two.c2vOutcome(VOSService.digest(bytes), .delivered, from: 1, now: .milliseconds(500), date: testDate)
        let closed = two.disconnected(1, now: .milliseconds(1000))
        #expect(closed.events.first?.detail?.contains("1 unanswered push stays in the outbox") == true)
        #expect(try backend.pending().count == 1)
        // The TBM reconnects to the other instance.
        let again = one.connected(9, hello: hello(), now: .milliseconds(2000), date: testDate)
        #expect(sent(again, on: 9) == [bytes])
    }

    @Test("Two instances over one repository never reuse a C2V counter")
    func countersAcrossInstances() throws {
        let backend = try Backend()
        let one = backend.service("vos-1")
        let two = backend.service("vos-2")
        var counters: [UInt32] = []
        for index in 0..<6 {
            let service = index.isMultiple(of: 2) ? one : two
            #expect(try push(service, "terminate-owner-key \(testSerial)").reply.ok)
        }
        for row in try backend.pending() { counters.append(try C2V(row.bytes).message.counter) }
        #expect(counters == [1, 2, 3, 4, 5, 6])
    }

    @Test("tbm is refused: the TBM is its own process")
    func tbmRefused() throws {
        let backend = try Backend()
        let (reply, _) = backend.service("vos-1").control(.tbm(.offline), now: .zero, date: testDate) { _ in [] }
        #expect(!reply.ok && reply.text.contains("its own process"))
    }

    @Test("push-verifier and a Spake2VerifierRequest wait for a verifier, then go on")
    func verifierWait() throws {
        let backend = try Backend()
        let service = backend.service("vos-1")
        var ready = false
        service.verifierReady = { ready }
        _ = service.connected(1, hello: hello(), now: .zero, date: testDate)
        let (reply, step) = try push(service)
        #expect(reply.ok && reply.text.contains("waits until a verifier is ready") && step.actions.isEmpty)
        #expect(service.waitingForVerifier == 1)
        ready = true
        let resumed = service.verifiersReady(now: .milliseconds(100), date: testDate)
        #expect(try C2V(try #require(sent(resumed, on: 1).first)).message.type == .spake2VerifierProvisioning)
        #expect(service.waitingForVerifier == 0)
    }

    @Test("stats: one line of JSON with the service's and the database's counters")
    func stats() throws {
        let backend = try Backend()
        let clock = VirtualClock()
        let vos = VehicleOEMServer(hierarchy: sharedPKI, repository: MeteredCloudRepository(backend.repository) { clock.now },
                                   configuration: VOSConfiguration(scryptN: 1024), randomBytes: backend.random.bytes)
        let service = VOSService(vos: vos, instance: "vos-1", now: .zero)
        _ = service.connected(1, hello: hello([]), now: .zero, date: testDate)
        _ = service.received(try backend.module.request(.vehicleSubjectIdRequest), from: 1, now: .zero, date: testDate)
        _ = service.received([0x01, 0x02], from: 1, now: .zero, date: testDate)
        _ = try push(service)
        let (reply, step) = service.control(.stats, now: .milliseconds(61_500), date: testDate) { _ in [] }
        #expect(reply.ok && step.events.isEmpty)
        #expect(!reply.text.contains("\n"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any])
        #expect(json["instance"] as? String == "vos-1")
        #expect(json["connections"] as? Int == 1 && json["vehicles"] as? Int == 1)
        #expect(json["v2c"] as? Int == 2 && json["answered"] as? Int == 1 && json["refused"] as? Int == 1)
        #expect(json["pushes"] as? Int == 1 && json["outbox_sent"] as? Int == 0)
        #expect((json["db_transactions"] as? Int ?? 0) >= 3)
        #expect(json["db_retries"] as? Int == 0)
        #expect(json["uptime_s"] as? Double == 61.5)
        let keys = ["instance", "connections", "vehicles", "v2c", "answered", "refused", "pushes", "outbox_sent",
                    "db_transactions", "db_ms", "db_retries", "uptime_s"]
        #expect(Set(json.keys) == Set(keys))
    }
}
