import CloudProtocol
import CloudSimulator
import Foundation
import SecureStore
import SpaakCore
import TestPKI
import Testing
@testable import SpaakECU

/// The module and the TBM / Vehicle OEM Server simulator on one virtual bus, in virtual
/// time: SP-02, PP-01, PP-02 and PP-03 end to end, every frame crossing ISO-TP.
@Suite struct VehicleProvisioningTests {
    /// A plant-provisioned module, the cloud simulator, and the bus between them.
    final class Bench {
        let h: ModuleHarness
        let cloud: CloudSimulator
        let vos: VehicleOEMServer
        var events: [CloudEvent] = []
        /// Frames the module sent outside `run` (answers to control-triggered pushes).
        var toCloud: [CANFrame] = []

        /// A bench on `store`; `planted`: the whole plant flow first, its ECU certificate
        /// registered with the VOS (else the test does it, see `register`).
        init(linkState: TBMLinkState = .online, store: any SecureStore = InMemorySecureStore(), planted: Bool = true) throws {
            h = ModuleHarness(store: store)
            let pki = PlantProvisioningTests.pki
            let vos = VehicleOEMServer(hierarchy: pki, repository: InMemoryCloudRepository(),
                                       configuration: VOSConfiguration(scryptN: 1024))
            self.vos = vos
            if planted {
                _ = try vos.registerECU(certificate: PlantProvisioningTests.plant(h), date: ModuleHarness.wallTime)
            }
            cloud = CloudSimulator(vos: vos, tbm: TBMSimulator(now: h.clock.now, linkState: linkState))
        }

        /// Registers the module's ECU identity certificate with the VOS.
        func register(_ ecuCertificate: [UInt8]) throws {
            _ = try vos.registerECU(certificate: ecuCertificate, date: ModuleHarness.wallTime)
        }

        /// Runs the bus for `duration` of virtual time.
        func run(for duration: Duration) {
            let end = h.clock.now + duration
            while true {
                // Deliver until quiet.
                var toModule: [CANFrame] = []
                repeat {
                    for frame in toCloud { deliver(cloud.handle(frame, now: h.clock.now, date: ModuleHarness.wallTime), &toModule) }
                    toCloud = []
                    for frame in toModule {
                        let out = h.module.handle(frame, now: h.clock.now)
                        h.record(out)
                        toCloud += out
                    }
                    toModule = []
                } while !toCloud.isEmpty
                let next = [h.module.nextDeadline, cloud.nextDeadline].compactMap { $0 }.min()
                guard let deadline = next, deadline <= end else { h.clock.advance(to: end); return }
                h.clock.advance(to: deadline)
                let out = h.module.handleTimeout(now: h.clock.now)
                h.record(out)
                toCloud += out
                var fromCloud: [CANFrame] = []
                deliver(cloud.handleTimeout(now: h.clock.now, date: ModuleHarness.wallTime), &fromCloud)
                for frame in fromCloud {
                    let reply = h.module.handle(frame, now: h.clock.now)
                    h.record(reply)
                    toCloud += reply
                }
            }
        }

        private func deliver(_ step: CloudSimulator.Step, _ into: inout [CANFrame]) {
            into += step.frames
            events += step.events
        }

        /// A UDS request from the tester; what the module sends the cloud meanwhile is delivered.
        @discardableResult
        func uds(_ request: [UInt8]) -> [UInt8] {
            let mark = h.sent.count
            let response = h.uds(request)
            toCloud += h.sent[mark...].map(\.1).filter { $0.id == 0x6A0 }
            return response
        }

        func control(_ command: ControlCommand) -> CloudSimulator.Reply {
            let (reply, step) = cloud.control(command, now: h.clock.now, date: ModuleHarness.wallTime, readFile: { _ in [] })
            events += step.events
            for frame in step.frames {
                let out = h.module.handle(frame, now: h.clock.now)
                h.record(out)
                toCloud += out
            }
            return reply
        }

        /// The provisioning flags of the last `SPAAK_Status`.
        var flags: UInt8 { h.frames(on: 0x3A8).last?.data[2] ?? 0 }
        var statusBytes: [UInt8] { Array(h.frames(on: 0x3A8).last?.data[3...6] ?? []) }
    }

    @Test func sp02AndPP01ProvisionTheVehicleIdentity() throws {
        let bench = try Bench()
        bench.run(for: .seconds(3))
        #expect(bench.flags & 0x10 == 0x10, "drmUUID present")
        #expect(bench.flags & 0x20 == 0x20, "[K] installed")
        #expect(bench.flags & 0x80 == 0x80, "TBM online")
        #expect(bench.statusBytes == [0, 0, 0, 0])
        // [K] carries the vehicle key and the subject id the VOS issued.
        let status = bench.h.uds([0x22, 0xD1, 0x20])
        #expect(status.suffix(1) == [0x00])
        #expect(bench.h.uds([0x22, 0xD1, 0x22]).count == 3 + 16)
        let types = bench.events.compactMap(\.name)
        for expected in ["RemoteServiceProvisioningRequest", "VehicleSubjectIdResponse", "VehicleIdentityCSRResponse",
                         "VehicleIdentityCertStatus", "C2VUsecaseCompletionAck"] {
            #expect(types.contains(expected), "\(expected) in the trace")
        }
    }

    @Test("Each event is logged once, by the layer that owns it")
    func eachEventIsLoggedOnce() throws {
        let bench = try Bench()
        bench.run(for: .seconds(3))
        #expect(bench.flags & 0x20 == 0x20, "[K] installed")
        let log = bench.h.log
        #expect(log.count("TBM online") == 1, "\(log.lines)")
        #expect(log.count("SP-02 completed") == 1)
        #expect(log.count("PP-01 completed") == 1)
        let lines = log.lines
        let repeated = zip(lines, lines.dropFirst()).filter { $0.0 == $0.1 }.map(\.0)
        #expect(repeated.isEmpty, "logged twice in a row: \(repeated)")
    }

    @Test func pp02PushAndFailedPairingsLeadToPP03() throws {
        let bench = try Bench()
        bench.run(for: .seconds(3))
        #expect(bench.control(.pushVerifier(serial: "SPK0000000001")).ok)
        bench.run(for: .seconds(2))
        #expect(bench.flags & 0x40 == 0x40, "verifier present")
        let metadata = bench.h.uds([0x22, 0xD1, 0x23])
        #expect(metadata.count == 3 + 24)
        #expect(Array(metadata[19..<23]) == UInt32(1024).bigEndianBytes)
        // Eight failed pairings: the eighth deletes the verifier and PP-03 fetches a new one.
        bench.h.unlock()
        for _ in 0..<8 { #expect(bench.uds([0x31, 0x01, 0xF0, 0x11]) == [0x71, 0x01, 0xF0, 0x11, 0x00]) }
        bench.run(for: .seconds(3))
        #expect(bench.flags & 0x40 == 0x40, "a new verifier after PP-03")
        #expect(bench.statusBytes == [0, 0, 0, 0])
        #expect(bench.events.compactMap(\.name).contains("Spake2VerifierRequest"))
    }

    @Test func ownerChangeRunsPP01Again() throws {
        let bench = try Bench()
        bench.run(for: .seconds(3))
        let firstK = bench.h.uds([0x22, 0xD1, 0x21])
        bench.h.unlock()
        #expect(bench.uds([0x31, 0x01, 0xD2, 0x03]) == [0x71, 0x01, 0xD2, 0x03, 0x00])
        bench.run(for: .seconds(3))
        #expect(bench.h.uds([0x31, 0x03, 0xD2, 0x03]) == [0x71, 0x03, 0xD2, 0x03, 0x00, 0x00])
        let secondK = bench.h.uds([0x22, 0xD1, 0x21])
        #expect(secondK.first == 0x62 && secondK != firstK)
    }

    @Test func forgedSignatureIsDiscardedAndTheFlowCompletesAfterRetry() throws {
        let bench = try Bench(linkState: .offline)
        bench.run(for: .milliseconds(500))
        #expect(bench.control(.fault(.corruptSignature, count: 1)).ok)
        #expect(bench.control(.tbm(.online)).ok)
        bench.run(for: .seconds(12))
        #expect(bench.h.module.cloudLink.c2vRejected == 1)
        #expect(bench.flags & 0x30 == 0x30)
    }
}
