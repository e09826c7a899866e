import Testing
import SpaakCore
@testable import ISOTP

@Suite struct RoundTripTests {
    @Test func classic4095BytesBetweenTwoChannels() {
        var link = Link(a: config(), b: mirrored(config()))
        let data = payload(4095)
        link.deliver(link.a.send(data, now: link.clock.now), fromA: true)
        link.run()
        #expect(link.eventsB == [.received(data)])
        #expect(link.eventsA == [.transmitCompleted])
        #expect(link.trace.count == 1 + 1 + 585) // FF, FC, CFs
        #expect(link.trace.allSatisfy { $0.frame.data.count == 8 && !$0.frame.isFD })
        #expect(link.trace.filter { $0.from == "b" }.map(\.frame.data) == [padded([0x30, 0, 0])])
        #expect(link.trace[0].frame.data == [0x1F, 0xFF] + data[0..<6])
    }

    @Test func blockSizeAndSTminRespectedEndToEnd() {
        // The receiver asks for BS 4, STmin 10 ms; the sender must honour both.
        var link = Link(a: config(), b: mirrored(config(blockSize: 4, separationTime: 10)))
        let data = payload(300)
        link.deliver(link.a.send(data, now: link.clock.now), fromA: true)
        link.run()
        #expect(link.eventsB == [.received(data)])
        let cfTimes = link.trace.filter { $0.from == "a" && $0.frame.data[0] >> 4 == 2 }.map(\.at)
        #expect(cfTimes.count == 42)
        for (earlier, later) in zip(cfTimes, cfTimes.dropFirst()) {
            #expect(later - earlier >= .milliseconds(10))
        }
        let flowControls = link.trace.filter { $0.from == "b" }.count
        #expect(flowControls == 1 + 41 / 4) // after the FF, then after every full block before the end
        #expect(link.clock.now == .milliseconds(410))
    }

    @Test func fd5000BytesBetweenTwoChannels() {
        var link = Link(a: config(fd: true), b: mirrored(config(fd: true)))
        let data = payload(5000, seed: 9)
        link.deliver(link.a.send(data, now: link.clock.now), fromA: true)
        link.run()
        #expect(link.eventsB == [.received(data)])
        #expect(link.eventsA == [.transmitCompleted])
        #expect(link.trace[0].frame.data.count == 64)
        #expect(link.trace.allSatisfy { $0.frame.isFD && $0.frame.isValid })
        #expect(link.trace.count == 1 + 1 + 79)
    }

    @Test func fdSenderToClassicSizedMessages() {
        // Every message length around frame boundaries survives the round trip.
        for fd in [false, true] {
            for length in [1, 6, 7, 8, 9, 61, 62, 63, 64, 65, 124, 125, 126, 137, 189, 2048, 4095, 4096] {
                if !fd && length > 4095 { continue }
                var link = Link(a: config(fd: fd, padding: nil), b: mirrored(config(fd: fd, padding: nil)))
                let data = payload(length, seed: UInt8(length & 0xFF))
                link.deliver(link.a.send(data, now: link.clock.now), fromA: true)
                link.run()
                #expect(link.eventsB == [.received(data)], "fd \(fd) length \(length)")
                #expect(link.trace.allSatisfy { $0.frame.isValid }, "fd \(fd) length \(length)")
            }
        }
    }

    @Test func fullDuplexReceiveWhileTransmitting() {
        var link = Link(a: config(blockSize: 3, separationTime: 2), b: mirrored(config(blockSize: 2, separationTime: 1)))
        let fromA = payload(200, seed: 1)
        let fromB = payload(150, seed: 2)
        // A starts, B answers with FC; then B starts its own message in the middle.
        link.deliver(link.a.send(fromA, now: link.clock.now), fromA: true)
        #expect(link.a.isTransmitting)
        link.deliver(link.b.send(fromB, now: link.clock.now), fromA: false)
        #expect(link.a.isTransmitting && link.a.isReceiving)
        #expect(link.b.isTransmitting && link.b.isReceiving)
        link.run()
        #expect(link.eventsA.received == [fromB])
        #expect(link.eventsB.received == [fromA])
        #expect(link.eventsA.completed && link.eventsB.completed)
        #expect(link.eventsA.errors.isEmpty && link.eventsB.errors.isEmpty)
    }

    @Test func randomFramesNeverCrashOrEmitGarbage() {
        var generator = SplitMix64(seed: 0x5EED)
        for fd in [false, true] {
            var channel = ISOTPChannel(configuration: config(fd: fd, blockSize: 3, maxMessageLength: 2000))
            var now = Instant.zero
            for step in 0..<20_000 {
                now = now + .microseconds(Int64(generator.next() % 5_000))
                let length = fd ? [0, 1, 2, 3, 5, 8, 12, 20, 32, 64][Int(generator.next() % 10)] : Int(generator.next() % 9)
                var data = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                // Bias towards valid N_PCI types so that the state machines get exercised.
                if length > 0 { data[0] = data[0] & 0x3F }
                let id: UInt32 = generator.next() % 8 == 0 ? 0x123 : rxID
                var outputs = channel.handle(CANFrame(id: id, data: data, isFD: fd && generator.next() % 2 == 0), now: now)
                if step % 50 == 0 { outputs += channel.send(payload(Int(generator.next() % 300) + 1), now: now) }
                if let deadline = channel.nextDeadline, deadline <= now { outputs += channel.handleTimeout(now: now) }
                for output in outputs {
                    switch output {
                    case let .transmit(frame):
                        #expect(frame.id == txID && frame.isFD == fd && frame.isValid)
                        #expect(fd || frame.data.count == 8)
                        #expect(frame.data.first.map { $0 >> 4 <= 3 } == true)
                    case let .received(message):
                        #expect(!message.isEmpty && message.count <= 2000)
                    case .transmitCompleted, .failed:
                        break
                    }
                }
                if let deadline = channel.nextDeadline { #expect(deadline > now) }
            }
            #expect(channel.counters.framesReceived > 10_000)
            #expect(channel.counters.messagesReceived > 0)
        }
    }
}
