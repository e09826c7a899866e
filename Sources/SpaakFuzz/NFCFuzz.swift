import E2E
import SpaakCore

/// `NFC_Status` and `HU_Request` reception (ICD 8.1): each operation is a time step, a frame
/// protected with a chosen counter (0…15) and signal byte on 0x3B0 or 0x3C0 (so that valid
/// frames are common), or a raw frame of 0…15 bytes on 0x3B0, 0x3C0, 0x3A0 or an extended id.
/// Every frame goes to both receivers.
///
/// Invariants of `NFCStatusSupervisor`: start and end alternate and match `inSession`; a
/// session starts only on a valid frame with `DevicePresent` and `ReaderReady`, ends by removal
/// only on a valid frame without `DevicePresent`, and by timeout only `timeout` after the last
/// valid frame; after a session ended the device must have left (a valid frame without
/// `DevicePresent`, or `timeout` of silence) before the next one starts; each frame is counted
/// at most once; nothing happens before `nextDeadline`.
/// `HURequestReceiver` is checked against the rule of ICD 8.1 written out here: a frame passes
/// when it is 8 bytes on the standard id with a correct CRC, a counter ≤ 14 and not the
/// counter of the previous frame that passed; a passing frame with byte 2 = 0x01 is a request.
enum NFCFuzz {
    static let nfcID = NFCStatusEncoder.defaultCANID
    static let huID = HURequest.defaultCANID

    static func run(_ bytes: [UInt8]) {
        var input = FuzzReader(bytes)
        let clock = VirtualClock(start: .milliseconds(5_000))
        var nfc = NFCStatusSupervisor()
        var hu = HURequestReceiver()
        var model = Model(timeout: nfc.timeout)
        var huPrevious: UInt8?
        var steps = 0
        while !input.isEmpty, steps < 256 {
            steps += 1
            let op = input.byte()
            let frame: CANFrame
            switch op {
            case 0x00...0x1F:
                let step = Duration.milliseconds(Int64(op) * 60 + Int64(input.byte()))
                if let deadline = nfc.nextDeadline, clock.now + step >= deadline, deadline > clock.now {
                    precondition(nfc.handleTimeout(now: deadline + .milliseconds(-1)).isEmpty, "NFC_Status acted before its deadline")
                }
                clock.advance(by: step)
                model.apply(nfc.handleTimeout(now: clock.now), frame: nil, counters: nfc.counters, now: clock.now, inSession: nfc.inSession)
                continue
            case 0x20...0x5F:
                frame = CANFrame(id: nfcID, data: protected(nfcID, counter: op & 0x0F, signal: input.byte()))
            case 0x60...0x7F:
                frame = CANFrame(id: huID, data: protected(huID, counter: op & 0x0F, signal: input.byte()))
            default:
                let ids: [(UInt32, Bool)] = [(nfcID, false), (huID, false), (0x3A0, false), (nfcID, true)]
                let (id, extended) = ids[Int(op & 0x03)]
                frame = CANFrame(id: id, data: input.bytes(Int(op >> 2 & 0x0F)), isExtended: extended)
            }
            let before = nfc.counters
            model.apply(nfc.receive(frame, now: clock.now), frame: frame, counters: nfc.counters, now: clock.now,
                        inSession: nfc.inSession)
            precondition(total(nfc.counters) - total(before) <= 1, "one NFC_Status frame counted twice")

            let huBefore = hu.counters
            let request = hu.receive(frame)
            let passes = frame.id == huID && !frame.isExtended && frame.data.count == 8
                && frame.data[0] == E2EProfile.crc(dataID: UInt16(huID), data: frame.data)
                && frame.data[1] & 0x0F <= E2EProfile.maxCounter && frame.data[1] & 0x0F != huPrevious
            if passes { huPrevious = frame.data[1] & 0x0F }
            let expected: HURequest? = passes && frame.data[2] == HURequest.startOwnerPairing.rawValue ? .startOwnerPairing : nil
            precondition(request == expected, "HU_Request \(frame): \(String(describing: request)), the rule says \(String(describing: expected))")
            precondition(hu.counters.accepted - huBefore.accepted == (request == nil ? 0 : 1), "HU_Request accepted count")
        }
    }

    /// 8 bytes with a correct CRC, counter `counter` (15 included) and byte 2 = `signal`.
    static func protected(_ id: UInt32, counter: UInt8, signal: UInt8) -> [UInt8] {
        var data: [UInt8] = [0, counter, signal, 0, 0, 0, 0, 0]
        data[0] = E2EProfile.crc(dataID: UInt16(id), data: data)
        return data
    }

    static func total(_ c: NFCStatusSupervisor.Counters) -> Int {
        c.valid + c.discardedCRC + c.discardedLength + c.discardedInvalidCounter + c.repeated
    }

    /// What the session transitions must respect, from the outside.
    struct Model {
        let timeout: Duration
        var inSession = false
        var lastValid: Instant?
        var validCount = 0
        /// The device left (or went silent) since the last session.
        var leftSinceSession = true

        mutating func apply(_ transitions: [NFCStatusSupervisor.Transition], frame: CANFrame?,
                            counters: NFCStatusSupervisor.Counters, now: Instant, inSession after: Bool) {
            if let last = lastValid, now - last >= timeout { leftSinceSession = true }
            let valid = counters.valid > validCount
            validCount = counters.valid
            let signal = valid ? frame?.data[2] : nil
            for transition in transitions {
                switch transition {
                case .sessionStarted:
                    precondition(!inSession, "a session started inside a session")
                    precondition(leftSinceSession, "a session started although the device never left")
                    precondition(signal.map { $0 & 0x03 == 0x03 } == true, "a session started without a valid tapped frame")
                    inSession = true
                    leftSinceSession = false
                case .sessionEnded(.deviceRemoved):
                    precondition(inSession, "a session ended outside a session")
                    precondition(signal.map { $0 & 0x01 == 0 } == true, "removal without a valid frame without DevicePresent")
                    inSession = false
                case .sessionEnded(.timeout):
                    precondition(inSession, "a session timed out outside a session")
                    precondition(lastValid.map { now - $0 >= timeout } == true, "a session timed out early")
                    inSession = false
                }
            }
            if let signal, signal & 0x01 == 0 { leftSinceSession = true }
            if valid {
                precondition(frame != nil, "a valid frame counted without a frame")
                lastValid = now
            }
            precondition(inSession == after, "the transitions do not match inSession")
        }
    }
}
