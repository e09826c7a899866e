import ISOTP
import SpaakCore

/// ISO-TP: the first byte chooses the configuration (classic/FD, padding, block size,
/// single-frame only, a small maximum length); then each operation is a received frame
/// (most), a time step, a send or a transmit confirmation.
///
/// Invariants: a received message is never longer than the configured maximum; every frame
/// the channel asks to transmit is a valid CAN (FD) frame on the transmit identifier.
enum ISOTPFuzz {
    static func run(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let flags = input.byte()
        let fd = flags & 0x01 != 0
        let configuration = ISOTPConfiguration(
            txID: 0x7A8, rxID: 0x7A0, frameFormat: fd ? .fd(bitRateSwitch: flags & 0x40 != 0) : .classic,
            padding: flags & 0x02 != 0 ? 0xCC : nil, blockSize: (flags >> 4) & 0x03,
            separationTime: flags & 0x80 != 0 ? 0xF3 : 0,
            maxMessageLength: flags & 0x08 != 0 ? 100 : nil, singleFrameOnly: flags & 0x04 != 0)
        var channel = ISOTPChannel(configuration: configuration)
        var now = Instant.milliseconds(1_000)
        var steps = 0
        while !input.isEmpty, steps < 512 {
            steps += 1
            let op = input.byte()
            var outputs: [ISOTPOutput] = []
            switch op & 0x0F {
            case 0x0:
                now = now + .milliseconds(Int64(input.byte()) * 10)
                outputs = channel.handleTimeout(now: now)
            case 0x1:
                outputs = channel.send(input.bytes(Int(input.uint16() & 0x1FFF)), now: now)
            case 0x2:
                channel.transmissionConfirmed(now: now)
            default:
                let length = Int(op >> 4) < 9 ? Int(op >> 4) : [12, 16, 20, 24, 32, 48, 64][Int(op >> 4) - 9]
                let frame = CANFrame(id: 0x7A0, data: input.bytes(length), isFD: fd)
                outputs = channel.handle(frame, now: now)
            }
            check(outputs, configuration)
        }
    }

    static func check(_ outputs: [ISOTPOutput], _ configuration: ISOTPConfiguration) {
        for output in outputs {
            switch output {
            case .received(let message):
                precondition(message.count <= configuration.effectiveMaxMessageLength, "ISO-TP message over the maximum")
            case .transmit(let frame):
                precondition(frame.isValid && frame.id == configuration.txID, "ISO-TP transmits an invalid frame \(frame)")
                precondition(frame.data.count <= configuration.txDataLength, "ISO-TP frame longer than TX_DL")
            default:
                break
            }
        }
    }
}
