import CloudProtocol
import CloudSimulator
import Foundation
import ISOTP
import SpaakCore
import Testing

/// The simulator and a module-side ISO-TP channel wired back to back under a virtual clock.
final class Bench {
    let clock = VirtualClock()
    let module: FakeModule
    let simulator: CloudSimulator
    var moduleChannel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6A0, rxID: 0x6A8))
    var received: [[UInt8]] = []
    var events: [CloudEvent] = []
    var statusFrames: [CANFrame] = []
    /// While set, the module side hears only `TBM_Status` and flow control: it can send,
    /// but no C2V message reaches it (a stalled receiver).
    var deaf = false

    init() throws {
        module = try FakeModule()
        let vos = try makeVOS(.memory, module: module)
        simulator = CloudSimulator(vos: vos, tbm: TBMSimulator(now: .zero))
    }

    /// Delivers frames both ways until the bus is quiet.
    func deliver(_ fromSimulator: [CANFrame], moduleFrames: [CANFrame] = []) {
        var toModule = fromSimulator
        var toSimulator = moduleFrames
        while !toModule.isEmpty || !toSimulator.isEmpty {
            for frame in toModule {
                if frame.id == 0x3A0 { statusFrames.append(frame) }
                if deaf && frame.id != 0x3A0 && frame.data.first.map({ $0 >> 4 != 3 }) ?? true { continue }
                for output in moduleChannel.handle(frame, now: clock.now) {
                    switch output {
                    case .transmit(let f): toSimulator.append(f)
                    case .received(let bytes): received.append(bytes)
                    default: break
                    }
                }
            }
            toModule = []
            for frame in toSimulator {
                let step = simulator.handle(frame, now: clock.now, date: testDate)
                events += step.events
                toModule += step.frames
            }
            toSimulator = []
        }
    }

    /// The module sends `bytes` on 0x6A0.
    func send(_ bytes: [UInt8]) {
        deliver([], moduleFrames: isotpFrames(moduleChannel.send(bytes, now: clock.now)))
    }

    /// Advances the clock to `instant`, running the simulator's timers on the way.
    func run(until instant: Instant) {
        while let deadline = simulator.nextDeadline, deadline <= instant {
            clock.advance(to: deadline)
            let step = simulator.handleTimeout(now: clock.now, date: testDate)
            events += step.events
            deliver(step.frames)
        }
        clock.advance(to: instant)
    }

    func control(_ line: String) throws -> CloudSimulator.Reply {
        let (reply, step) = simulator.control(try ControlCommand.parse(line), now: clock.now, date: testDate) { _ in [] }
        events += step.events
        deliver(step.frames)
        return reply
    }
}

@Suite("CloudSimulator: the TBM and the VOS over ISO-TP frames")
struct CloudSimulatorTests {
    @Test("A V2C request in frames on 0x6A0 is answered in frames on 0x6A8, with a trace of both")
    func roundTrip() throws {
        let bench = try Bench()
        bench.run(until: .milliseconds(1))
        bench.send(try bench.module.request(.vehicleSubjectIdRequest))
        let answer = try C2V(try #require(bench.received.first))
        #expect(answer.message.type == .vehicleSubjectIdResponse && answer.signatureValid)
        let outcomes = bench.events.map(\.outcome)
        #expect(outcomes == [.accepted, .queued, .delivered])
        #expect(bench.events.first?.name == "VehicleSubjectIdRequest" && bench.events.first?.from == .spaak)
        #expect(bench.events.last?.from == .tbm && bench.events.last?.to == .spaak && bench.events.last?.counter == 1)
        // The trace lines encode as JSON.
        let json = try JSONEncoder().encode(bench.events[0])
        #expect(String(decoding: json, as: UTF8.self).contains("\"name\":\"VehicleSubjectIdRequest\""))
    }

    @Test("Control: tbm offline stops relaying, a push is refused while offline, and allowed online")
    func controlTBM() throws {
        let bench = try Bench()
        #expect(try bench.control("tbm offline").ok)
        bench.run(until: .milliseconds(150))
        #expect(bench.statusFrames.last?.data[2] == 0)
        bench.send(try bench.module.request(.vehicleSubjectIdRequest))
        #expect(bench.received.isEmpty)
        #expect(bench.events.contains { $0.outcome == .discarded })
        #expect(try bench.control("push-verifier \(testSerial)").ok == false)
        #expect(try bench.control("tbm online").ok)
        #expect(try bench.control("push-verifier \(testSerial)").ok)
        #expect(try C2V(try #require(bench.received.last)).message.type == .spake2VerifierProvisioning)
    }

    @Test("Control: a delay fault holds the answer back by the given time")
    func controlDelay() throws {
        let bench = try Bench()
        #expect(try bench.control("fault delay 700").description == "ok fault delay 700 armed for 1 C2V message")
        bench.run(until: .milliseconds(1000))
        bench.send(try bench.module.request(.vehicleSubjectIdRequest))
        #expect(bench.received.isEmpty)
        bench.run(until: .milliseconds(1699))
        #expect(bench.received.isEmpty)
        bench.run(until: .milliseconds(1700))
        #expect(bench.received.count == 1)
    }

    @Test("With a verifier pool, a Spake2VerifierRequest and a push wait until a verifier is ready")
    func waitForVerifier() throws {
        let bench = try Bench()
        var ready = false
        bench.simulator.verifierReady = { ready }
        bench.send(try bench.module.request(.spake2VerifierRequest(.verifierMissingAtPairing), useCase: .pp03))
        #expect(bench.received.isEmpty)
        #expect(bench.events.last?.detail == "waiting for a verifier (scrypt running)")
        #expect(try bench.control("push-verifier \(testSerial)").text.contains("queued"))
        #expect(bench.simulator.waitingForVerifier == 2)
        #expect(bench.simulator.verifiersReady(now: bench.clock.now, date: testDate).frames.isEmpty)  // still none
        ready = true
        let step = bench.simulator.verifiersReady(now: bench.clock.now, date: testDate)
        bench.events += step.events
        bench.deliver(step.frames)
        #expect(bench.simulator.waitingForVerifier == 0)
        let answers = try bench.received.map { try C2V($0).message }
        #expect(answers.map(\.type) == [.spake2VerifierProvisioning, .spake2VerifierProvisioning])
        #expect(answers.map(\.useCase) == [.pp03, .pp02])
    }

    @Test("Control: password and status; the trace never shows the password")
    func controlPassword() throws {
        let bench = try Bench()
        #expect(try bench.control("password \(testSerial)").ok == false)
        #expect(try bench.control("push-verifier \(testSerial)").ok)
        let push = try C2V(try #require(bench.received.last))
        bench.send(try bench.module.request(.spake2VerifierStatus(.ok), useCase: .pp02, transactionID: push.message.transactionID))
        let reply = try bench.control("password \(testSerial)")
        #expect(reply.ok && reply.text.count == 8)
        #expect(!bench.events.contains { $0.detail?.contains(reply.text) == true })
        #expect(try bench.control("password \(testSerial)").ok == false)
        let status = try bench.control("status")
        #expect(status.text.contains("\(testSerial) vin=\(bench.module.vin ?? "")"))
        #expect(status.text.contains("password=delivered"))
    }
}

@Suite("Control command parsing")
struct ControlCommandTests {
    @Test("Every command form parses and prints back", arguments: [
        "tbm online", "tbm offline", "tbm unsubscribe", "tbm silent", "push-verifier SPK1", "terminate-owner-key SPK1",
        "pairing-mode SPK1",
        "fault drop", "fault delay 250", "fault corrupt-signature", "fault replay", "fault wrong-transaction",
        "fault wrong-type", "fault error 9", "fault drop --count 3", "fault clear", "password SPK1",
        "register-ecu a.der b.pem", "reset-counter SPK1", "status",
    ])
    func roundTrip(line: String) throws {
        #expect(try ControlCommand.parse(line).text == line)
    }

    @Test("Options and hex codes")
    func details() throws {
        #expect(try ControlCommand.parse("fault --count 2 error 0x7F") == .fault(.error(code: 0x7F), count: 2))
        #expect(try ControlCommand.parse("  status \n") == .status)
    }

    @Test("Malformed commands are refused with a sentence", arguments: [
        "", "tbm", "tbm sideways", "push-verifier", "pairing-mode", "pairing-mode a b", "password a b",
        "fault", "fault delay", "fault delay -1",
        "fault error 300", "fault drop --count 0", "fault drop --count", "status now", "launch",
    ])
    func refused(line: String) {
        #expect(throws: ControlCommandError.self) { try ControlCommand.parse(line) }
    }
}
