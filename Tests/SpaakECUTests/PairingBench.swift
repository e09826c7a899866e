import APDU
import CloudProtocol
import CloudSimulator
import E2E
import Foundation
import ISOTP
import SecureStore
import SpaakCore
import Testing
@testable import SpaakECU

/// The module on one virtual bus with the cloud simulator (TBM + VOS/KTS), the NFC reader
/// (`NFC_Status` every 100 ms), the owner's phone behind it (APDUs over ISO-TP 0x6B0/0x6B8)
/// and the head unit (`HU_Request`), in virtual time. Every frame crosses the module's CAN
/// interface; the V2C and C2V messages are also decoded from the frames for the tests.
final class PairingBench {
    let h: ModuleHarness
    let cloud: CloudSimulator
    let vos: VehicleOEMServer
    static let serial = "SPK0000000001"

    /// The phone in (or next to) the reader's field.
    var phone: PairingPhone?
    /// Whether the phone is in the field (the reader reports `DevicePresent`).
    private(set) var phoneInField = false
    /// Whether the reader sends `NFC_Status` at all.
    var readerOn = true
    private var reader = NFCStatusEncoder()
    private var nextReaderFrame: Instant
    private var phoneChannel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6B8, rxID: 0x6B0))
    private var huCounter: UInt8 = 0

    /// Every trace event of the cloud simulator.
    private(set) var events: [CloudEvent] = []
    /// The V2C messages that reached the cloud, decoded from the 0x6A0 frames.
    private(set) var toCloud: [CloudMessage] = []
    /// The C2V messages that reached the module, decoded from the 0x6A8 frames.
    private(set) var toModule: [CloudMessage] = []
    /// The instruction bytes of the command APDUs the phone received, in order.
    private(set) var commands: [UInt8] = []
    /// Called right after the module handled the frame that completed a response APDU of the
    /// phone (before any other frame or timer), with that response.
    var afterResponseDelivered: ((ResponseAPDU) -> Void)?
    /// Called right after the module handled the frame that completed a C2V message (before
    /// any other frame or timer), with that message.
    var afterC2VDelivered: ((CloudMessage) -> Void)?

    private enum Node { case module, cloud, phone, reader, headUnit }
    private var bus: [(frame: CANFrame, from: Node, completes: ResponseAPDU?)] = []
    private var v2cDecoder = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6A8, rxID: 0x6A0))
    private var c2vDecoder = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6A0, rxID: 0x6A8))
    private var responseInFlight: ResponseAPDU?

    /// A bench on `store`; `planted`: the plant flow first and the ECU registered with the VOS.
    init(store: any SecureStore = InMemorySecureStore(), planted: Bool = true, linkState: TBMLinkState = .online) throws {
        let setup = try VehicleProvisioningTests.Bench(linkState: linkState, store: store, planted: planted)
        h = setup.h
        cloud = setup.cloud
        vos = setup.vos
        nextReaderFrame = h.clock.now
    }

    /// A bench through SP-02, PP-01 and PP-02, with a phone that knows the pairing password
    /// the VOS handed out for the verifier it pushed.
    static func provisioned(store: any SecureStore = InMemorySecureStore()) throws -> PairingBench {
        let bench = try PairingBench(store: store)
        bench.run(for: .seconds(3))
        #expect(bench.flags & 0x20 == 0x20, "[K] installed")
        try bench.pushVerifierAndTakePassword()
        return bench
    }

    /// PP-02: the VOS pushes a verifier; the phone gets the password the VOS hands out for it.
    func pushVerifierAndTakePassword() throws {
        #expect(control(.pushVerifier(serial: Self.serial)).ok)
        run(for: .seconds(2))
        #expect(flags & 0x40 == 0x40, "verifier present")
        phone = PairingPhone(secrets: try currentSecrets())
    }

    /// The SPAKE2+ secrets of the current verifier: its password from the VOS (`password`
    /// control command), its salt and scrypt parameters from DID 0xD123.
    func currentSecrets() throws -> SpakeVerifierSecrets {
        let reply = control(.password(serial: Self.serial))
        try #require(reply.ok, "password: \(reply.text)")
        return try Self.secrets(password: reply.text, metadata: uds([0x22, 0xD1, 0x23]))
    }

    /// w0, w1 for `password` with the salt, N, r, p of a D123 response.
    static func secrets(password: String, metadata response: [UInt8]) throws -> SpakeVerifierSecrets {
        try #require(response.count == 3 + 24 && response.prefix(3) == [0x62, 0xD1, 0x23], "D123: \(response)")
        let m = Array(response.dropFirst(3))
        let n = m[16..<20].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let r = UInt16(m[20]) << 8 | UInt16(m[21])
        let p = UInt16(m[22]) << 8 | UInt16(m[23])
        return try SpakeVerifierDerivation.derive(password: Array(password.utf8), salt: Array(m[0..<16]), n: n, r: r, p: p)
    }

    // MARK: - The other nodes

    /// `HU_Request` 0x01 (start owner pairing) with the next counter, then `settle`.
    func headUnitStartsPairing(settle: Duration = .milliseconds(200)) {
        put([HURequest.startOwnerPairing.frame(counter: huCounter)], from: .headUnit)
        huCounter = E2EProfile.nextCounter(after: huCounter)
        run(for: settle)
    }

    /// The phone enters the field (a new ISO-TP channel on its side), then `settle`.
    func tap(settle: Duration = .milliseconds(500)) {
        phoneInField = true
        phoneChannel = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6B8, rxID: 0x6B0))
        readerFrameNow()
        run(for: settle)
    }

    /// The phone leaves the field, then `settle`.
    func remove(settle: Duration = .milliseconds(500)) {
        phoneInField = false
        readerFrameNow()
        run(for: settle)
    }

    /// A control command of the simulated cloud; its frames go on the bus.
    @discardableResult
    func control(_ command: ControlCommand) -> CloudSimulator.Reply {
        let (reply, step) = cloud.control(command, now: h.clock.now, date: ModuleHarness.wallTime, readFile: { _ in [] })
        events += step.events
        put(step.frames, from: .cloud)
        deliver()
        return reply
    }

    /// A UDS request from the tester (its own ISO-TP channel); the cloud and pairing frames
    /// the module sends meanwhile go on the bus.
    func uds(_ request: [UInt8]) -> [UInt8] {
        let mark = h.sent.count
        let response = h.uds(request)
        put(h.sent[mark...].map(\.1).filter { $0.id == 0x6A0 || $0.id == 0x6B0 }, from: .module, recorded: true)
        deliver()
        return response
    }

    /// Extended session and security access, as `ModuleHarness.unlock`, on this bus.
    func unlock() {
        _ = uds([0x10, 0x03])
        let seed = uds([0x27, 0x01])
        _ = uds([0x27, 0x02] + SecurityAccessKey.compute(seed: Array(seed.dropFirst(2)), plantKey: ECUConfiguration.defaultPlantKey))
    }

    // MARK: - What the module shows

    /// The last `SPAAK_Status`.
    var status: [UInt8] { h.frames(on: 0x3A8).last?.data ?? [] }
    /// Byte 2: the provisioning flags.
    var flags: UInt8 { status.count == 8 ? status[2] : 0 }
    /// Byte 3: the active use case.
    var useCase: UInt8 { status.count == 8 ? status[3] : 0xFF }
    /// Byte 6: failed owner-pairing attempts.
    var failedAttempts: UInt8 { status.count == 8 ? status[6] : 0xFF }
    /// Byte 7: the owner pairing state.
    var pairingState: UInt8 { status.count == 8 ? status[7] : 0xFF }

    /// The V2C messages of `type` that reached the cloud.
    func toCloud(_ type: CloudMessageType) -> [CloudMessage] { toCloud.filter { $0.type == type } }
    /// The C2V messages of `type` that reached the module.
    func toModule(_ type: CloudMessageType) -> [CloudMessage] { toModule.filter { $0.type == type } }

    /// What the VOS / KTS recorded of this module's owner pairing.
    var cloudRecord: OwnerPairingRecord? {
        (try? vos.summary())?.ecus.first { $0.serial == Self.serial }?.ownerPairing
    }

    // MARK: - The bus

    /// Runs the bus for `duration` of virtual time: every node's timers, every frame delivered.
    func run(for duration: Duration) {
        let end = h.clock.now + duration
        var turnsWithoutTime = 0
        while true {
            deliver()
            let next = [h.module.nextDeadline, cloud.nextDeadline, phoneChannel.nextDeadline, readerOn ? nextReaderFrame : nil]
                .compactMap { $0 }.min()
            guard let deadline = next, deadline <= end else { h.clock.advance(to: end); return }
            if deadline <= h.clock.now {
                turnsWithoutTime += 1
                if turnsWithoutTime > 1_000 {
                    Issue.record("a deadline stays due at \(h.clock.now): the bus loop does not advance")
                    return
                }
            } else {
                turnsWithoutTime = 0
            }
            h.clock.advance(to: deadline)
            let now = h.clock.now
            if readerOn, nextReaderFrame <= now { readerFrameNow() }
            put(h.module.handleTimeout(now: now), from: .module)
            let step = cloud.handleTimeout(now: now, date: ModuleHarness.wallTime)
            events += step.events
            put(step.frames, from: .cloud)
            phoneOutputs(phoneChannel.handleTimeout(now: now))
        }
    }

    private func readerFrameNow() {
        guard readerOn else { return }
        put([reader.nextFrame(phoneInField ? .tapped : .idle)], from: .reader)
        nextReaderFrame = h.clock.now + .milliseconds(100)
    }

    private func put(_ frames: [CANFrame], from node: Node, recorded: Bool = false) {
        if node == .module && !recorded { h.record(frames) }
        bus += frames.map { ($0, node, nil) }
    }

    /// Delivers the frames on the bus, in order, until it is quiet.
    private func deliver() {
        let now = h.clock.now
        while !bus.isEmpty {
            let (frame, from, completes) = bus.removeFirst()
            switch from {
            case .module:
                if frame.id == 0x6B0 {
                    if phoneInField { phoneOutputs(phoneChannel.handle(frame, now: now)) }
                    continue
                }
                if frame.id == 0x6A0 { _ = decode(&v2cDecoder, frame, into: &toCloud) }
                let step = cloud.handle(frame, now: now, date: ModuleHarness.wallTime)
                events += step.events
                put(step.frames, from: .cloud)
            case .cloud, .phone, .reader, .headUnit:
                let c2v = frame.id == 0x6A8 ? decode(&c2vDecoder, frame, into: &toModule) : []
                put(h.module.handle(frame, now: now), from: .module)
                if let completes { afterResponseDelivered?(completes) }
                for message in c2v { afterC2VDelivered?(message) }
            }
        }
    }

    /// The phone's side of the APDU channel: a command in, its response out. The frame that
    /// completes a response carries it, for `afterResponseDelivered`.
    private func phoneOutputs(_ outputs: [ISOTPOutput]) {
        let completes = outputs.contains { if case .transmitCompleted = $0 { return true } else { return false } }
        let lastFrame = outputs.lastIndex { if case .transmit = $0 { return true } else { return false } }
        for (index, output) in outputs.enumerated() {
            switch output {
            case .transmit(let frame):
                bus.append((frame, .phone, completes && index == lastFrame ? responseInFlight : nil))
            case .transmitCompleted, .failed:
                break
            case .received(let command):
                guard var device = phone else { continue }
                commands.append(command.count > 1 ? command[1] : 0)
                let bytes = device.respond(to: command)
                phone = device
                responseInFlight = try? ResponseAPDU(bytes: bytes)
                phoneOutputs(phoneChannel.send(bytes, now: h.clock.now))
            }
        }
    }

    /// Reassembles the frames of one direction of the cloud channel (a passive listener);
    /// returns the messages this frame completed.
    private func decode(_ decoder: inout ISOTPChannel, _ frame: CANFrame, into messages: inout [CloudMessage]) -> [CloudMessage] {
        var completed: [CloudMessage] = []
        for case .received(let bytes) in decoder.handle(frame, now: h.clock.now) {
            if let message = try? CloudMessage.decode(bytes) {
                completed.append(message)
            } else {
                Issue.record("undecodable cloud message on 0x\(String(frame.id, radix: 16)): \(bytes.count) bytes")
            }
        }
        messages += completed
        return completed
    }
}
