import SpaakCore
@testable import ISOTP

/// Our transmit identifier in the tests (the module's UDS response id).
let txID: UInt32 = 0x7A8
/// Our receive identifier in the tests (the tester's UDS request id).
let rxID: UInt32 = 0x7A0

/// A classic or FD configuration on the test identifiers.
func config(
    fd: Bool = false, padding: UInt8? = 0xCC, blockSize: UInt8 = 0, separationTime: UInt8 = 0,
    maxWaitFrames: Int = 10, maxMessageLength: Int? = nil, singleFrameOnly: Bool = false
) -> ISOTPConfiguration {
    ISOTPConfiguration(
        txID: txID, rxID: rxID, frameFormat: fd ? .fd(bitRateSwitch: true) : .classic,
        padding: padding, blockSize: blockSize, separationTime: separationTime,
        maxWaitFrames: maxWaitFrames, maxMessageLength: maxMessageLength, singleFrameOnly: singleFrameOnly)
}

/// A frame from the peer on `rxID`.
func peer(_ bytes: [UInt8], id: UInt32 = rxID, fd: Bool = false) -> CANFrame {
    CANFrame(id: id, data: bytes, isFD: fd)
}

/// A flow control from the peer.
func fc(_ status: UInt8, bs: UInt8 = 0, st: UInt8 = 0) -> CANFrame { peer([0x30 | status, bs, st]) }

/// Deterministic test payload.
func payload(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ ($0 >> 8)) }
}

/// `ms` milliseconds after the origin.
func t(_ ms: UInt64) -> Instant { .milliseconds(ms) }

/// Padding of `bytes` to `length` with 0xCC.
func padded(_ bytes: [UInt8], to length: Int = 8, with byte: UInt8 = 0xCC) -> [UInt8] {
    bytes + [UInt8](repeating: byte, count: max(0, length - bytes.count))
}

extension Array where Element == ISOTPOutput {
    /// The transmitted frames.
    var frames: [CANFrame] { compactMap { if case let .transmit(f) = $0 { return f } else { return nil } } }
    /// The payloads of the transmitted frames.
    var sent: [[UInt8]] { frames.map(\.data) }
    /// The received messages.
    var received: [[UInt8]] { compactMap { if case let .received(m) = $0 { return m } else { return nil } } }
    /// The reported errors.
    var errors: [ISOTPError] { compactMap { if case let .failed(e) = $0 { return e } else { return nil } } }
    /// Whether a transmission completed.
    var completed: Bool { contains(.transmitCompleted) }
}

/// Two channels wired back to back on a virtual bus, driven by a virtual clock: frames go
/// across at once, and when the bus is quiet the clock jumps to the next deadline.
struct Link {
    var a: ISOTPChannel
    var b: ISOTPChannel
    let clock = VirtualClock()
    /// Everything each side reported, in order (frames excluded).
    var eventsA: [ISOTPOutput] = []
    var eventsB: [ISOTPOutput] = []
    /// Every frame that crossed the bus, in order, with its sender ("a" or "b") and time.
    var trace: [(from: String, frame: CANFrame, at: Instant)] = []

    init(a: ISOTPConfiguration, b: ISOTPConfiguration) {
        self.a = ISOTPChannel(configuration: a)
        self.b = ISOTPChannel(configuration: b)
    }

    /// Delivers `outputs` of side `fromA` (and the answers they cause) until the bus is quiet.
    mutating func deliver(_ outputs: [ISOTPOutput], fromA: Bool) {
        var queue: [(Bool, ISOTPOutput)] = outputs.map { (fromA, $0) }
        var index = 0
        while index < queue.count {
            let (sourceIsA, output) = queue[index]
            index += 1
            guard case let .transmit(frame) = output else {
                if sourceIsA { eventsA.append(output) } else { eventsB.append(output) }
                continue
            }
            trace.append((sourceIsA ? "a" : "b", frame, clock.now))
            // The frame is on the bus at once: the sender gets its transmit confirmation.
            if sourceIsA { a.transmissionConfirmed(now: clock.now) } else { b.transmissionConfirmed(now: clock.now) }
            let answers = sourceIsA ? b.handle(frame, now: clock.now) : a.handle(frame, now: clock.now)
            queue.append(contentsOf: answers.map { (!sourceIsA, $0) })
        }
    }

    /// Runs timers until neither side has a deadline, or `limit` is reached.
    mutating func run(until limit: Instant = .milliseconds(600_000)) {
        while let next = a.nextDeadline.earliest(b.nextDeadline), next <= limit {
            clock.advance(to: next)
            let fromA = a.handleTimeout(now: clock.now)
            deliver(fromA, fromA: true)
            let fromB = b.handleTimeout(now: clock.now)
            deliver(fromB, fromA: false)
        }
    }
}

/// The configuration of the peer of `configuration` (identifiers swapped).
func mirrored(_ configuration: ISOTPConfiguration) -> ISOTPConfiguration {
    var other = configuration
    other.txID = configuration.rxID
    other.rxID = configuration.txID
    return other
}
