import CloudProtocol
import CloudSimulator
import SpaakCore
import Testing

/// Issue 7, defect 12: the VOS retries a push whose ISO-TP delivery failed, as the module
/// retries its requests (ICD 7.4: again after 5 s, up to 3 times), and says so in its trace.
/// Issue 12: a push delivered but not answered by the module (`PushAnswer`) within 60 s is
/// sent again too (a receiver's N_Cr timeout is not reported to the sender).
@Suite("CloudSimulator: pushes are retried")
struct PushRetryTests {
    private func notSent(_ bench: Bench, _ type: UInt8) -> [CloudEvent] {
        bench.events.filter { $0.outcome == .notSent && $0.type == type }
    }

    /// The pushes of `type` the module received.
    private func pushes(_ bench: Bench, _ type: UInt8) throws -> [[UInt8]] {
        try bench.received.filter { try C2V($0).message.type.rawValue == type }
    }

    @Test("A push (0x0A, 0x0C, 0x0E) not delivered is sent again 5 s later and then reaches the module, which answers it",
          arguments: [("push-verifier", UInt8(0x0A)), ("terminate-owner-key", UInt8(0x0C)), ("pairing-mode", UInt8(0x0E))])
    func retriedOnce(command: String, type: UInt8) throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        bench.deaf = true
        #expect(try bench.control("\(command) \(testSerial)").ok)
        bench.run(until: .milliseconds(2000))  // N_Bs (1000 ms) passes without a flow control
        #expect(notSent(bench, type).count == 1)
        #expect(bench.received.isEmpty)
        bench.deaf = false
        bench.run(until: .milliseconds(5999))
        #expect(bench.received.isEmpty)
        bench.run(until: .milliseconds(7100))
        let delivered = try C2V(try #require(bench.received.first))
        #expect(delivered.message.type.rawValue == type && delivered.signatureValid)
        #expect(bench.received.count == 1)
        #expect(bench.events.contains { $0.outcome == .delivered && $0.type == type })
        #expect(bench.events.contains { $0.detail?.contains("retry 1/3") == true })
        bench.send(try bench.module.answer(to: bench.received[0]))
        #expect(bench.events.contains { $0.detail?.hasSuffix("after 2 sends: done") == true })
        bench.run(until: .milliseconds(120_000))
        #expect(try pushes(bench, type).count == 1)
    }

    @Test("A push delivered but never answered is sent again 60 s after each delivery, 4 sends in all, then given up",
          arguments: [("push-verifier", UInt8(0x0A)), ("terminate-owner-key", UInt8(0x0C)), ("pairing-mode", UInt8(0x0E))])
    func unanswered(command: String, type: UInt8) throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        #expect(try bench.control("\(command) \(testSerial)").ok)
        #expect(try pushes(bench, type).count == 1)
        bench.run(until: .milliseconds(59_000))
        #expect(try pushes(bench, type).count == 1)
        bench.run(until: .milliseconds(61_000))
        #expect(try pushes(bench, type).count == 2)
        #expect(bench.events.contains { $0.detail == "no answer 60 s after delivery" })
        bench.run(until: .milliseconds(300_000))
        let all = try pushes(bench, type)
        #expect(all.count == 4 && Set(all).count == 1)  // the same bytes each time
        #expect(bench.events.contains { $0.detail == "push given up: no answer after 4 sends" })
        #expect(bench.simulator.nextDeadline.map { $0 > .milliseconds(300_000) } ?? true)
    }

    @Test("A push that never gets through is tried 4 times in all (3 retries), then given up, in the trace")
    func givenUp() throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        bench.deaf = true
        #expect(try bench.control("push-verifier \(testSerial)").ok)
        bench.run(until: .milliseconds(120_000))
        #expect(notSent(bench, 0x0A).count == 4)
        #expect(bench.events.contains { $0.detail?.contains("given up") == true })
        #expect(bench.simulator.nextDeadline.map { $0 > .milliseconds(120_000) } ?? true)
    }

    @Test("An answer to a module's request is not retried by the VOS (the module retries)")
    func answersNotRetried() throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        bench.deaf = true
        bench.send(try bench.module.request(.vehicleSubjectIdRequest))
        bench.run(until: .milliseconds(60_000))
        #expect(bench.events.filter { $0.outcome == .notSent }.count <= 1)
    }
}
