import CloudSimulator
import GSDP
import ISOTP
import SpaakCore
import Testing

@Suite("TBM relay: TBM_Status follows the GSDP link, V2C/C2V relayed, C2V acked")
struct TBMRelayTests {
    let urls = ["ws://127.0.0.1:7001/gsdp/v1/spaak", "ws://127.0.0.1:7002/gsdp/v1/spaak"]
    let welcome = GSDPControlMessage.welcome(GSDPWelcome(instance: "vos-1")).text

    func makeRelay(_ clock: VirtualClock) -> TBMRelay {
        let link = GSDPLinkMachine(urls: urls, firstIndex: 0, hello: GSDPHello(tbm: "tbm-vcan1", serials: ["SPK0000000001"]),
                                   backoff: GSDPBackoff(random: SplitMix64(seed: 5)), now: clock.now)
        return TBMRelay(tbm: TBMSimulator(now: clock.now), link: link, now: clock.now)
    }

    /// Byte 2 of the `TBM_Status` frames among the actions (bit 0 GsdpConnected, bit 1 SpaakTopicSubscribed).
    func statusBits(_ step: TBMRelay.Step) -> [UInt8] {
        step.frames.filter { $0.id == 0x3A0 }.map { $0.data[2] }
    }

    /// Advances to the next TBM_Status (100 ms) and returns its bits.
    func nextStatus(_ relay: inout TBMRelay, _ clock: VirtualClock) -> [UInt8] {
        clock.advance(by: .milliseconds(100))
        return statusBits(relay.handleTimeout(now: clock.now))
    }

    func texts(_ step: TBMRelay.Step) -> [String] {
        step.actions.compactMap { if case .sendText(let text) = $0 { text } else { nil } }
    }

    func binaries(_ step: TBMRelay.Step) -> [[UInt8]] {
        step.actions.compactMap { if case .sendBinary(let bytes) = $0 { bytes } else { nil } }
    }

    /// Connects and welcomes the relay.
    func subscribe(_ relay: inout TBMRelay, _ clock: VirtualClock) {
        _ = relay.handleTimeout(now: clock.now)
        _ = relay.linkConnected(now: clock.now)
        _ = relay.linkReceived(text: welcome, now: clock.now)
    }

    @Test("offline before the VOS answers, bit 0 with the WebSocket, bits 0+1 after the welcome, offline after a close")
    func statusFollowsTheLink() {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        let first = relay.handleTimeout(now: clock.now)
        #expect(first.actions.contains(.connect(urls[0])))
        #expect(statusBits(first) == [0x00])
        #expect(nextStatus(&relay, clock) == [0x00])

        let up = relay.linkConnected(now: clock.now)
        #expect(texts(up) == [GSDPControlMessage.hello(GSDPHello(tbm: "tbm-vcan1", serials: ["SPK0000000001"])).text])
        #expect(relay.linkState == .unsubscribed)
        #expect(nextStatus(&relay, clock) == [0x01])

        let welcomed = relay.linkReceived(text: welcome, now: clock.now)
        #expect(welcomed.events.contains { $0.detail == "connected to vos-1 at \(urls[0])" })
        #expect(relay.linkState == .online)
        #expect(nextStatus(&relay, clock) == [0x03])

        let closed = relay.linkClosed(reason: "closed by the server (goingAway)", now: clock.now)
        #expect(relay.linkState == .offline)
        let line = closed.events.compactMap(\.detail).first { $0.hasPrefix("disconnected from vos-1: closed by the server (goingAway); next attempt in ") }
        #expect(line != nil)
        #expect(nextStatus(&relay, clock) == [0x00], "the module sees offline at the next TBM_Status")
    }

    @Test("after a close the next URL is tried after the back-off (0.4-0.6 s), then 0.8-1.2 s")
    func reconnectionTiming() {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        subscribe(&relay, clock)
        let closedAt = clock.now
        _ = relay.linkClosed(reason: "gone", now: clock.now)
        var attemptAt: Instant?
        var attemptURL: String?
        while attemptAt == nil, clock.now < closedAt + .seconds(2) {
            clock.advance(to: relay.nextDeadline!)
            for case .connect(let url) in relay.handleTimeout(now: clock.now).actions {
                attemptAt = clock.now
                attemptURL = url
            }
        }
        #expect(attemptURL == urls[1])
        let delay = (attemptAt! - closedAt).milliseconds
        #expect(delay >= 400 && delay <= 600)

        // Refused again (no welcome in between): the delay doubles.
        let refusedAt = clock.now
        _ = relay.linkClosed(reason: "connection refused", now: clock.now)
        attemptAt = nil
        while attemptAt == nil, clock.now < refusedAt + .seconds(3) {
            clock.advance(to: relay.nextDeadline!)
            for case .connect(let url) in relay.handleTimeout(now: clock.now).actions {
                attemptAt = clock.now
                attemptURL = url
            }
        }
        #expect(attemptURL == urls[0])
        let second = (attemptAt! - refusedAt).milliseconds
        #expect(second >= 800 && second <= 1200)
    }

    @Test("a V2C message is relayed unchanged only while subscribed")
    func v2cOnlyWhenSubscribed() {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        var module = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6A0, rxID: 0x6A8))
        let message: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05]

        _ = relay.handleTimeout(now: clock.now)
        _ = relay.linkConnected(now: clock.now)
        var step = TBMRelay.Step()
        for frame in isotpFrames(module.send(message, now: clock.now)) { step = relay.handle(frame, now: clock.now) }
        #expect(binaries(step).isEmpty)
        #expect(relay.counts.v2cDiscarded == 1)
        _ = module.transmissionConfirmed(now: clock.now)

        _ = relay.linkReceived(text: welcome, now: clock.now)
        clock.advance(by: .milliseconds(10))
        for frame in isotpFrames(module.send(message, now: clock.now)) { step = relay.handle(frame, now: clock.now) }
        #expect(binaries(step) == [message])
        #expect(relay.counts.v2cRelayed == 1)
    }

    @Test("a C2V message from the VOS goes on 0x6A8 (ISO-TP, flow control honoured) and is acked delivered with its SHA-256")
    func c2vDeliveredAndAcked() {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        subscribe(&relay, clock)
        var module = ISOTPChannel(configuration: ISOTPConfiguration(txID: 0x6A0, rxID: 0x6A8))
        let message = (0..<40).map { UInt8($0) }

        var toModule = relay.linkReceived(binary: message, now: clock.now).frames.filter { $0.id == 0x6A8 }
        var acks: [String] = []
        var received: [[UInt8]] = []
        var rounds = 0
        while !toModule.isEmpty, rounds < 50 {
            rounds += 1
            relay.framesTransmitted(now: clock.now)
            let frames = toModule
            toModule = []
            for frame in frames {
                for output in module.handle(frame, now: clock.now) {
                    switch output {
                    case .transmit(let fc):
                        let step = relay.handle(fc, now: clock.now)
                        toModule += step.frames.filter { $0.id == 0x6A8 }
                        acks += texts(step)
                    case .received(let bytes): received.append(bytes)
                    default: break
                    }
                }
            }
            _ = module.transmissionConfirmed(now: clock.now)
            clock.advance(by: .milliseconds(1))
            let step = relay.handleTimeout(now: clock.now)
            toModule += step.frames.filter { $0.id == 0x6A8 }
            acks += texts(step)
        }
        relay.framesTransmitted(now: clock.now)
        acks += texts(relay.handleTimeout(now: clock.now))
        #expect(received == [message])
        #expect(acks == [GSDPControlMessage.c2vAck(GSDPC2VAck(sha256: GSDP.sha256Hex(message), outcome: .delivered)).text])
        #expect(relay.counts.c2vDelivered == 1)
    }

    @Test("a C2V message that cannot go out is acked not-sent with the reason")
    func c2vNotSent() throws {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        _ = relay.handleTimeout(now: clock.now)
        _ = relay.linkConnected(now: clock.now)  // no welcome: unsubscribed
        let step = relay.linkReceived(binary: [0x0A, 0x01], now: clock.now)
        #expect(step.frames.filter { $0.id == 0x6A8 }.isEmpty)
        let ack = try GSDPControlMessage.decode(try #require(texts(step).first))
        #expect(ack == .c2vAck(GSDPC2VAck(sha256: GSDP.sha256Hex([0x0A, 0x01]), outcome: .notSent(reason: "TBM unsubscribed"))))
        #expect(relay.counts.c2vNotSent == 1)
    }

    @Test("a manual override shows its state and closes the link until tbm online, which reconnects at once")
    func manualOverride() {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        subscribe(&relay, clock)
        let silent = relay.setOverride(.silent, now: clock.now)
        #expect(silent.actions.contains(.close("tbm silent")))
        #expect(relay.linkState == .silent)
        clock.advance(by: .seconds(30))
        #expect(relay.handleTimeout(now: clock.now).actions.isEmpty, "no TBM_Status, no attempt")

        let unsubscribed = relay.setOverride(.unsubscribed, now: clock.now)
        #expect(!unsubscribed.actions.contains { if case .connect = $0 { true } else { false } })
        #expect(nextStatus(&relay, clock) == [0x01])

        let online = relay.setOverride(.online, now: clock.now)
        #expect(online.actions.contains(.connect(urls[0])))
        #expect(relay.linkState == .offline, "follows the link again: offline until the welcome")
        _ = relay.linkConnected(now: clock.now)
        _ = relay.linkReceived(text: welcome, now: clock.now)
        #expect(relay.linkState == .online)
        #expect(relay.statusLine.hasPrefix("link online; state subscribed; instance vos-1; url \(urls[0]);"))
    }

    @Test("text that is no welcome is logged and changes nothing")
    func junkText() {
        let clock = VirtualClock()
        var relay = makeRelay(clock)
        _ = relay.handleTimeout(now: clock.now)
        _ = relay.linkConnected(now: clock.now)
        let step = relay.linkReceived(text: "{\"welcome\":{}}", now: clock.now)
        #expect(step.actions.isEmpty)
        #expect(step.events.first?.outcome == .refused)
        #expect(relay.linkState == .unsubscribed)
    }
}
