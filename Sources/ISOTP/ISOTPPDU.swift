import SpaakCore

/// A received N_PDU after the checks that need no channel state (ISO 15765-2, normal
/// addressing). Offsets point into the frame's data, so nothing is copied.
enum ISOTPPDU: Equatable {
    /// Single frame: `length` payload bytes start at `dataOffset`.
    case single(dataOffset: Int, length: Int)
    /// First frame of a `messageLength`-byte message; RX_DL is the frame's length.
    case first(dataOffset: Int, messageLength: Int)
    /// Consecutive frame with its 4-bit sequence number.
    case consecutive(sequenceNumber: UInt8)
    /// Flow control: FS (raw, may be reserved), BS and raw STmin.
    case flowControl(flowStatus: UInt8, blockSize: UInt8, separationTime: UInt8)

    /// The frame types of the N_PCI high nibble.
    enum PCIType: UInt8 {
        case single = 0, first = 1, consecutive = 2, flowControl = 3

        /// The first N_PCI byte: this type in the high nibble, `low` (SF_DL, the top of
        /// FF_DL, SN or FS, at most 0x0F) in the low one.
        func pci(_ low: UInt8) -> UInt8 { rawValue << 4 | low }
    }

    /// Flow status values of a flow-control frame.
    enum FlowStatus: UInt8 { case continueToSend = 0, wait = 1, overflow = 2 }

    /// Decodes `data`, or `nil` if ISO 15765-2 says the frame is to be ignored: empty,
    /// unknown N_PCI type, SF_DL 0 or beyond the data, escape sequence misuse, a first frame
    /// shorter than 8 bytes or of an invalid FD length, FF_DL that would fit a single frame,
    /// or a flow control shorter than 3 bytes.
    static func parse(_ data: UnsafeBufferPointer<UInt8>) -> ISOTPPDU? {
        let count = data.count
        guard count > 0, let type = PCIType(rawValue: data[0] >> 4) else { return nil }
        let nibble = Int(data[0] & 0x0F)
        switch type {
        case .single:
            if count <= 8 {
                // SF_DL in the low nibble; 0 (escape) is only valid for CAN_DL > 8.
                guard nibble >= 1, nibble <= count - 1 else { return nil }
                return .single(dataOffset: 1, length: nibble)
            }
            // CAN_DL > 8: the escape sequence is mandatory, SF_DL in byte 1.
            let length = Int(data[1])
            guard nibble == 0, length >= 1, length <= count - 2 else { return nil }
            return .single(dataOffset: 2, length: length)
        case .first:
            // A first frame fills its whole frame: 8 bytes or a valid FD length.
            guard count == 8 || CANFrame.fdLengths.contains(count) else { return nil }
            var length = nibble << 8 | Int(data[1])
            var offset = 2
            if length == 0 {
                // 32-bit FF_DL escape.
                length = Int(data[2]) << 24 | Int(data[3]) << 16 | Int(data[4]) << 8 | Int(data[5])
                offset = 6
            }
            // FF_DL must not fit into a single frame of this RX_DL.
            let singleFrameMax = count == 8 ? 7 : count - 2
            guard length > singleFrameMax else { return nil }
            return .first(dataOffset: offset, messageLength: length)
        case .consecutive:
            return .consecutive(sequenceNumber: UInt8(nibble))
        case .flowControl:
            guard count >= 3 else { return nil }
            return .flowControl(flowStatus: UInt8(nibble), blockSize: data[1], separationTime: data[2])
        }
    }
}

/// Builds the frames a channel transmits: identifier, FD flags and padding rules.
struct ISOTPFrameBuilder {
    let id: UInt32
    let isExtended: Bool
    let isFD: Bool
    let bitRateSwitch: Bool
    let padding: UInt8?

    init(_ configuration: ISOTPConfiguration) {
        id = configuration.txID
        isExtended = configuration.extendedIDs
        isFD = configuration.isFD
        if case let .fd(brs) = configuration.frameFormat { bitRateSwitch = brs } else { bitRateSwitch = false }
        padding = configuration.padding
    }

    /// The frame length for `count` meaningful bytes: padded to 8 when padding is on, and
    /// always to a valid CAN FD length above 8.
    func frameLength(for count: Int) -> Int {
        if count <= 8 { return padding == nil ? count : 8 }
        return CANFrame.validLength(atLeast: count) ?? count
    }

    /// A frame made of `header` then `payload[range]`, padded per `frameLength(for:)`.
    func frame(header: [UInt8], payload: [UInt8], range: Range<Int>) -> CANFrame {
        let used = header.count + range.count
        let length = frameLength(for: used)
        let filler = padding ?? 0xCC
        return CANFrame(id: id, count: length, isExtended: isExtended, isFD: isFD, bitRateSwitch: bitRateSwitch) { buffer in
            var i = 0
            for byte in header { buffer[i] = byte; i += 1 }
            payload.withUnsafeBufferPointer { source in
                if let src = source.baseAddress, let dst = buffer.baseAddress, !range.isEmpty {
                    (dst + i).update(from: src + range.lowerBound, count: range.count)
                }
            }
            i += range.count
            while i < length { buffer[i] = filler; i += 1 }
        }
    }

    /// A consecutive frame: the PCI byte then `payload[range]`, padded (the hot path: written
    /// straight into the frame, no allocation).
    func consecutiveFrame(pci: UInt8, payload: [UInt8], range: Range<Int>) -> CANFrame {
        let length = frameLength(for: 1 + range.count)
        let filler = padding ?? 0xCC
        return CANFrame(id: id, count: length, isExtended: isExtended, isFD: isFD, bitRateSwitch: bitRateSwitch) { buffer in
            buffer[0] = pci
            payload.withUnsafeBufferPointer { source in
                if let src = source.baseAddress, let dst = buffer.baseAddress, !range.isEmpty {
                    (dst + 1).update(from: src + range.lowerBound, count: range.count)
                }
            }
            var i = 1 + range.count
            while i < length { buffer[i] = filler; i += 1 }
        }
    }

    /// A flow-control frame: FS, BS, STmin.
    func flowControl(_ status: ISOTPPDU.FlowStatus, blockSize: UInt8, separationTime: UInt8) -> CANFrame {
        frame(header: [ISOTPPDU.PCIType.flowControl.pci(status.rawValue), blockSize, separationTime],
              payload: [], range: 0..<0)
    }
}
